/**
 * The long-poll suite, run against every way a poll can wait: on a pool
 * thread, multiplexed on a thread, and inline on the main thread; each with
 * both WAKE modes where it applies.
 */
import { describe, expect, it } from 'vitest';
import { eventually, startTestServer as startServer, type TestServer } from './helpers/server.js';
import { postFromCli } from './helpers/cli.js';
import { backends, usePostgres } from './helpers/postgres.js';

const postgres = usePostgres();

const modes: Array<{ name: string; env: Record<string, string>; mainThreadFree: boolean }> = [
  { name: 'pool, notify', env: { POLL_MODE: 'pool', WAKE: 'notify' }, mainThreadFree: true },
  { name: 'pool, sleep', env: { POLL_MODE: 'pool', WAKE: 'sleep', POLL_INTERVAL_MS: '100' }, mainThreadFree: true },
  { name: 'multiplex, notify', env: { POLL_MODE: 'multiplex', WAKE: 'notify' }, mainThreadFree: true },
  { name: 'multiplex, sleep', env: { POLL_MODE: 'multiplex', WAKE: 'sleep', POLL_INTERVAL_MS: '100' }, mainThreadFree: true },
  { name: 'inline, notify', env: { POLL_MODE: 'inline', WAKE: 'notify' }, mainThreadFree: false },
];

async function latestId(server: TestServer, session: string, wallId: number): Promise<number> {
  const walls = await server.call('GET', '/walls', { session });
  return walls.json.walls.find((w: { id: number }) => w.id === wallId).latest_message_id;
}

// POLL_MODE=inline blocks the main thread, where PostgreSQL's answers arrive: SQLite only.
const matrix = backends(postgres).flatMap((backend) =>
  modes
    .filter((mode) => backend.name === 'sqlite' || mode.name.split(',')[0] !== 'inline')
    .map((mode) => ({ ...mode, backend, label: `${mode.name}, ${backend.name}` })),
);

