/**
 * The slow-job lane: a blocking /hello job must
 * never hold up a poll or take a place the polls need. Jobs run in their own
 * lane (HELLO_CONCURRENCY, HELLO_QUEUE) in every POLL_MODE; inline stays the
 * blocking control.
 */
import { describe, expect, it } from 'vitest';
import { ConfigError, loadConfig } from '../src/config.js';
import { eventually, newestOn, startTestServer } from './helpers/server.js';

const pooled = [
  { name: 'pool', env: { POLL_MODE: 'pool' } },
  // Default TASKS_PER_THREAD: one thread holds every poll, as in the bug report.
  { name: 'multiplex', env: { POLL_MODE: 'multiplex' } },
];

describe.each(pooled)('the /hello lane ($name)', ({ env }) => {
  it('a held poll is answered while every lane thread runs /hello, before any job ends', async () => {
    const server = await startTestServer({ ...env, MIN_THREADS: '2', MAX_THREADS: '2' });
    const session = await server.login();
    const last = await newestOn(server, session, 1);
    const poll = server.call('POST', '/poll', { session, body: { last_post_id: { 1: last }, timeout_ms: 20_000 }, timeoutMs: 25_000 });
    await eventually(() => server.pollster.stats().waiting_polls === 1 && server.pollster.stats().pool.busy === 1);

    let jobsDone = 0;
    const jobs = Array.from({ length: 4 }, () =>
      server.call('GET', '/hello?ms=2500', { timeoutMs: 15_000 }).then((reply) => {
        jobsDone++;
        return reply;
      }),
    );
    // HELLO_CONCURRENCY defaults to MAX_THREADS: two run, two wait in the lane's queue.
    await eventually(() => {
      const lane = server.pollster.stats().hello_lane;
      return lane.busy === 2 && lane.queued === 2;
    });
    const stats = server.pollster.stats();
    expect(stats.hello_lane).toMatchObject({ concurrency: 2, threads: 2 });
    // The jobs took no poll thread and no place in the poll queue.
    expect(stats.pool).toMatchObject({ busy: 1, queued: 0 });

    const welcome = await server.call('POST', '/bienvendidos');
    expect(welcome.text).toBe('Bienvenidos!\n');
    const posted = await server.call('POST', '/walls/1/messages', { session, body: { content: 'through the jobs' } });
    const answer = await poll;
    expect(jobsDone).toBe(0);
    expect(answer.json).toEqual({ walls: { 1: { posts: [posted.json] } } });
    for (const reply of await Promise.all(jobs)) expect(reply.text).toBe('Hello!\n');
  });

  it("answers 503 with Retry-After past the lane's limit, while polls are still admitted", async () => {
    const server = await startTestServer({
      ...env,
      MIN_THREADS: '1',
      MAX_THREADS: '1',
      MAX_QUEUE: '0',
      TASKS_PER_THREAD: '1',
      HELLO_CONCURRENCY: '1',
      HELLO_QUEUE: '1',
    });
    const session = await server.login();
    const last = await newestOn(server, session, 1);
    const jobs = [1, 2].map(() => server.call('GET', '/hello?ms=1500', { timeoutMs: 15_000 }));
    await eventually(() => server.pollster.stats().hello_lane.queued === 1);
    const refused = await server.call('GET', '/hello?ms=3000');
    expect(refused.status).toBe(503);
    expect(refused.headers['retry-after']).toBe('1');
    expect(refused.json).toEqual({ errors: ['Server busy'] });
    expect(server.pollster.stats().hello_lane.rejected).toBe(1);

    // The only poll thread, with no queue at all, is still free for a poll.
    const poll = server.call('POST', '/poll', { session, body: { last_post_id: { 1: last }, timeout_ms: 10_000 } });
    await eventually(() => server.pollster.stats().pool.busy === 1);
    await server.call('POST', '/walls/1/messages', { session, body: { content: 'not busy' } });
    expect((await poll).status).toBe(200);
    await Promise.all(jobs);
  });
});

