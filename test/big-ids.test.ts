/**
 * Message ids above 2^31 and close to 2^53−1 (PostgreSQL's bigint, SQLite's
 * 64-bit rowid): the board, long-poll cursors, SSE ids, Last-Event-ID resume
 * and JSON all keep them exact.
 */
import Database from '../src/storage/sqlite-driver.js';
import { describe, expect, it, onTestFinished } from 'vitest';
import type { Message } from '../src/shared/types.js';
import { eventually, startTestServer, type TestServer } from './helpers/server.js';
import { openStream, type SseEvent } from './helpers/sse.js';

const isRefresh = (event: SseEvent): boolean => event.event === 'refresh';
const messagesOf = (event: SseEvent): Message[] => JSON.parse(event.data!).messages;

/** Make the next message id `next`. */
function restartSqliteIds(server: TestServer, next: number): void {
  const db = new Database(server.dbPath);
  try {
    db.prepare("UPDATE sqlite_sequence SET seq = ? WHERE name = 'messages'").run(next - 1);
  } finally {
    db.close();
  }
}

async function post(server: TestServer, session: string, wall: number, content: string): Promise<Message> {
  const reply = await server.call('POST', `/walls/${wall}/messages`, { session, body: { content } });
  expect(reply.status).toBe(201);
  return reply.json;
}

const starts = [
  { name: 'just above 2^31', next: 2 ** 31 + 7 },
  { name: 'just above 2^32', next: 2 ** 32 + 1 },
  { name: 'near 2^53−1', next: Number.MAX_SAFE_INTEGER - 20 },
];
const modes = [{ POLL_MODE: 'pool' }, { POLL_MODE: 'multiplex' }];

describe.each(modes)('ids beyond 32 bits ($POLL_MODE)', (env) => {
  it.each(starts)('polls, history and JSON keep ids exact: $name', async ({ next }) => {
    const server = await startTestServer(env);
    restartSqliteIds(server, next);
    const session = await server.login();
    const first = await post(server, session, 1, 'big one');
    expect(first.id).toBe(next);

    const walls = await server.call('GET', '/walls', { session });
    expect(walls.json.walls.find((w: { id: number }) => w.id === 1).latest_message_id).toBe(next);
    const history = await server.call('GET', `/walls/1/messages?after=${next - 1}`, { session });
    expect(history.json.messages).toEqual([first]);

    // A poll whose cursor is the big id waits (the board must not read it as
    // negative or truncated), and is woken by the next one.
    const poll = server.call('POST', '/poll', { session, body: { last_post_id: { 1: first.id }, timeout_ms: 10_000 } });
    await eventually(() => server.pollster.stats().waiting_polls === 1);
    await new Promise((resolve) => setTimeout(resolve, 100));
    expect(server.pollster.stats().waiting_polls).toBe(1);
    const second = await post(server, session, 1, 'bigger one');
    expect(second.id).toBe(next + 1);
    expect((await poll).json).toEqual({ walls: { 1: { posts: [second] } } });

    // A poll that is behind is answered at once with exactly what it missed.
    const behind = await server.call('POST', '/poll', { session, body: { last_post_id: { 1: first.id } } });
    expect(behind.json.walls['1'].posts).toEqual([second]);
  });

  it.each(starts)('SSE ids and Last-Event-ID resume keep ids exact: $name', async ({ next }) => {
    const server = await startTestServer(env);
    restartSqliteIds(server, next);
    const session = await server.login();
    const stream = await openStream(server.agent, `${server.url}/check?session_id=${session}&walls=1,2`);
    onTestFinished(stream.close);
    await eventually(() => server.pollster.stats().waiting_polls === 1);
    const live = await post(server, session, 2, 'live');
    const event = await stream.next(isRefresh);
    expect(event.id).toBe(String(live.id));
    expect(messagesOf(event)).toEqual([live]);
    stream.close();
    await eventually(() => server.pollster.stats().open_streams === 0);

    const missed = [await post(server, session, 1, 'missed one'), await post(server, session, 2, 'missed two')];
    const again = await openStream(server.agent, `${server.url}/check?walls=1,2`, {
      authorization: `Bearer ${session}`,
      'last-event-id': event.id!,
    });
    onTestFinished(again.close);
    const resumed = await again.next(isRefresh);
    expect(messagesOf(resumed)).toEqual(missed);
    expect(resumed.id).toBe(String(missed[1]!.id));
  });
});

describe('id bounds', () => {
  it('accepts cursors up to 2^53−1 and refuses larger ones', async () => {
    const server = await startTestServer();
    const session = await server.login();
    const max = Number.MAX_SAFE_INTEGER;
    const history = await server.call('GET', `/walls/1/messages?after=${max}`, { session });
    expect(history.json).toEqual({ messages: [] });
    const tooBig = await server.call('GET', `/walls/1/messages?after=${max + 1}`, { session });
    expect(tooBig.status).toBe(400);
    const cursor = await server.call('GET', `/check?session_id=${session}&last_event_id=9007199254740992`);
    expect(cursor.status).toBe(400);
    const poll = await server.call('POST', '/poll', { session, body: { last_post_id: { 1: max }, timeout_ms: 0 } });
    expect(poll.json).toEqual({ walls: {} });
  });
});
