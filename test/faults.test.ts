/**
 * Faults and departures: a worker thread killed mid-poll, clients that leave
 * while running or queued. Pollster answers, logs, replaces, and keeps serving.
 */
import { describe, expect, it } from 'vitest';
import { captureLog } from './helpers/log.js';
import { eventually, newestOn, startTestServer } from './helpers/server.js';

describe('worker faults', () => {
  it('a worker killed mid-poll answers that client 500, is logged and replaced, and the next poll is served', async () => {
    const log = captureLog('error');
    const server = await startTestServer({ MIN_THREADS: '1', MAX_THREADS: '1' }, log.logger);
    const session = await server.login();
    const last = await newestOn(server, session, 1);
    const doomed = server.call('POST', '/poll', { session, body: { last_post_id: { 1: last }, timeout_ms: 10_000 } });
    await eventually(() => server.pollster.stats().pool.busy === 1);
    const [thread] = server.pollster.executor.threads();
    await thread!.terminate();

    const reply = await doomed;
    expect(reply.status).toBe(500);
    expect(reply.json).toEqual({ errors: ['Internal error'] });
    expect(log.text()).toContain('request failed');
    expect(server.pollster.stats().pool.failed).toBe(1);

    const next = server.call('POST', '/poll', { session, body: { last_post_id: { 1: last }, timeout_ms: 10_000 } });
    await eventually(() => server.pollster.stats().pool.busy === 1);
    expect(server.pollster.executor.threads()[0]).not.toBe(thread);
    await server.call('POST', '/walls/1/messages', { session, body: { content: 'after the crash' } });
    expect((await next).json.walls['1'].posts[0].content).toBe('after the crash');
  });
});

describe('client departures', () => {
  it('a running poll whose client leaves is cancelled without terminating its thread', async () => {
    const server = await startTestServer({ MIN_THREADS: '1', MAX_THREADS: '1' });
    const session = await server.login();
    const last = await newestOn(server, session, 1);
    const controller = new AbortController();
    const poll = server.call('POST', '/poll', { session, body: { last_post_id: { 1: last } }, signal: controller.signal });
    await eventually(() => server.pollster.stats().pool.busy === 1);
    const threadId = server.pollster.executor.threads()[0]!.threadId;
    controller.abort();
    await expect(poll).rejects.toThrow();
    await eventually(() => server.pollster.stats().pool.busy === 0);
    expect(server.pollster.stats().pool).toMatchObject({ cancelled: 1, failed: 0 });
    expect(server.pollster.executor.threads().map((t) => t.threadId)).toEqual([threadId]);
  });

  it('a queued poll whose client leaves never runs', async () => {
    const server = await startTestServer({ MIN_THREADS: '1', MAX_THREADS: '1' });
    const session = await server.login();
    const last = await newestOn(server, session, 1);
    const running = server.call('POST', '/poll', { session, body: { last_post_id: { 1: last } } });
    await eventually(() => server.pollster.stats().pool.busy === 1);
    const controller = new AbortController();
    // Another cursor: the same one would share the running poll's task (see coalescing.test.ts).
    const queued = server.call('POST', '/poll', { session, body: { last_post_id: { 1: last + 1 } }, signal: controller.signal });
    await eventually(() => server.pollster.stats().pool.queued === 1);
    controller.abort();
    await expect(queued).rejects.toThrow();
    await eventually(() => server.pollster.stats().pool.queued === 0);
    expect(server.pollster.stats()).toMatchObject({ waiting_polls: 1, pool: { cancelled: 1, busy: 1 } });

    await server.call('POST', '/walls/1/messages', { session, body: { content: 'only one ran' } });
    expect((await running).json.walls['1'].posts).toHaveLength(1);
    // Only the running poll reached a thread.
    expect(server.pollster.stats().pool).toMatchObject({ completed: 1, cancelled: 1 });
    expect(server.pollster.stats().pool.piscina?.run_time_ms.p50).toBeGreaterThan(0);
  });
});
