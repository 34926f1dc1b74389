/**
 * Identical waits (same walls, same cursors) share one pool task.
 * Every request must still get exactly what a task of its own would give it:
 * its own batch, its own timeout, and its wait freed when its client leaves.
 */
import { describe, expect, it, onTestFinished } from 'vitest';
import { backends, usePostgres } from './helpers/postgres.js';
import { eventually, newestOn, startTestServer as startServer, type TestServer } from './helpers/server.js';
import { openStream } from './helpers/sse.js';

const postgres = usePostgres();

const coalescing = (server: TestServer) => server.pollster.stats().pool.coalescing;

/** Nothing held: no request, no task, no shared wait, no rider. */
async function nothingHeld(server: TestServer): Promise<void> {
  await eventually(() => {
    const stats = server.pollster.stats();
    return (
      stats.waiting_polls === 0 &&
      stats.pool.busy === 0 &&
      stats.pool.queued === 0 &&
      stats.pool.coalescing.shared_waits === 0 &&
      stats.pool.coalescing.riders === 0
    );
  });
}

// One client holds several waits on purpose: fair-share caps off (fair-share.test.ts covers them).
const uncapped = { MAX_WAITS_PER_SESSION: '0', MAX_WAITS_PER_CLIENT: '0' };
const modes = [
  { name: 'pool', env: { POLL_MODE: 'pool', MIN_THREADS: '4', MAX_THREADS: '4', ...uncapped } },
  { name: 'multiplex', env: { POLL_MODE: 'multiplex', MIN_THREADS: '2', MAX_THREADS: '2', ...uncapped } },
];
// On PostgreSQL the shared task is a board-only wait; each request then reads for itself.
const matrix = backends(postgres).flatMap((backend) => modes.map((mode) => ({ ...mode, backend, label: `${mode.name}, ${backend.name}` })));

