import { describe, expect, it, onTestFinished } from 'vitest';
import { mergeBatch } from '../src/http/check-stream.js';
import type { Message } from '../src/shared/types.js';
import { postFromCli } from './helpers/cli.js';
import { eventually, startTestServer, type TestServer } from './helpers/server.js';
import { openStream, type SseEvent } from './helpers/sse.js';
import { backends, usePostgres } from './helpers/postgres.js';

const postgres = usePostgres();

const isRefresh = (event: SseEvent): boolean => event.event === 'refresh';
const messagesOf = (event: SseEvent): Message[] => JSON.parse(event.data!).messages;

async function post(server: TestServer, session: string, wall: number, content: string): Promise<Message> {
  const reply = await server.call('POST', `/walls/${wall}/messages`, { session, body: { content } });
  expect(reply.status).toBe(201);
  return reply.json;
}

const matrix = backends(postgres).flatMap((backend) =>
  [
    { name: 'pool', env: { POLL_MODE: 'pool' } },
    { name: 'multiplex', env: { POLL_MODE: 'multiplex' } },
  ].map((mode) => ({ ...mode, backend, label: `${mode.name}, ${backend.name}` })),
);

describe.each(matrix)('GET /check ($label)', ({ env, backend }) => {
  const start = async (extra: Record<string, string>) => startTestServer({ ...(await backend.env()), ...extra });
  it('streams refresh events in order, each with the newest id it carries', async () => {
    const server = await start(env);
    const session = await server.login();
    const stream = await openStream(server.agent, `${server.url}/check?session_id=${session}`);
    onTestFinished(stream.close);
    expect(stream.status).toBe(200);
    expect(stream.headers['content-type']).toBe('text/event-stream; charset=utf-8');
    expect(stream.headers['cache-control']).toContain('no-cache');
    expect(stream.headers['x-accel-buffering']).toBe('no');
    await stream.next((e) => e.retry !== undefined);
    expect(stream.events[0]).toEqual({ retry: '1000' });

    await eventually(() => server.pollster.stats().waiting_polls === 1);
    const sent = [];
    for (const [wall, content] of [
      [1, 'first'],
      [2, 'second'],
      [1, 'third'],
    ] as const) {
      sent.push(await post(server, session, wall, content));
    }
    const received: Message[] = [];
    let from = 0;
    while (received.length < 3) {
      const event = await stream.next(isRefresh, from);
      from = stream.events.indexOf(event) + 1;
      const batch = messagesOf(event);
      expect(Number(event.id)).toBe(batch[batch.length - 1]!.id);
      received.push(...batch);
    }
    expect(received).toEqual(sent);
  });

  it('a fresh stream starts at the newest message; a reconnect with Last-Event-ID gets exactly what it missed', async () => {
    const server = await start(env);
    const session = await server.login();
    const first = await openStream(server.agent, `${server.url}/check?session_id=${session}&walls=1,2`);
    await eventually(() => server.pollster.stats().waiting_polls === 1);
    const seen = await post(server, session, 1, 'seen live');
    const event = await first.next(isRefresh);
    expect(messagesOf(event)).toEqual([seen]);
    first.close();
    await eventually(() => server.pollster.stats().open_streams === 0);

    const missed = [await post(server, session, 2, 'missed one'), await post(server, session, 1, 'missed two')];
    await post(server, session, 3, 'not a wall of this stream');
    const again = await openStream(server.agent, `${server.url}/check?walls=1,2`, {
      authorization: `Bearer ${session}`,
      'last-event-id': event.id!,
    });
    onTestFinished(again.close);
    const resumed = await again.next(isRefresh);
    expect(messagesOf(resumed)).toEqual(missed);
  });

  it('delivers a message written from another process', async () => {
    const server = await start(env);
    const session = await server.login();
    const stream = await openStream(server.agent, `${server.url}/check?session_id=${session}`);
    onTestFinished(stream.close);
    await eventually(() => server.pollster.stats().waiting_polls === 1);
    expect((await postFromCli(server.database, ['--wall', '4', '--user', 'demo', 'from cli'])).code).toBe(0);
    const event = await stream.next(isRefresh);
    expect(messagesOf(event).map((m) => m.content)).toEqual(['from cli']);
  });

  // Regression (found by `npm run soak`): a CLI write the watcher has not yet
  // noticed, followed by a post on another wall of the same stream, must
  // arrive in the same batch, not be skipped by the stream's cursor.
  it('does not skip a CLI write that the watcher notices after a newer post', async () => {
    const server = await start({ ...env, WATCH_INTERVAL_MS: '60000' });
    const session = await server.login();
    const stream = await openStream(server.agent, `${server.url}/check?session_id=${session}&walls=1,2`);
    onTestFinished(stream.close);
    await eventually(() => server.pollster.stats().waiting_polls === 1);
    const cli = await postFromCli(server.database, ['--wall', '1', '--user', 'demo', 'from the console']);
    expect(cli.code).toBe(0);
    const posted = await post(server, session, 2, 'over HTTP');
    // SQLite: one batch, as the watcher has not looked yet. PostgreSQL's NOTIFY
    // may deliver the console write first, in a batch of its own.
    const received: Message[] = [];
    let event = await stream.next(isRefresh);
    received.push(...messagesOf(event));
    if (received.length < 2) {
      event = await stream.next(isRefresh, stream.events.indexOf(event) + 1);
      received.push(...messagesOf(event));
    }
    expect(received.map((m) => m.content)).toEqual(['from the console', 'over HTTP']);
    expect(event.id).toBe(String(posted.id));
  });

  it('sends heartbeat comments while it waits', async () => {
    const server = await start({ ...env, SSE_HEARTBEAT_MS: '50' });
    const session = await server.login();
    const stream = await openStream(server.agent, `${server.url}/check?session_id=${session}`);
    onTestFinished(stream.close);
    expect(await stream.next((e) => e.comment === 'ping')).toEqual({ comment: 'ping' });
  });

  it('waits its turn in the queue when the pool is busy, heartbeats going on', async () => {
    const server = await start({ ...env, MAX_THREADS: '1', MIN_THREADS: '1', TASKS_PER_THREAD: '1', SSE_HEARTBEAT_MS: '50' });
    const session = await server.login();
    const { json } = await server.call('GET', '/walls', { session });
    const last1 = json.walls.find((w: { id: number }) => w.id === 1).latest_message_id;
    const holder = server.call('POST', '/poll', { session, body: { last_post_id: { 1: last1 }, timeout_ms: 10_000 } });
    await eventually(() => server.pollster.stats().pool.busy === 1);
    const stream = await openStream(server.agent, `${server.url}/check?session_id=${session}&walls=2`);
    onTestFinished(stream.close);
    await eventually(() => server.pollster.stats().pool.queued === 1);
    const beats = stream.events.length;
    await stream.next((e) => e.comment === 'ping', beats);
    expect(server.pollster.stats().pool.queued).toBe(1);
    // Freeing the thread (a post to wall 1 answers the poll) lets the stream's batch run.
    await post(server, session, 1, 'free the thread');
    await holder;
    const posted = await post(server, session, 2, 'for the stream');
    const event = await stream.next(isRefresh);
    expect(messagesOf(event)).toEqual([posted]);
  });

  it('ends after SSE_MAX_MS so the browser reconnects', async () => {
    const server = await start({ ...env, SSE_MAX_MS: '300' });
    const session = await server.login();
    const stream = await openStream(server.agent, `${server.url}/check?session_id=${session}`);
    await stream.ended;
    expect(server.pollster.stats().open_streams).toBe(0);
  });

  it('a client that disconnects frees its thread', async () => {
    const server = await start({ ...env, MAX_THREADS: '1' });
    const session = await server.login();
    const stream = await openStream(server.agent, `${server.url}/check?session_id=${session}`);
    await eventually(() => server.pollster.stats().waiting_polls === 1 && server.pollster.stats().open_streams === 1);
    stream.close();
    await eventually(() => {
      const stats = server.pollster.stats();
      return stats.waiting_polls === 0 && stats.open_streams === 0 && stats.pool.busy === 0;
    });
  });

  it('refuses an unknown session and a bad cursor', async () => {
    const server = await start(env);
    const session = await server.login('alice');
    const unknownSession = await server.call('GET', '/check?session_id=nope');
    expect(unknownSession.status).toBe(401);
    const badCursor = await server.call('GET', `/check?session_id=${session}&last_event_id=abc`);
    expect(badCursor.status).toBe(400);
    expect(badCursor.json).toEqual({ errors: ['Last-Event-ID must be a non-negative integer'] });
    const notHerWall = await server.call('GET', `/check?session_id=${session}&walls=2`);
    expect(notHerWall.json).toEqual({ errors: ['Invalid parameters!'] });
  });
});

