/**
 * Fair shares. Concurrent waits (polls that really wait,
 * plus streams) are capped per session and per client address; past a cap
 * the answer is 429 with Retry-After. The address comes from X-Forwarded-For
 * / X-Real-IP only when the peer is in TRUST_PROXY.
 */
import type { IncomingMessage } from 'node:http';
import { describe, expect, it, onTestFinished } from 'vitest';
import { loadConfig } from '../src/config.js';
import { createAddressResolver } from '../src/http/client-address.js';
import { eventually, newestOn, startTestServer } from './helpers/server.js';
import { openStream } from './helpers/sse.js';

describe.each<{ name: string; env: Record<string, string> }>([
  { name: 'pool', env: { POLL_MODE: 'pool', MIN_THREADS: '4', MAX_THREADS: '4' } },
  { name: 'multiplex', env: { POLL_MODE: 'multiplex' } },
])('fair shares of the waits ($name)', ({ env }) => {
  it('caps waits per session and per address; quick answers and other clients are unaffected', async () => {
    const server = await startTestServer({ ...env, MAX_WAITS_PER_SESSION: '2', MAX_WAITS_PER_CLIENT: '3' });
    const greedy = await server.login();
    const other = await server.login();
    const last = await newestOn(server, greedy, 1);
    const wait = (session: string, headers: Record<string, string> = {}) =>
      server.call('POST', '/poll', { session, headers, body: { last_post_id: { 1: last }, timeout_ms: 10_000 }, timeoutMs: 15_000 });

    const held = [wait(greedy), wait(greedy)];
    await eventually(() => server.pollster.stats().waiting_polls === 2);
    const refused = await wait(greedy);
    expect(refused.status).toBe(429);
    expect(refused.json).toEqual({ errors: ['Too many requests'] });
    expect(refused.headers['retry-after']).toBe('1');
    // A stream is a wait too.
    const stream = await server.call('GET', `/check?session_id=${greedy}&walls=1`);
    expect(stream.status).toBe(429);
    // A poll answered at once holds nothing, so it is never refused.
    const behind = await server.call('POST', '/poll', { session: greedy, body: { last_post_id: { 1: 0 } } });
    expect(behind.status).toBe(200);

    // Another session from the same address takes the address's last place.
    held.push(wait(other));
    await eventually(() => server.pollster.stats().waiting_polls === 3);
    expect((await wait(other)).status).toBe(429);
    // A client at another address (forwarded by a trusted loopback proxy) has its own share.
    held.push(wait(other, { 'x-forwarded-for': '203.0.113.9' }));
    await eventually(() => server.pollster.stats().waiting_polls === 4);
    expect(server.pollster.stats().wait_limits).toMatchObject({ max_per_session: 2, max_per_client: 3, refused: 3 });

    const posted = await server.call('POST', '/walls/1/messages', { session: other, body: { content: 'for all' } });
    for (const reply of await Promise.all(held)) expect(reply.json.walls['1'].posts).toEqual([posted.json]);
    // The shares came back when the waits ended.
    await eventually(() => server.pollster.stats().wait_limits.sessions_waiting === 0);
    const again = openStream(server.agent, `${server.url}/check?session_id=${greedy}&walls=1`);
    const opened = await again;
    onTestFinished(() => opened.close());
    expect(opened.status).toBe(200);
  });
});

describe('anonymous clients (public walls)', () => {
  it("count by address only: a poll and a stream without a session share the address's cap", async () => {
    const server = await startTestServer({ MAX_WAITS_PER_SESSION: '1', MAX_WAITS_PER_CLIENT: '2' });
    const session = await server.login();
    const last = await newestOn(server, session, 1);
    const body = { last_post_id: { 1: last }, timeout_ms: 10_000 };
    // No session, so the per-session cap of 1 does not apply; the address's 2 do.
    const polls = [1, 2].map(() => server.call('POST', '/poll', { body, timeoutMs: 15_000 }));
    await eventually(() => server.pollster.stats().waiting_polls === 2);
    expect((await server.call('GET', '/check?walls=1')).status).toBe(429);
    expect((await server.call('POST', '/poll', { body })).status).toBe(429);
    const elsewhere = server.call('POST', '/poll', { body, headers: { 'x-forwarded-for': '192.0.2.7' }, timeoutMs: 15_000 });
    await eventually(() => server.pollster.stats().waiting_polls === 3);
    await server.call('POST', '/walls/1/messages', { session, body: { content: 'public news' } });
    for (const reply of await Promise.all([...polls, elsewhere])) expect(reply.json.walls['1'].posts[0].content).toBe('public news');
  });
});