describe('the /hello lane bounds a burst (multiplex)', () => {
  it('50 concurrent /hello jobs run HELLO_CONCURRENCY at a time, in the rounds that allows', async () => {
    const server = await startTestServer({
      POLL_MODE: 'multiplex',
      MIN_THREADS: '2',
      MAX_THREADS: '2',
      HELLO_CONCURRENCY: '10',
      HELLO_QUEUE: '100',
    });
    // Spawn the lane's threads first (from source each loads tsx: seconds on
    // a loaded machine), so the timing below is the lane's rounds alone.
    await Promise.all(Array.from({ length: 10 }, () => server.call('GET', '/hello?ms=200')));
    expect(server.pollster.stats().hello_lane.threads).toBe(10);
    const ms = 400;
    let most = 0;
    const sampler = setInterval(() => (most = Math.max(most, server.pollster.stats().hello_lane.busy)), 5);
    const started = Date.now();
    const replies = await Promise.all(Array.from({ length: 50 }, () => server.call('GET', `/hello?ms=${ms}`, { timeoutMs: 20_000 })));
    const elapsed = Date.now() - started;
    clearInterval(sampler);
    for (const reply of replies) expect(reply.text).toBe('Hello!\n');
    expect(most).toBe(10);
    // Five rounds of ten: never fewer (the limit holds), and nowhere near the
    // 25 rounds of jobs piled onto two busy multiplexed threads (the bug).
    expect(elapsed).toBeGreaterThanOrEqual(5 * ms);
    expect(elapsed).toBeLessThan(2 * 5 * ms + 1000);
    expect(server.pollster.stats().hello_lane).toMatchObject({ completed: 60, rejected: 0, busy: 0, queued: 0 });
  });
});

describe('the /hello lane at start-up', () => {
  it('keeps MIN_THREADS lane threads, every one loaded before the server listens', async () => {
    const server = await startTestServer({ MIN_THREADS: '12', MAX_THREADS: '12' });
    // Read at once: no job has run beyond the start-up check, nothing was awaited.
    expect(server.pollster.stats().hello_lane).toMatchObject({ threads: 12, threads_loaded: 12, concurrency: 12 });
  });
});

describe('the /hello lane (inline, the blocking control)', () => {
  it("a job still blocks the main thread, under the lane's limit", async () => {
    const server = await startTestServer({ POLL_MODE: 'inline', HELLO_CONCURRENCY: '1', HELLO_QUEUE: '0' });
    expect(server.pollster.stats().hello_lane).toMatchObject({ concurrency: 1, max_queue: 0, threads: 0 });
    const order: string[] = [];
    const hello = server.call('GET', '/hello?ms=600').then(() => order.push('hello'));
    await new Promise((resolve) => setTimeout(resolve, 100));
    const ping = server.call('GET', '/ping').then(() => order.push('ping'));
    await Promise.all([hello, ping]);
    expect(order).toEqual(['hello', 'ping']);
    expect(server.pollster.stats().hello_lane.completed).toBe(1);
  });
});

describe('lane config', () => {
  it('sizes the lane like the pool by default, and validates it', () => {
    expect(loadConfig({})).toMatchObject({ helloConcurrency: 16, helloQueue: 64 });
    expect(loadConfig({ MAX_THREADS: '4' })).toMatchObject({ helloConcurrency: 4, helloQueue: 16 });
    expect(loadConfig({ HELLO_CONCURRENCY: '2', HELLO_QUEUE: '0' })).toMatchObject({ helloConcurrency: 2, helloQueue: 0 });
    expect(() => loadConfig({ HELLO_CONCURRENCY: '0' })).toThrow(
      new ConfigError('HELLO_CONCURRENCY must be an integer from 1 to 1024 (got "0")'),
    );
    expect(() => loadConfig({ HELLO_QUEUE: 'many' })).toThrow(
      new ConfigError('HELLO_QUEUE must be an integer from 0 to 1000000 (got "many")'),
    );
    expect(() => loadConfig({ SSE_STALL_MS: '0' })).toThrow(new ConfigError('SSE_STALL_MS must be an integer from 1 to 3600000 (got "0")'));
  });
});