describe.each(matrix)('coalesced waits ($label)', ({ env, backend }) => {
  const startTestServer = async (extra: Record<string, string>) => startServer({ ...(await backend.env()), ...extra });
  it('shares a task only between identical waits; mixed cursors each get their own batch', async () => {
    const server = await startTestServer(env);
    const session = await server.login();
    const one = await newestOn(server, session, 1);
    const two = await newestOn(server, session, 2);
    const poll = (walls: Record<number, number>) =>
      server.call('POST', '/poll', { session, body: { last_post_id: walls, timeout_ms: 10_000 }, timeoutMs: 15_000 });

    const onOne = [poll({ 1: one }), poll({ 1: one }), poll({ 1: one })];
    // Same walls in another order is the same question.
    const onBoth = [poll({ 1: one, 2: two }), poll({ 2: two, 1: one })];
    const onTwo = poll({ 2: two });
    await eventually(() => server.pollster.stats().waiting_polls === 6);
    expect(coalescing(server)).toMatchObject({ shared_waits: 3, riders: 3 });
    expect(server.pollster.stats().pool.busy).toBe(3);
    // A client that is behind is answered from the board at once, never sharing.
    const behind = await poll({ 1: one - 1 });
    expect(behind.json.walls['1'].posts.map((p: { id: number }) => p.id)).toEqual([one]);

    const first = (await server.call('POST', '/walls/1/messages', { session, body: { content: 'to wall 1' } })).json;
    for (const reply of await Promise.all([...onOne, ...onBoth])) expect(reply.json).toEqual({ walls: { 1: { posts: [first] } } });
    // Waits on wall 2 alone are untouched by a post to wall 1.
    expect(server.pollster.stats().waiting_polls).toBe(1);
    const second = (await server.call('POST', '/walls/2/messages', { session, body: { content: 'to wall 2' } })).json;
    expect((await onTwo).json).toEqual({ walls: { 2: { posts: [second] } } });
    await nothingHeld(server);
    expect(coalescing(server).coalesced).toBe(3);
  });

  it('cancels the shared task only when the last client on it has left', async () => {
    const server = await startTestServer(env);
    const session = await server.login();
    const last = await newestOn(server, session, 1);
    const leaving = [new AbortController(), new AbortController(), new AbortController()];
    const polls = leaving.map((controller) =>
      server
        .call('POST', '/poll', { session, body: { last_post_id: { 1: last }, timeout_ms: 20_000 }, signal: controller.signal })
        .catch((error: Error) => error.name),
    );
    await eventually(() => server.pollster.stats().waiting_polls === 3);
    expect(coalescing(server)).toMatchObject({ shared_waits: 1, riders: 2 });

    // The task's starter leaves first: the other two keep the task.
    leaving[0]!.abort();
    await eventually(() => server.pollster.stats().waiting_polls === 2);
    leaving[1]!.abort();
    await eventually(() => server.pollster.stats().waiting_polls === 1);
    expect(server.pollster.stats().pool).toMatchObject({ busy: 1, cancelled: 0, coalescing: { shared_waits: 1, riders: 0 } });

    leaving[2]!.abort();
    await nothingHeld(server);
    expect(server.pollster.stats().pool.cancelled).toBe(1);
    expect(await Promise.all(polls)).toEqual(['AbortError', 'AbortError', 'AbortError']);
    // Fair shares came back too.
    expect(server.pollster.stats().wait_limits).toMatchObject({ sessions_waiting: 0, clients_waiting: 0 });

    // A fresh wait on the same question starts a fresh task and is answered.
    const again = server.call('POST', '/poll', { session, body: { last_post_id: { 1: last }, timeout_ms: 10_000 } });
    await eventually(() => server.pollster.stats().waiting_polls === 1);
    const posted = (await server.call('POST', '/walls/1/messages', { session, body: { content: 'after' } })).json;
    expect((await again).json).toEqual({ walls: { 1: { posts: [posted] } } });
  });

  it('hands one answer to more requests than one slice, and gives every count back', async () => {
    const server = await startTestServer(env);
    const session = await server.login();
    const last = await newestOn(server, session, 1);
    // Several slices of the hand-out (64 each) and a part slice; some leave first.
    const controllers = Array.from({ length: 150 }, () => new AbortController());
    const polls = controllers.map((controller) =>
      server
        .call('POST', '/poll', {
          session,
          body: { last_post_id: { 1: last }, timeout_ms: 20_000 },
          signal: controller.signal,
          timeoutMs: 25_000,
        })
        .catch((error: Error) => error.name),
    );
    await eventually(() => server.pollster.stats().waiting_polls === 150);
    expect(coalescing(server)).toMatchObject({ shared_waits: 1, riders: 149 });
    for (const controller of controllers.slice(0, 20)) controller.abort();
    await eventually(() => server.pollster.stats().waiting_polls === 130);
    const posted = (await server.call('POST', '/walls/1/messages', { session, body: { content: 'to all' } })).json;
    const replies = await Promise.all(polls);
    expect(replies.slice(0, 20)).toEqual(Array(20).fill('AbortError'));
    for (const reply of replies.slice(20)) expect((reply as { json: unknown }).json).toEqual({ walls: { 1: { posts: [posted] } } });
    await nothingHeld(server);
    expect(server.pollster.stats().wait_limits).toMatchObject({ sessions_waiting: 0, clients_waiting: 0 });
  });

  it('a rider with an earlier deadline times out on its own; the task goes on', async () => {
    const server = await startTestServer(env);
    const session = await server.login();
    const last = await newestOn(server, session, 1);
    const long = server.call('POST', '/poll', { session, body: { last_post_id: { 1: last }, timeout_ms: 10_000 } });
    await eventually(() => server.pollster.stats().waiting_polls === 1);
    const started = Date.now();
    const short = await server.call('POST', '/poll', { session, body: { last_post_id: { 1: last }, timeout_ms: 300 } });
    const took = Date.now() - started;
    expect(short.json).toEqual({ walls: {} });
    expect(took).toBeGreaterThanOrEqual(290);
    expect(took).toBeLessThan(2000);
    expect(server.pollster.stats()).toMatchObject({ waiting_polls: 1, pool: { busy: 1, coalescing: { riders: 0 } } });

    const posted = (await server.call('POST', '/walls/1/messages', { session, body: { content: 'late' } })).json;
    expect((await long).json).toEqual({ walls: { 1: { posts: [posted] } } });
    await nothingHeld(server);
  });

  it('a rider with a later deadline waits on after the shared task times out', async () => {
    const server = await startTestServer(env);
    const session = await server.login();
    const last = await newestOn(server, session, 1);
    const started = Date.now();
    const short = server
      .call('POST', '/poll', { session, body: { last_post_id: { 1: last }, timeout_ms: 400 } })
      .then((reply) => ({ reply, at: Date.now() - started }));
    await eventually(() => server.pollster.stats().waiting_polls === 1);
    let longDone = false;
    const long = server
      .call('POST', '/poll', { session, body: { last_post_id: { 1: last }, timeout_ms: 5_000 } })
      .finally(() => (longDone = true));
    await eventually(() => server.pollster.stats().waiting_polls === 2);
    expect(coalescing(server).riders).toBe(1);

    const first = await short;
    expect(first.reply.json).toEqual({ walls: {} });
    expect(first.at).toBeGreaterThanOrEqual(390);
    // The later one now has a task of its own and still waits.
    await new Promise((resolve) => setTimeout(resolve, 200));
    expect(longDone).toBe(false);
    expect(server.pollster.stats()).toMatchObject({ waiting_polls: 1, pool: { busy: 1, coalescing: { shared_waits: 1, riders: 0 } } });

    const posted = (await server.call('POST', '/walls/1/messages', { session, body: { content: 'for the patient one' } })).json;
    expect((await long).json).toEqual({ walls: { 1: { posts: [posted] } } });
    await nothingHeld(server);
  });

  it('streams on the same cursor share a wait and each get the event, exactly once and in order', async () => {
    const server = await startTestServer(env);
    const session = await server.login();
    const streams = await Promise.all([1, 2, 3].map(() => openStream(server.agent, `${server.url}/check?session_id=${session}&walls=1`)));
    onTestFinished(() => {
      for (const stream of streams) stream.close();
    });
    await eventually(() => server.pollster.stats().waiting_polls === 3);
    expect(coalescing(server)).toMatchObject({ shared_waits: 1, riders: 2 });

    const ids: number[] = [];
    for (const content of ['one', 'two', 'three']) {
      ids.push((await server.call('POST', '/walls/1/messages', { session, body: { content } })).json.id);
    }
    for (const stream of streams) {
      const seen: number[] = [];
      let from = 0;
      while (seen.length < 3 || seen[seen.length - 1]! < ids[2]!) {
        const event = await stream.next((e) => e.event === 'refresh', from);
        from = stream.events.indexOf(event) + 1;
        for (const message of JSON.parse(event.data!).messages) seen.push(message.id);
        expect(Number(event.id)).toBe(seen[seen.length - 1]);
      }
      expect(seen).toEqual(ids);
    }
    for (const stream of streams) stream.close();
    await nothingHeld(server);
  });
});

describe('inline mode, the blocking control', () => {
  it('keeps one wait per request: nothing is shared', async () => {
    const server = await startServer({ POLL_MODE: 'inline' });
    const session = await server.login();
    const last = await newestOn(server, session, 1);
    const replies = await Promise.all(
      [1, 2].map(() => server.call('POST', '/poll', { session, body: { last_post_id: { 1: last }, timeout_ms: 200 } })),
    );
    for (const reply of replies) expect(reply.json).toEqual({ walls: {} });
    expect(coalescing(server)).toEqual({ shared_waits: 0, riders: 0, coalesced: 0 });
    expect(server.pollster.stats().pool.completed).toBe(2);
  });
});