describe('the EM.defer demo', () => {
  it('/hello holds a lane thread while /bienvendidos answers at once', async () => {
    const server = await startTestServer({ MAX_THREADS: '1' });
    let helloDone = false;
    const hello = server.call('GET', '/hello?ms=1500').then((reply) => {
      helloDone = true;
      return reply;
    });
    await eventually(() => server.pollster.stats().hello_lane.busy === 1);
    const welcome = await server.call('POST', '/bienvendidos');
    expect(welcome.text).toBe('Bienvenidos!\n');
    expect(helloDone).toBe(false);
    expect((await hello).text).toBe('Hello!\n');
  });

  it('with POLL_MODE=inline, /bienvendidos waits for /hello', async () => {
    const server = await startTestServer({ POLL_MODE: 'inline' });
    const order: string[] = [];
    const hello = server.call('GET', '/hello?ms=600').then(() => order.push('hello'));
    await new Promise((resolve) => setTimeout(resolve, 100));
    const welcome = server.call('POST', '/bienvendidos').then(() => order.push('bienvendidos'));
    await Promise.all([hello, welcome]);
    expect(order).toEqual(['hello', 'bienvendidos']);
  });

  it('/hello refuses a bad ms', async () => {
    const server = await startTestServer();
    const reply = await server.call('GET', '/hello?ms=-3');
    expect(reply.status).toBe(400);
    expect(reply.json).toEqual({ errors: ['ms must be a non-negative integer'] });
  });
});

