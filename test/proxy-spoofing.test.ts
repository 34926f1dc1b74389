/**
 * The per-address wait cap through the real nginx of each shipped config: a
 * client that sends its own X-Forwarded-For and X-Real-IP — malformed,
 * well-formed, varied on every request — still holds only MAX_WAITS_PER_CLIENT
 * anonymous polls per host; the rest are answered 429. Before the fix,
 * deploy/nginx-hosts.conf passed the client's X-Real-IP on and Pollster
 * believed it whenever X-Forwarded-For held a non-address (`unknown`).
 */
import { join } from 'node:path';
import { Agent } from 'undici';
import { describe, expect, it, onTestFinished } from 'vitest';
import { hostsConfig, nginxConfig, startNginx } from './helpers/nginx.js';
import { freePort } from './helpers/pg-cluster.js';
import { spawnServer, type ServerProcess } from './helpers/process.js';
import { call, eventually, tempDir, type Reply } from './helpers/server.js';

const CAP = 3;
/** Anonymous polls on the public wall: only the address counts. */
const HOST_ENV = { MAX_WAITS_PER_CLIENT: String(CAP), MAX_WAITS_PER_SESSION: '0' };

/** What the attacker sends, one set of headers per poll. */
const SPOOFS: Record<string, string>[] = [
  { 'x-forwarded-for': 'unknown', 'x-real-ip': '10.0.0.1' },
  { 'x-forwarded-for': 'unknown', 'x-real-ip': '10.0.0.2' },
  { 'x-forwarded-for': 'unknown, unknown', 'x-real-ip': '10.0.0.3' },
  { 'x-forwarded-for': '_hidden', 'x-real-ip': '10.0.0.4' },
  { 'x-forwarded-for': '198.51.100.5:443', 'x-real-ip': '10.0.0.5' },
  { 'x-forwarded-for': '', 'x-real-ip': '10.0.0.6' },
  { 'x-forwarded-for': 'for=192.0.2.7', 'x-real-ip': '2001:db8::7' },
  { 'x-forwarded-for': '203.0.113.8' },
  { 'x-forwarded-for': '203.0.113.9, 198.51.100.9' },
  { 'x-forwarded-for': '203.0.113.10, unknown', 'x-real-ip': '10.0.0.10' },
  { 'x-real-ip': '10.0.0.11' },
  { 'x-forwarded-for': '127.0.0.12', 'x-real-ip': '127.0.0.12' },
  { 'x-forwarded-for': 'unknown', 'x-real-ip': '127.0.0.13' },
  { 'x-forwarded-for': '2001:db8::14', 'x-real-ip': '2001:db8::14' },
];

/** An agent whose connections come from `localAddress` (any 127.0.0.0/8 address is this machine). */
function clientAt(localAddress: string): Agent {
  const agent = new Agent({ connections: 32, localAddress });
  onTestFinished(() => agent.close());
  return agent;
}

/** A Pollster process for each entry of `envs`, each with its own SQLite file. */
async function spawnHosts(envs: Record<string, string>[]): Promise<ServerProcess[]> {
  const dir = tempDir();
  return Promise.all(envs.map((env, i) => spawnServer({ DB_PATH: join(dir, `host-${i}.db`), ...HOST_ENV, ...env })));
}

interface Front {
  url: string;
  /** `/stats` of each host, asked directly. */
  stats(): Promise<{ waiting_polls: number; wait_limits: { refused: number } }[]>;
}

/** deploy/nginx.conf in front of one host on a unix socket. */
async function behindNginxConf(env: Record<string, string> = {}): Promise<Front> {
  const dir = tempDir();
  const socket = join(dir, 'pollster.sock');
  const [host] = await spawnHosts([{ ...env, SOCKET: socket }]);
  expect(host!.url).toBe(`unix:${socket}`);
  const port = await freePort();
  const url = `http://127.0.0.1:${port}`;
  const direct = new Agent({ connect: { socketPath: socket } });
  const probe = new Agent();
  onTestFinished(async () => {
    await Promise.all([direct.close(), probe.close()]);
  });
  await startNginx(nginxConfig(dir, socket, port), dir, url, probe);
  return { url, stats: async () => [(await call(direct, 'http://pollster', 'GET', '/stats')).json] };
}

