/**
 * A token's end is the end of everything it authorised: a stream ends at its
 * `exp`, a held poll answers `{"walls":{}}` then, a session made from it
 * dies with it, and the token is refused with `401 Token expired` from then
 * on. A client that comes back with a new token and its last id gets every
 * message posted meanwhile: nothing is lost.
 */
import { describe, expect, it, onTestFinished } from 'vitest';
import type { Message } from '../src/shared/types.js';
import { claims, hs256, SECRET } from './helpers/jwt.js';
import { startTestServer, type TestServer } from './helpers/server.js';
import { openStream, type SseEvent } from './helpers/sse.js';

const isRefresh = (event: SseEvent): boolean => event.event === 'refresh';
const idsOf = (event: SseEvent): number[] => (JSON.parse(event.data!).messages as Message[]).map((m) => m.id);

/** No skew, so a token ends exactly at its `exp`; polls and streams long enough that only the token can end them. */
const start = (extra: Record<string, string> = {}) =>
  startTestServer({ AUTH: 'jwt', JWT_SECRET: SECRET, JWT_CLOCK_SKEW_S: '0', SSE_MAX_MS: '60000', POLL_TIMEOUT_MS: '60000', ...extra });

/** A token for `demo` (a member of every wall) that ends at the next whole second at least `seconds` away. */
function shortToken(seconds: number): { token: string; endsAt: number } {
  const exp = Math.ceil(Date.now() / 1000) + seconds;
  return { token: hs256({ sub: 'demo', exp }), endsAt: exp * 1000 };
}

async function post(server: TestServer, content: string): Promise<Message> {
  const reply = await server.call('POST', '/walls/4/messages', {
    headers: { authorization: `Bearer ${hs256(claims('demo'))}` },
    body: { content },
  });
  expect(reply.status).toBe(201);
  return reply.json;
}

describe.each([{ POLL_MODE: 'pool' }, { POLL_MODE: 'multiplex' }])('a short-lived token ($POLL_MODE)', (mode) => {
  it('ends its stream at exp; a new token and the last id resume it with nothing lost', async () => {
    const server = await start(mode);
    const { token, endsAt } = shortToken(2);
    const stream = await openStream(server.agent, `${server.url}/check?walls=4&token=${token}`);
    onTestFinished(stream.close);
    expect(stream.status).toBe(200);
    const first = await post(server, 'before exp');
    expect(idsOf(await stream.next(isRefresh))).toEqual([first.id]);
    await stream.ended;
    const endedAt = Date.now();
    expect(endedAt).toBeGreaterThanOrEqual(endsAt - 5);
    expect(endedAt).toBeLessThan(endsAt + 1000);
    // EventSource reconnects with the same URL: the old token is refused now.
    const again = await server.call('GET', `/check?walls=4&token=${token}`);
    expect(again.status).toBe(401);
    expect(again.json).toEqual({ errors: ['Token expired'] });
    expect((await server.call('HEAD', `/check?walls=4&token=${token}`)).status).toBe(401);

    const missed = [await post(server, 'while away 1'), await post(server, 'while away 2')];
    const fresh = hs256(claims('demo'));
    const resumed = await openStream(server.agent, `${server.url}/check?walls=4&token=${fresh}`, { 'last-event-id': String(first.id) });
    onTestFinished(resumed.close);
    const events = [await resumed.next(isRefresh)];
    while (events.flatMap(idsOf).length < missed.length)
      events.push(await resumed.next(isRefresh, resumed.events.indexOf(events.at(-1)!) + 1));
    expect(events.flatMap(idsOf)).toEqual(missed.map((m) => m.id));
  });

  it('answers its held poll empty at exp; the next poll with it gets 401, a new token resumes from the cursor', async () => {
    const server = await start(mode);
    const { token, endsAt } = shortToken(2);
    const walls = await server.call('GET', '/walls', { headers: { authorization: `Bearer ${token}` } });
    const cursor = walls.json.walls.find((wall: { id: number }) => wall.id === 4).latest_message_id as number;
    const held = await server.call('POST', '/poll', {
      headers: { authorization: `Bearer ${token}` },
      body: { last_post_id: { 4: cursor } },
      timeoutMs: 20_000,
    });
    const answeredAt = Date.now();
    expect(held.status).toBe(200);
    expect(held.json).toEqual({ walls: {} });
    expect(answeredAt).toBeGreaterThanOrEqual(endsAt - 5);
    expect(answeredAt).toBeLessThan(endsAt + 1000);
    const stale = await server.call('POST', '/poll', {
      headers: { authorization: `Bearer ${token}` },
      body: { last_post_id: { 4: cursor } },
    });
    expect(stale.status).toBe(401);
    expect(stale.json).toEqual({ errors: ['Token expired'] });

    const missed = await post(server, 'while renewing');
    const resumed = await server.call('POST', '/poll', {
      headers: { authorization: `Bearer ${hs256(claims('demo'))}` },
      body: { last_post_id: { 4: cursor }, timeout_ms: 5000 },
    });
    expect(resumed.json.walls['4'].posts.map((m: Message) => m.id)).toEqual([missed.id]);
  });

  it('a session made from it lives no longer than the token, and its streams end with it', async () => {
    const server = await start({ ...mode, SESSION_TTL_S: '3600' });
    const { token, endsAt } = shortToken(2);
    const exchange = await server.call('POST', '/sessions', { body: { token } });
    expect(exchange.status).toBe(201);
    const session = exchange.json.session_id as string;
    const stream = await openStream(server.agent, `${server.url}/check?walls=4&session_id=${session}`);
    onTestFinished(stream.close);
    // Used while it lives: the sliding expiry would move it an hour on, but not past the token's end.
    expect((await server.call('GET', '/walls', { session })).status).toBe(200);
    await stream.ended;
    expect(Date.now()).toBeGreaterThanOrEqual(endsAt - 5);
    expect(Date.now()).toBeLessThan(endsAt + 1000);
    expect((await server.call('GET', '/walls', { session })).status).toBe(401);
    expect((await server.call('POST', '/poll', { session, body: { last_post_id: { 4: 0 } } })).json).toEqual({ errors: ['Invalid user!'] });
  });
});