describe('mergeBatch', () => {
  const message = (id: number, wall_id: number): Message => ({ id, wall_id, user: 'u', content: '', created_at: '' });

  it('orders messages from several walls by id', () => {
    const batch = mergeBatch({ 1: { posts: [message(3, 1)] }, 2: { posts: [message(2, 2), message(5, 2)] } });
    expect(batch.map((m) => m.id)).toEqual([2, 3, 5]);
  });
});

describe('GET /stats', () => {
  it('reports the pool, polls, streams, memory and uptime', async () => {
    // Listening waits until every pre-spawned thread has loaded.
    const server = await startTestServer({ MIN_THREADS: '3', MAX_THREADS: '4' });
    const reply = await server.call('GET', '/stats');
    expect(reply.json).toMatchObject({
      mode: 'pool',
      wake: 'notify',
      pool: { min_threads: 3, max_threads: 4, threads: 3, threads_loaded: 3, busy: 0, held_per_thread: 0, queued: 0, capacity: 4 },
      waiting_polls: 0,
      open_streams: 0,
      memory: { rss: expect.any(Number) },
      uptime_s: expect.any(Number),
    });
  });
});

describe('GET /stats in multiplex mode', () => {
  it('shows how many polls each thread holds', async () => {
    const server = await startTestServer({ POLL_MODE: 'multiplex', MIN_THREADS: '2', MAX_THREADS: '2', TASKS_PER_THREAD: '50' });
    const session = await server.login();
    const { json } = await server.call('GET', '/walls', { session });
    const last = json.walls[0].latest_message_id;
    const polls = Array.from({ length: 10 }, () =>
      server.call('POST', '/poll', { session, body: { last_post_id: { 1: last }, timeout_ms: 10_000 } }),
    );
    // Ten identical polls share one task; each still counts as a waiting poll.
    await eventually(() => server.pollster.stats().waiting_polls === 10);
    expect(server.pollster.stats()).toMatchObject({
      mode: 'multiplex',
      waiting_polls: 10,
      pool: { threads: 2, tasks_per_thread: 50, capacity: 100, busy: 1, held_per_thread: 0.5, coalescing: { shared_waits: 1, riders: 9 } },
    });
    await server.call('POST', '/walls/1/messages', { session, body: { content: 'all ten' } });
    for (const reply of await Promise.all(polls)) expect(reply.json.walls['1'].posts).toHaveLength(1);
  });
});

describe('GET /', () => {
  it('serves the chat page and its assets', async () => {
    const server = await startTestServer();
    const page = await server.call('GET', '/', { headers: { accept: 'text/html' } });
    expect(page.status).toBe(200);
    expect(page.headers['content-type']).toBe('text/html; charset=utf-8');
    expect(page.text).toContain('<title>Pollster</title>');
    expect((await server.call('GET', '/app.js')).headers['content-type']).toBe('text/javascript; charset=utf-8');
    expect((await server.call('GET', '/style.css')).status).toBe(200);
  });
});