/** deploy/nginx-hosts.conf (or `rewrite` of it) in front of two hosts. */
async function behindHostsConf(env: Record<string, string> = {}, rewrite = (conf: string) => conf): Promise<Front> {
  const dir = tempDir();
  const hosts = await spawnHosts([env, env]);
  const port = await freePort();
  const url = `http://127.0.0.1:${port}`;
  const direct = new Agent();
  onTestFinished(() => direct.close());
  await startNginx(
    rewrite(
      hostsConfig(
        dir,
        hosts.map((h) => new URL(h.url).host),
        port,
      ),
    ),
    dir,
    url,
    direct,
  );
  return { url, stats: () => Promise.all(hosts.map(async (h) => (await call(direct, h.url, 'GET', '/stats')).json)) };
}

/**
 * One client at 127.0.0.2 sends an anonymous poll with each set of SPOOFS at
 * once. Each host holds CAP of them and refuses the rest 429; another client
 * at 127.0.0.3 still has its own share.
 */
async function floodFromOneClient(front: Front, hostCount: number): Promise<void> {
  const attacker = clientAt('127.0.0.2');
  const walls = (await call(attacker, front.url, 'GET', '/walls')).json.walls;
  const after = walls.find((w: { id: number }) => w.id === 1).latest_message_id;
  const body = { last_post_id: { 1: after }, timeout_ms: 4000 };
  const poll = (agent: Agent, headers: Record<string, string>): Promise<Reply> =>
    call(agent, front.url, 'POST', '/poll', { body, headers, timeoutMs: 10_000 });

  const replies = SPOOFS.map((headers) => poll(attacker, headers));
  const held = CAP * hostCount;
  const refused = SPOOFS.length - held;
  // Every poll has arrived once each is either waiting or refused.
  const arrived = async (): Promise<number> => (await front.stats()).reduce((sum, s) => sum + s.waiting_polls + s.wait_limits.refused, 0);
  await eventually(async () => (await arrived()) === SPOOFS.length, 5000);
  for (const stats of await front.stats()) {
    expect(stats.waiting_polls, 'polls one client holds on a host').toBe(CAP);
  }

  // The cap is per address, not a global one: another client still gets to wait.
  const other = poll(clientAt('127.0.0.3'), {});
  await eventually(async () => (await front.stats()).reduce((sum, s) => sum + s.waiting_polls, 0) === held + 1, 5000);

  const statuses = (await Promise.all(replies)).map((reply) => reply.status);
  expect(statuses.filter((status) => status === 429)).toHaveLength(refused);
  expect(statuses.filter((status) => status === 200)).toHaveLength(held);
  expect((await other).status).toBe(200);
}

describe('a client cannot choose its address through the shipped nginx configs', () => {
  it('deploy/nginx.conf (unix socket, TRUST_PROXY=loopback)', async () => {
    await floodFromOneClient(await behindNginxConf(), 1);
  });

  it('deploy/nginx-hosts.conf, the client on a trusted (loopback) address', async () => {
    await floodFromOneClient(await behindHostsConf(), 2);
  });

  it('deploy/nginx-hosts.conf, the client on an untrusted address (TRUST_PROXY names nginx alone)', async () => {
    // nginx reaches the hosts from 127.0.0.1; the client at 127.0.0.2 stands for a remote one.
    await floodFromOneClient(await behindHostsConf({ TRUST_PROXY: '127.0.0.1' }), 2);
  });

  it("a proxy that passes the client's own X-Real-IP and X-Forwarded-For prefix on (the old nginx-hosts.conf) cannot be fooled either", async () => {
    // Pollster alone must hold: the forwarding lines as nginx-hosts.conf had them before this fix.
    const passThrough = (conf: string): string => {
      const rewritten = conf
        .replace(/^ *proxy_set_header X-Real-IP .*\n/m, '')
        .replace(/proxy_set_header X-Forwarded-For .*;/, 'proxy_set_header X-Forwarded-For $proxy_add_x_forwarded_for;');
      expect(rewritten).not.toContain('X-Real-IP $remote_addr');
      expect(rewritten).toContain('X-Forwarded-For $proxy_add_x_forwarded_for;');
      return rewritten;
    };
    await floodFromOneClient(await behindHostsConf({ TRUST_PROXY: '127.0.0.1' }, passThrough), 2);
  });
});