describe.each(matrix)('POST /poll ($label)', ({ env, mainThreadFree, backend }) => {
  const startTestServer = async (extra: Record<string, string>) => startServer({ ...(await backend.env()), ...extra });
  it('answers at once with messages the client has not seen', async () => {
    const server = await startTestServer(env);
    const session = await server.login();
    const reply = await server.call('POST', '/poll', { session, body: { last_post_id: { 1: 0, 2: 0 } } });
    expect(reply.status).toBe(200);
    expect(Object.keys(reply.json.walls).sort()).toEqual(['1', '2']);
    expect(reply.json.walls['1'].posts[0]).toMatchObject({ wall_id: 1, user: 'alice' });
  });

  it('a short poll (timeout_ms 0) answers empty at once', async () => {
    const server = await startTestServer(env);
    const session = await server.login();
    const last = await latestId(server, session, 1);
    const reply = await server.call('POST', '/poll', { session, body: { last_post_id: { 1: last }, timeout_ms: 0 } });
    expect(reply.status).toBe(200);
    expect(reply.json).toEqual({ walls: {} });
    // Answered from the board on the main thread: no task was queued for it.
    expect(server.pollster.stats().pool.completed).toBe(0);
  });

  it('times out empty after timeout_ms', async () => {
    const server = await startTestServer(env);
    const session = await server.login();
    const last = await latestId(server, session, 1);
    const started = Date.now();
    const reply = await server.call('POST', '/poll', { session, body: { last_post_id: { 1: last }, timeout_ms: 300 } });
    expect(reply.json).toEqual({ walls: {} });
    expect(Date.now() - started).toBeGreaterThanOrEqual(290);
  });

  it('is answered by a message written from another process (npm run post)', async () => {
    const server = await startTestServer(env);
    const session = await server.login();
    const last = await latestId(server, session, 3);
    const poll = server.call('POST', '/poll', {
      session,
      body: { last_post_id: { 3: last }, timeout_ms: 15_000 },
      timeoutMs: 20_000,
    });
    if (mainThreadFree) await eventually(() => server.pollster.stats().waiting_polls === 1);
    const cli = await postFromCli(server.database, ['--wall', '3', '--user', 'bob', 'from the console']);
    expect(cli.code).toBe(0);
    const reply = await poll;
    expect(reply.json.walls['3'].posts).toEqual([expect.objectContaining({ content: 'from the console', user: 'bob' })]);
  });

  it('rejects an invalid session and bad parameters with 400', async () => {
    const server = await startTestServer(env);
    const alice = await server.login('alice');
    const cases: Array<[unknown, string | undefined, string]> = [
      [{ last_post_id: { 1: 0 } }, 'nope', 'Invalid user!'],
      [{ last_post_id: { 2: 0 } }, undefined, 'Invalid user!'],
      [{ last_post_id: { 2: 0, 3: 0 } }, alice, 'Invalid parameters!'],
      [{ last_post_id: {} }, alice, 'Invalid parameters!'],
      [{ last_post_id: [1, 2] }, alice, 'Invalid parameters!'],
      [{ last_post_id: { 1: -1 } }, alice, 'Invalid parameters!'],
      [{ last_post_id: { 1: 'x' } }, alice, 'Invalid parameters!'],
      [{ last_post_id: { abc: 1 } }, alice, 'Invalid parameters!'],
      [{ last_post_id: { 1: 1e300 } }, alice, 'Invalid parameters!'],
      [{ last_post_id: { 1: 0 }, timeout_ms: -5 }, alice, 'Invalid parameters!'],
      [{ last_post_id: { 1: 0 }, timeout_ms: 'soon' }, alice, 'Invalid parameters!'],
    ];
    for (const [body, session, error] of cases) {
      const reply = await server.call('POST', '/poll', { body, ...(session ? { session } : {}) });
      expect(reply.status, JSON.stringify(body)).toBe(400);
      expect(reply.json).toEqual({ errors: [error] });
    }
    expect(server.pollster.stats()).toMatchObject({ waiting_polls: 0, pool: { busy: 0 } });
  });

  if (!mainThreadFree) return;

  it("is answered by another client's post", async () => {
    const server = await startTestServer(env);
    const reader = await server.login('bob');
    const writer = await server.login('demo');
    const last = await latestId(server, reader, 2);
    const poll = server.call('POST', '/poll', { session: reader, body: { last_post_id: { 2: last } } });
    await eventually(() => server.pollster.stats().waiting_polls === 1);
    const posted = await server.call('POST', '/walls/2/messages', { session: writer, body: { content: 'wake up' } });
    const reply = await poll;
    expect(reply.json).toEqual({ walls: { 2: { posts: [posted.json] } } });
  });

  it('strips walls the user cannot read and waits on the rest', async () => {
    const server = await startTestServer(env);
    const alice = await server.login('alice');
    const demo = await server.login('demo');
    const last1 = await latestId(server, alice, 1);
    const poll = server.call('POST', '/poll', {
      session: alice,
      body: { last_post_id: { 1: last1, 2: 0, 99: 0 }, timeout_ms: 10_000 },
    });
    await eventually(() => server.pollster.stats().waiting_polls === 1);
    // Wall 2 is not alice's: a post there must not answer her poll.
    await server.call('POST', '/walls/2/messages', { session: demo, body: { content: 'not for alice' } });
    await new Promise((resolve) => setTimeout(resolve, 250));
    expect(server.pollster.stats().waiting_polls).toBe(1);
    await server.call('POST', '/walls/1/messages', { session: demo, body: { content: 'for alice' } });
    const reply = await poll;
    expect(Object.keys(reply.json.walls)).toEqual(['1']);
    expect(reply.json.walls['1'].posts.map((p: { content: string }) => p.content)).toEqual(['for alice']);
  });

  it('frees its thread when the client goes away', async () => {
    const server = await startTestServer({ ...env, MAX_THREADS: '1' });
    const session = await server.login();
    const last = await latestId(server, session, 1);
    const controller = new AbortController();
    const poll = server.call('POST', '/poll', {
      session,
      body: { last_post_id: { 1: last }, timeout_ms: 20_000 },
      signal: controller.signal,
    });
    await eventually(() => server.pollster.stats().waiting_polls === 1);
    controller.abort();
    await expect(poll).rejects.toThrow();
    await eventually(() => {
      const { waiting_polls, pool } = server.pollster.stats();
      return waiting_polls === 0 && pool.busy === 0;
    });
    // The one thread serves the next poll.
    const next = await server.call('POST', '/poll', { session, body: { last_post_id: { 1: 0 }, timeout_ms: 1000 } });
    expect(Object.keys(next.json.walls)).toEqual(['1']);
  });
});
