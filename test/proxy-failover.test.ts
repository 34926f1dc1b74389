/**
 * What a client gets from the shipped nginx configs when a Pollster host
 * dies: a poll held on it is answered with Pollster's JSON error shape, 503
 * and Retry-After — never nginx's HTML 502 page — and, behind
 * deploy/nginx-hosts.conf, its next poll is served by the host that is left.
 * Pollster's own answers (its 503 "Server busy") pass through unchanged; a
 * body over 64 KiB gets Pollster's 413 from nginx.
 */
import { join } from 'node:path';
import { Agent } from 'undici';
import { describe, expect, it, onTestFinished } from 'vitest';
import { hostsConfig, nginxConfig, startNginx } from './helpers/nginx.js';
import { freePort } from './helpers/pg-cluster.js';
import { spawnServer, type ServerProcess } from './helpers/process.js';
import { call, eventually, tempDir, type Reply } from './helpers/server.js';

/** nginx's answer when no Pollster could answer. */
function expectUpstreamDown(reply: Reply): void {
  expect({ status: reply.status, body: reply.text }).toEqual({ status: 503, body: '{"errors":["Upstream unavailable"]}' });
  expect(reply.headers['content-type']).toBe('application/json');
  expect(reply.headers['retry-after']).toBe('2');
}

/** An agent with connections of its own, so nginx sees a client of its own. */
function client(connections = 8): Agent {
  const agent = new Agent({ connections });
  onTestFinished(() => agent.close());
  return agent;
}

/** A poll on the public wall 1 that waits for the next message. */
async function anonymousPoll(agent: Agent, url: string): Promise<Reply> {
  const walls = (await call(agent, url, 'GET', '/walls')).json.walls;
  const after = walls.find((w: { id: number }) => w.id === 1).latest_message_id;
  return call(agent, url, 'POST', '/poll', { body: { last_post_id: { 1: after }, timeout_ms: 20_000 }, timeoutMs: 25_000 });
}

/** A reply, and whether it has come yet. */
function track(reply: Promise<Reply>): { reply: Promise<Reply>; settled: () => boolean } {
  let done = false;
  void reply.then(
    () => (done = true),
    () => (done = true),
  );
  return { reply, settled: () => done };
}

/** Pollster's own 503 and nginx's 413, both as Pollster words them. */
async function ownAnswersPassThrough(url: string, lanes: () => Promise<number>, laneCount: number): Promise<void> {
  // Fill every host's /hello lane (one thread, no queue), then one more.
  const jobs = Array.from({ length: laneCount }, () => call(client(1), url, 'GET', '/hello?ms=3000', { timeoutMs: 10_000 }));
  await eventually(async () => (await lanes()) === laneCount, 5000);
  const busy = await call(client(), url, 'GET', '/hello?ms=3000');
  expect({ status: busy.status, body: busy.text }).toEqual({ status: 503, body: '{"errors":["Server busy"]}' });
  expect(busy.headers['retry-after']).toBe('1');
  expect(busy.headers['access-control-allow-origin']).toBe('*'); // Pollster's answer, not nginx's
  for (const job of await Promise.all(jobs)) expect(job.text).toBe('Hello!\n');

  const tooLarge = await call(client(), url, 'POST', '/poll', {
    rawBody: `{"pad":"${'x'.repeat(70 * 1024)}"}`,
    headers: { 'content-type': 'application/json' },
  });
  expect({ status: tooLarge.status, body: tooLarge.text }).toEqual({ status: 413, body: '{"errors":["Body too large"]}' });
  expect(tooLarge.headers['content-type']).toBe('application/json');
  expect(tooLarge.headers.connection).toBe('close');
}