describe('TRUST_PROXY', () => {
  it('ignores X-Forwarded-For when the peer is not trusted', async () => {
    const server = await startTestServer({ MAX_WAITS_PER_SESSION: '0', MAX_WAITS_PER_CLIENT: '1', TRUST_PROXY: 'none' });
    const session = await server.login();
    const last = await newestOn(server, session, 1);
    const body = { last_post_id: { 1: last }, timeout_ms: 10_000 };
    const first = server.call('POST', '/poll', { session, body, headers: { 'x-forwarded-for': '198.51.100.1' } });
    await eventually(() => server.pollster.stats().waiting_polls === 1);
    const spoofed = await server.call('POST', '/poll', { session, body, headers: { 'x-forwarded-for': '198.51.100.2' } });
    expect(spoofed.status).toBe(429);
    await server.call('POST', '/walls/1/messages', { session, body: { content: 'done' } });
    expect((await first).status).toBe(200);
  });

  const request = (remoteAddress: string | undefined, headers: Record<string, string>) =>
    ({ socket: { remoteAddress }, headers }) as unknown as IncomingMessage;

  it.each([
    // peer, headers, TRUST_PROXY, address used
    ['203.0.113.5', { 'x-forwarded-for': '1.2.3.4' }, ['loopback'], '203.0.113.5'],
    ['127.0.0.1', { 'x-forwarded-for': '1.2.3.4' }, ['loopback'], '1.2.3.4'],
    [undefined, { 'x-forwarded-for': '1.2.3.4' }, ['loopback'], '1.2.3.4'],
    ['127.0.0.1', { 'x-forwarded-for': '1.2.3.4' }, [], '127.0.0.1'],
    // A client-written entry left of the real one proves nothing.
    ['127.0.0.1', { 'x-forwarded-for': '6.6.6.6, 1.2.3.4' }, ['loopback'], '1.2.3.4'],
    ['10.0.0.2', { 'x-forwarded-for': '6.6.6.6, 1.2.3.4, 10.0.0.1' }, ['10.0.0.1', '10.0.0.2'], '1.2.3.4'],
    ['::ffff:127.0.0.1', { 'x-real-ip': '1.2.3.4' }, ['loopback'], '1.2.3.4'],
    // A malformed X-Forwarded-For never hands the choice to X-Real-IP (which a proxy may pass on from the client).
    ['127.0.0.1', { 'x-forwarded-for': 'garbage', 'x-real-ip': '1.2.3.4' }, ['loopback'], '127.0.0.1'],
    ['127.0.0.1', { 'x-forwarded-for': '127.0.0.2' }, ['loopback'], '127.0.0.2'],
  ])('peer %s with %o, trusting %o → %s', (peer, headers, trusted, expected) => {
    expect(createAddressResolver(trusted)(request(peer, headers))).toBe(expected);
  });
});

describe('fair-share defaults', () => {
  it('derive from the slots that serve waits, not from the queue', () => {
    // pool: 16 threads; multiplex: 16 × 1000 task slots; a queue of any size changes nothing.
    expect(loadConfig({})).toMatchObject({ maxWaitsPerSession: 4, maxWaitsPerClient: 8, trustProxy: ['loopback'] });
    expect(loadConfig({ MAX_THREADS: '64', MAX_QUEUE: '5' })).toMatchObject({ maxWaitsPerSession: 16, maxWaitsPerClient: 32 });
    expect(loadConfig({ POLL_MODE: 'multiplex' })).toMatchObject({ maxWaitsPerSession: 4000, maxWaitsPerClient: 8000 });
    expect(loadConfig({ POLL_MODE: 'inline' })).toMatchObject({ maxWaitsPerSession: 4, maxWaitsPerClient: 8 });
    expect(loadConfig({ TRUST_PROXY: 'loopback, 10.0.0.1' }).trustProxy).toEqual(['loopback', '10.0.0.1']);
    expect(loadConfig({ TRUST_PROXY: 'none' }).trustProxy).toEqual([]);
    expect(() => loadConfig({ TRUST_PROXY: '10.0.0.0/8' })).toThrow(
      'TRUST_PROXY must be none, or a comma-separated list of loopback and IP addresses (got "10.0.0.0/8")',
    );
  });
});
