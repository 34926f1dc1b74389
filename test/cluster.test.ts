/**
 * WEB_CONCURRENCY=2: two processes share the port, each with its own pool. A
 * post in one reaches polls waiting in the other (through the primary's
 * relay, not the 60 s watcher set here), and a process that dies is replaced.
 */
import { join } from 'node:path';
import { Agent } from 'undici';
import { describe, expect, it, onTestFinished } from 'vitest';
import { postFromCli } from './helpers/cli.js';
import { fresh, spreadOverProcesses, statsByPid } from './helpers/cluster.js';
import { spawnServer } from './helpers/process.js';
import { sampleValue } from './helpers/prometheus.js';
import { eventually, tempDir, type Reply } from './helpers/server.js';
import { openStream } from './helpers/sse.js';

/** Open polls one by one until both processes hold at least one. */
async function pollsInBothProcesses(url: string, poll: () => Promise<Reply>): Promise<Array<Promise<Reply>>> {
  const opened = await spreadOverProcesses(
    url,
    async () => ({ reply: poll() }),
    (stats) => stats.waiting_polls,
  );
  return opened.map((o) => o.reply);
}

describe('WEB_CONCURRENCY', () => {
  it('delivers a post to polls waiting in every process through the primary', async () => {
    const dir = tempDir();
    const dbPath = join(dir, 'p.db');
    const server = await spawnServer({
      WEB_CONCURRENCY: '2',
      MAX_THREADS: '4',
      MAX_WAITS_PER_SESSION: '0',
      DB_PATH: dbPath,
      WATCH_INTERVAL_MS: '60000',
    });
    await eventually(() => server.output().split('pollster listening').length - 1 === 2, 15_000);
    const pids = [...(await statsByPid(server.url)).keys()];
    expect(pids).toHaveLength(2);

    const login = (await fresh(server.url, 'POST', '/sessions', { body: { user: 'demo' } })).json;
    const session = login.session_id;
    const after = login.walls.find((w: { id: number }) => w.id === 3).latest_message_id;
    const pollAfter = (id: number) => (): Promise<Reply> =>
      fresh(server.url, 'POST', '/poll', { session, body: { last_post_id: { 3: id }, timeout_ms: 20_000 }, timeoutMs: 25_000 });
    const polls = await pollsInBothProcesses(server.url, pollAfter(after));

    const posted = (await fresh(server.url, 'POST', '/walls/3/messages', { session, body: { content: 'to every process' } })).json;
    const started = Date.now();
    for (const reply of await Promise.all(polls)) expect(reply.json.walls['3'].posts).toEqual([posted]);
    // Well inside the 60 s watcher interval: the relay delivered it.
    expect(Date.now() - started).toBeLessThan(5000);
  }, 90_000);

  it('restarts a process that dies; CLI writes reach every process; the primary exits 0 on SIGTERM', async () => {
    const dir = tempDir();
    const dbPath = join(dir, 'p.db');
    const server = await spawnServer({ WEB_CONCURRENCY: '2', MAX_THREADS: '2', MAX_WAITS_PER_SESSION: '0', DB_PATH: dbPath });
    await eventually(() => server.output().split('pollster listening').length - 1 === 2, 15_000);
    const [victim] = [...(await statsByPid(server.url)).keys()];
    process.kill(victim!, 'SIGKILL');
    await eventually(() => server.output().includes('worker process died'), 10_000);
    await eventually(() => server.output().split('pollster listening').length - 1 === 3, 15_000);
    const pids = [...(await statsByPid(server.url)).keys()];
    expect(pids).toHaveLength(2);
    expect(pids).not.toContain(victim);
    expect((await fresh(server.url, 'GET', '/ping')).json).toEqual({ ack: 'huzzah!' });

    // A CLI write reaches polls in both processes, the restarted one included,
    // through each process's data_version watcher.
    const login = (await fresh(server.url, 'POST', '/sessions', { body: { user: 'bob' } })).json;
    const after = login.walls.find((w: { id: number }) => w.id === 2).latest_message_id;
    const polls = await pollsInBothProcesses(server.url, () =>
      fresh(server.url, 'POST', '/poll', { session: login.session_id, body: { last_post_id: { 2: after } }, timeoutMs: 25_000 }),
    );
    expect((await postFromCli(dbPath, ['--wall', '2', '--user', 'bob', 'from the console'])).code).toBe(0);
    for (const reply of await Promise.all(polls)) {
      expect(reply.json.walls['2'].posts.map((p: { content: string }) => p.content)).toEqual(['from the console']);
    }

    server.child.kill('SIGTERM');
    expect(await server.exited).toBe(0);
  }, 60_000);

  it('sums every process in /metrics (AggregatorRegistry in the primary), and a logout ends streams in every process', async () => {
    const dir = tempDir();
    const server = await spawnServer({
      WEB_CONCURRENCY: '2',
      MIN_THREADS: '2',
      MAX_THREADS: '2',
      MAX_WAITS_PER_SESSION: '0',
      DB_PATH: join(dir, 'p.db'),
      SSE_MAX_MS: '60000',
    });
    await eventually(async () => (await statsByPid(server.url)).size === 2, 15_000);

    const pings = 10;
    for (let i = 0; i < pings; i++) expect((await fresh(server.url, 'GET', '/ping')).status).toBe(200);
    // Whichever process takes the scrape, it shows both processes' figures.
    for (let i = 0; i < 4; i++) {
      const reply = await fresh(server.url, 'GET', '/metrics');
      expect(reply.status).toBe(200);
      expect(sampleValue(reply.text, 'pollster_cluster_processes')).toBe(2);
      expect(sampleValue(reply.text, 'pollster_pool_threads')).toBe(4);
      expect(sampleValue(reply.text, 'pollster_http_requests_total', { route: '/ping', status: '200' })).toBe(pings);
      expect(sampleValue(reply.text, 'process_resident_memory_bytes')).toBeGreaterThan(0);
    }

    // One session, a stream in each process; logging out in one ends both.
    const session = (await fresh(server.url, 'POST', '/sessions', { body: { user: 'demo' } })).json.session_id;
    const streams = await spreadOverProcesses(
      server.url,
      async () => {
        const agent = new Agent({ pipelining: 0 });
        const stream = await openStream(agent, `${server.url}/check?session_id=${session}`);
        onTestFinished(async () => {
          stream.close();
          await agent.close();
        });
        return stream;
      },
      (stats) => stats.open_streams,
    );
    const logout = await fresh(server.url, 'DELETE', '/sessions', { session });
    expect(logout.status).toBe(204);
    const started = Date.now();
    await Promise.all(streams.map((stream) => stream.ended));
    expect(Date.now() - started).toBeLessThan(5000);
    const stats = [...(await statsByPid(server.url)).values()];
    expect(stats.map((s) => s.open_streams)).toEqual([0, 0]);
    expect((await fresh(server.url, 'GET', '/walls', { session })).status).toBe(401);
  }, 60_000);
});