describe('deploy/nginx.conf', () => {
  /** Pollster on a unix socket, as its own process (so it can be killed), behind nginx. */
  async function start(env: Record<string, string> = {}) {
    const dir = tempDir();
    const socket = join(dir, 'pollster.sock');
    const hostEnv = { SOCKET: socket, DB_PATH: join(dir, 'pollster.db'), ...env };
    const host = await spawnServer(hostEnv);
    const port = await freePort();
    const url = `http://127.0.0.1:${port}`;
    await startNginx(nginxConfig(dir, socket, port), dir, url, client());
    const direct = new Agent({ connect: { socketPath: socket } });
    onTestFinished(() => direct.close());
    const stats = async () => (await call(direct, 'http://pollster', 'GET', '/stats')).json;
    return { host, hostEnv, url, stats };
  }

  it('a killed Pollster: the held poll and every request after it get a JSON 503 with Retry-After; restarted, it serves again', async () => {
    const { host, hostEnv, url, stats } = await start();
    const held = anonymousPoll(client(), url);
    await eventually(async () => (await stats()).waiting_polls === 1);

    host.child.kill('SIGKILL');
    await host.exited;
    expectUpstreamDown(await held);
    const agent = client();
    expectUpstreamDown(await call(agent, url, 'POST', '/poll', { body: { last_post_id: { 1: 1 } } }));
    expectUpstreamDown(await call(agent, url, 'GET', '/walls'));
    expectUpstreamDown(await call(agent, url, 'GET', '/app.js')); // JSON whatever the path's extension

    // The stale socket is removed at start; nginx needs no reload.
    await spawnServer(hostEnv);
    expect((await call(agent, url, 'GET', '/ping')).json).toEqual({ ack: 'huzzah!' });
  }, 30_000);

  it("Pollster's own 503 passes through unchanged; a body over 64 KiB gets Pollster's 413", async () => {
    const { url, stats } = await start({ HELLO_CONCURRENCY: '1', HELLO_QUEUE: '0' });
    await ownAnswersPassThrough(url, async () => (await stats()).hello_lane.busy, 1);
  }, 30_000);
});

describe('deploy/nginx-hosts.conf', () => {
  /** Two hosts on one SQLite file, behind nginx. */
  async function start(env: Record<string, string> = {}) {
    const dir = tempDir();
    const hostEnv = { DB_PATH: join(dir, 'pollster.db'), ...env };
    const hosts: ServerProcess[] = [];
    // One after the other: the first creates and seeds the database.
    for (let i = 0; i < 2; i++) hosts.push(await spawnServer(hostEnv));
    const port = await freePort();
    const url = `http://127.0.0.1:${port}`;
    await startNginx(
      hostsConfig(
        dir,
        hosts.map((h) => new URL(h.url).host),
        port,
      ),
      dir,
      url,
      client(),
    );
    const direct = client();
    const stats = (host: ServerProcess) => call(direct, host.url, 'GET', '/stats').then((reply) => reply.json);
    return { hosts, url, stats };
  }

  it('one host killed: polls held on it get a JSON 503 with Retry-After, the others wait on; new polls and posts go to the host left', async () => {
    const { hosts, url, stats } = await start();
    const [victim, survivor] = hosts as [ServerProcess, ServerProcess];
    // Each poll from a client of its own: least_conn spreads them over both hosts.
    const polls = Array.from({ length: 6 }, () => track(anonymousPoll(client(1), url)));
    await eventually(async () => {
      const held = await Promise.all(hosts.map(async (h) => (await stats(h)).waiting_polls as number));
      return held.every((n) => n > 0) && held[0]! + held[1]! === polls.length;
    }, 10_000);
    const onVictim: number = (await stats(victim)).waiting_polls;
    const onSurvivor = polls.length - onVictim;

    victim.child.kill('SIGKILL');
    await victim.exited;
    await eventually(() => polls.filter((p) => p.settled()).length === onVictim, 5000);
    for (const poll of polls.filter((p) => p.settled())) expectUpstreamDown(await poll.reply);
    // Those on the survivor were not touched.
    expect((await stats(survivor)).waiting_polls).toBe(onSurvivor);

    // Reconnecting clients and new ones all land on the survivor: none sees an error.
    const again = Array.from({ length: onVictim + 2 }, () => track(anonymousPoll(client(1), url)));
    await eventually(async () => (await stats(survivor)).waiting_polls === onSurvivor + again.length, 5000);
    expect(again.filter((p) => p.settled())).toEqual([]);

    const agent = client();
    const session = (await call(agent, url, 'POST', '/sessions', { body: { user: 'demo' } })).json.session_id;
    const posted = await call(agent, url, 'POST', '/walls/1/messages', { session, body: { content: 'after the kill' } });
    expect(posted.status).toBe(201);
    const waiting = [...polls.filter((p) => !p.settled()), ...again];
    for (const reply of await Promise.all(waiting.map((p) => p.reply))) {
      expect(reply.status).toBe(200);
      expect(reply.json.walls['1'].posts).toEqual([posted.json]);
    }
  }, 40_000);

  it("a host's own 503 passes through unchanged; a body over 64 KiB gets Pollster's 413", async () => {
    const { hosts, url, stats } = await start({ HELLO_CONCURRENCY: '1', HELLO_QUEUE: '0' });
    const busy = async () =>
      (await Promise.all(hosts.map(async (h) => (await stats(h)).hello_lane.busy as number))).reduce((a, b) => a + b, 0);
    await ownAnswersPassThrough(url, busy, hosts.length);
  }, 30_000);
});
