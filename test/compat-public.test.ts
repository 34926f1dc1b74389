/**
 * Public walls and HEAD in every POLL_MODE:
 * a client without a session reads the public walls by every route and
 * never sees a private wall's message; HEAD answers at once and never opens
 * a stream or takes a thread.
 */
import { describe, expect, it } from 'vitest';
import { eventually, startTestServer, type TestServer } from './helpers/server.js';
import { openStream } from './helpers/sse.js';

const modes: Array<{ name: string; env: Record<string, string>; mainThreadFree: boolean }> = [
  { name: 'pool', env: { POLL_MODE: 'pool' }, mainThreadFree: true },
  { name: 'multiplex', env: { POLL_MODE: 'multiplex' }, mainThreadFree: true },
  { name: 'inline', env: { POLL_MODE: 'inline' }, mainThreadFree: false },
];

const FORM = { 'content-type': 'application/x-www-form-urlencoded' };

async function latestIds(server: TestServer, session: string): Promise<Record<number, number>> {
  const { json } = await server.call('GET', '/walls', { session });
  return Object.fromEntries(json.walls.map((wall: { id: number; latest_message_id: number }) => [wall.id, wall.latest_message_id]));
}

describe.each(modes)('public walls ($name)', ({ env, mainThreadFree }) => {
  it('an anonymous client reads the public walls by every route and never a private wall', async () => {
    // SSE_MAX_MS bounds the anonymous stream below, which in inline mode waits on the main thread.
    const server = await startTestServer({ ...env, SSE_MAX_MS: '600' });
    const demo = await server.login('demo');
    const before = await latestIds(server, demo);
    const secret = await server.call('POST', '/walls/2/messages', { session: demo, body: { content: 'SECRET on a private wall' } });
    const open = await server.call('POST', '/walls/1/messages', { session: demo, body: { content: 'hello, world' } });
    expect([secret.status, open.status]).toEqual([201, 201]);
    const replies: string[] = [];

    const list = await server.call('GET', '/walls');
    replies.push(list.text);
    expect(list.status).toBe(200);
    expect(list.json.walls).toEqual([{ id: 1, name: 'General', latest_message_id: open.json.id, public: true }]);

    const history = await server.call('GET', '/walls/1/messages');
    replies.push(history.text);
    expect(history.json.messages.at(-1)).toEqual(open.json);
    const privateHistory = await server.call('GET', '/walls/2/messages');
    const missingHistory = await server.call('GET', '/walls/99/messages');
    replies.push(privateHistory.text);
    expect([privateHistory.status, privateHistory.text]).toEqual([missingHistory.status, missingHistory.text]);
    expect(privateHistory.json).toEqual({ errors: ['Wall not found'] });

    const poll = await server.call('POST', '/poll', { body: { last_post_id: { 1: before[1], 2: before[2] }, timeout_ms: 0 } });
    replies.push(poll.text);
    expect(poll.json).toEqual({ walls: { 1: { posts: [open.json] } } });
    const formPoll = await server.call('POST', '/', {
      rawBody: `last_post_id[1]=${before[1]}&last_post_id[2]=${before[2]}&timeout_ms=0`,
      headers: FORM,
    });
    replies.push(formPoll.text);
    expect(formPoll.json).toEqual(poll.json);
    const privatePoll = await server.call('POST', '/', { rawBody: `last_post_id[2]=${before[2]}`, headers: FORM });
    replies.push(privatePoll.text);
    expect(privatePoll.json).toEqual({ errors: ['Invalid user!'] });

    const cursor = Math.min(before[1]!, before[2]!);
    const stream = await openStream(server.agent, `${server.url}/check?last_event_id=${cursor}`);
    expect(stream.status).toBe(200);
    const event = await stream.next((e) => e.event === 'refresh');
    await stream.ended;
    replies.push(...stream.events.map((e) => e.data ?? ''));
    expect(JSON.parse(event.data!).messages.map((m: { content: string }) => m.content)).toEqual(['hello, world']);
    const privateStream = await server.call('GET', '/check?walls=2');
    replies.push(privateStream.text);
    expect(privateStream.json).toEqual({ errors: ['Invalid parameters!'] });

    for (const reply of replies) expect(reply).not.toContain('SECRET');
    // Posting still needs a session.
    expect((await server.call('POST', '/walls/1/messages', { body: { content: 'anonymous' } })).status).toBe(401);
  });

  if (!mainThreadFree) return;

  it('a waiting anonymous poll and stream are woken by a public post, and only by it', async () => {
    const server = await startTestServer(env);
    const demo = await server.login('demo');
    const before = await latestIds(server, demo);
    const poll = server.call('POST', '/', { rawBody: `last_post_id[1]=${before[1]}&last_post_id[2]=${before[2]}`, headers: FORM });
    const stream = await openStream(server.agent, `${server.url}/check`);
    await eventually(() => server.pollster.stats().waiting_polls === 2);
    await server.call('POST', '/walls/2/messages', { session: demo, body: { content: 'SECRET while they wait' } });
    const open = await server.call('POST', '/walls/1/messages', { session: demo, body: { content: 'news for everyone' } });
    const reply = await poll;
    expect(reply.json).toEqual({ walls: { 1: { posts: [open.json] } } });
    const event = await stream.next((e) => e.event === 'refresh');
    expect(JSON.parse(event.data!).messages).toEqual([open.json]);
    stream.close();
    for (const text of [reply.text, ...stream.events.map((e) => e.data ?? '')]) expect(text).not.toContain('SECRET');
  });
});

describe.each(modes)('HEAD ($name)', ({ env }) => {
  it('answers every GET route with headers only, at once, holding nothing', async () => {
    const server = await startTestServer(env);
    const session = await server.login('demo');
    const routes = [
      '/',
      '/ping',
      '/walls',
      '/walls/1/messages',
      '/stats',
      '/app.js',
      '/check',
      `/check?session_id=${session}`,
      '/hello?ms=5000',
      '/hello',
    ];
    for (const path of routes) {
      const started = Date.now();
      const reply = await server.call('HEAD', path, { timeoutMs: 2000 });
      expect(reply.status, path).toBe(200);
      expect(reply.text, path).toBe('');
      expect(Date.now() - started, path).toBeLessThan(1000);
    }
    const check = await server.call('HEAD', '/check');
    expect(check.headers['content-type']).toBe('text/event-stream; charset=utf-8');
    // No stream was opened and no task ever ran: no thread was held, not even briefly.
    expect(server.pollster.stats()).toMatchObject({ open_streams: 0, waiting_polls: 0, pool: { busy: 0, queued: 0, completed: 0 } });
  });

  it('validates like GET: bad input still gets its 4xx', async () => {
    const server = await startTestServer(env);
    expect((await server.call('HEAD', '/hello?ms=1e3')).status).toBe(400);
    expect((await server.call('HEAD', '/check?last_event_id=01')).status).toBe(400);
    expect((await server.call('HEAD', '/check?session_id=nope')).status).toBe(401);
    expect((await server.call('HEAD', '/walls/2/messages')).status).toBe(404);
    expect((await server.call('HEAD', '/poll')).status).toBe(405);
  });
});
