/**
 * Why the pool exists: polls stuck waiting for data must not hold up anyone
 * else. The inline mode is the control that shows what happens without it.
 */
import { describe, expect, it } from 'vitest';
import { eventually, newestOn, startTestServer } from './helpers/server.js';

describe('stuck polls and everyone else', () => {
  it('with MAX_THREADS=2 and two polls stuck, /ping and a post are answered at once', async () => {
    const server = await startTestServer({ MAX_THREADS: '2', MIN_THREADS: '2' });
    const session = await server.login();
    const last = await newestOn(server, session, 4);
    let settled = 0;
    const stuck = [1, 2].map(() =>
      server
        .call('POST', '/poll', { session, body: { last_post_id: { 4: last }, timeout_ms: 20_000 }, timeoutMs: 25_000 })
        .finally(() => settled++),
    );
    // Identical waits share one task: count the polls, not the tasks.
    await eventually(() => server.pollster.stats().waiting_polls === 2);

    const ping = await server.call('GET', '/ping', { timeoutMs: 2000 });
    expect(ping.json).toEqual({ ack: 'huzzah!' });
    const post = await server.call('POST', '/walls/1/messages', { session, body: { content: 'still here' }, timeoutMs: 2000 });
    expect(post.status).toBe(201);
    expect(settled).toBe(0);

    // A post to the wall they wait on releases both.
    await server.call('POST', '/walls/4/messages', { session, body: { content: 'release' } });
    const replies = await Promise.all(stuck);
    for (const reply of replies) expect(reply.json.walls['4'].posts[0].content).toBe('release');
  });

  it('with POLL_MODE=inline, a ping sent during a stuck poll is answered only after it', async () => {
    const server = await startTestServer({ POLL_MODE: 'inline' });
    const session = await server.login();
    const last = await newestOn(server, session, 1);
    const order: string[] = [];
    const poll = server.call('POST', '/poll', { session, body: { last_post_id: { 1: last }, timeout_ms: 800 } }).then((reply) => {
      order.push('poll');
      return reply;
    });
    await new Promise((resolve) => setTimeout(resolve, 100));
    const ping = server.call('GET', '/ping').then((reply) => {
      order.push('ping');
      return reply;
    });
    const [pollReply, pingReply] = await Promise.all([poll, ping]);
    expect(pollReply.json).toEqual({ walls: {} });
    expect(pingReply.status).toBe(200);
    expect(order).toEqual(['poll', 'ping']);
  });

  it("counts a poll's timeout from its arrival, time queued included", async () => {
    const server = await startTestServer({ MAX_THREADS: '1', MIN_THREADS: '1' });
    const session = await server.login();
    const last = await newestOn(server, session, 1);
    const started = Date.now();
    const first = server.call('POST', '/poll', { session, body: { last_post_id: { 1: last }, timeout_ms: 1000 } });
    await eventually(() => server.pollster.stats().pool.busy === 1);
    const second = server
      .call('POST', '/poll', { session, body: { last_post_id: { 1: last }, timeout_ms: 300 } })
      .then(() => Date.now() - started);
    await first;
    const firstDone = Date.now() - started;
    // Queued behind a 1 s poll, the 300 ms poll has expired when it starts: it
    // answers at once instead of waiting another 300 ms.
    expect(await second).toBeLessThan(firstDone + 200);
  });
});

// The same limits and shutdown in both pooled modes; in multiplex a thread
// holds TASKS_PER_THREAD polls, so one slot is one thread with one task.
describe.each<{ name: string; env: Record<string, string> }>([
  { name: 'pool', env: { POLL_MODE: 'pool' } },
  { name: 'multiplex', env: { POLL_MODE: 'multiplex', TASKS_PER_THREAD: '1' } },
])('queue limit and shutdown ($name)', ({ env }) => {
  it('answers 503 Server busy once MAX_QUEUE polls wait for a thread', async () => {
    const server = await startTestServer({ ...env, MAX_THREADS: '1', MIN_THREADS: '1', MAX_QUEUE: '1' });
    const session = await server.login();
    const last = await newestOn(server, session, 1);
    const body = { last_post_id: { 1: last }, timeout_ms: 5000 };
    const running = server.call('POST', '/poll', { session, body });
    const queued = server.call('POST', '/poll', { session, body });
    // The second shares the first's task but counts as the queued one would.
    await eventually(() => server.pollster.stats().waiting_polls === 2);
    const rejected = await server.call('POST', '/poll', { session, body });
    expect(rejected.status).toBe(503);
    expect(rejected.headers['retry-after']).toBe('1');
    expect(rejected.json).toEqual({ errors: ['Server busy'] });
    // Non-poll routes never queue behind polls.
    expect((await server.call('GET', '/ping')).status).toBe(200);
    await server.call('POST', '/walls/1/messages', { session, body: { content: 'done' } });
    expect((await running).json.walls['1'].posts).toHaveLength(1);
    expect((await queued).json.walls['1'].posts).toHaveLength(1);
  });

  it('close() answers every waiting and queued poll empty, and ends streams', async () => {
    const server = await startTestServer({ ...env, MAX_THREADS: '2', MIN_THREADS: '2' });
    const session = await server.login();
    const last = await newestOn(server, session, 1);
    const polls = [1, 2, 3].map(() =>
      server.call('POST', '/poll', { session, body: { last_post_id: { 1: last }, timeout_ms: 20_000 }, timeoutMs: 25_000 }),
    );
    await eventually(() => server.pollster.stats().waiting_polls === 3);
    const started = Date.now();
    await server.pollster.close();
    for (const reply of await Promise.all(polls)) {
      expect(reply.status).toBe(200);
      expect(reply.json).toEqual({ walls: {} });
    }
    expect(Date.now() - started).toBeLessThan(2000);
  });
});
