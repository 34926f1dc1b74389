/**
 * On PostgreSQL the notification carries the message (`storage/message-notices.ts`):
 * polls and streams it wakes are answered without reading it back, a message
 * too big for NOTIFY (or a bulk INSERT) is read, and either way every client
 * gets every message once, in order, as stored.
 */
import pg from 'pg';
import { describe, expect, it, onTestFinished } from 'vitest';
import type { Message } from '../src/shared/types.js';
import { usePostgres } from './helpers/postgres.js';
import { eventually, newestOn, startTestServer, type TestServer } from './helpers/server.js';
import { openStream, type SseEvent, type SseStream } from './helpers/sse.js';

const postgres = usePostgres();
const isRefresh = (event: SseEvent): boolean => event.event === 'refresh';

interface NotifiedStats {
  held: number;
  answered: number;
  read: number;
}
const notifiedOf = (server: TestServer): NotifiedStats => (server.pollster.stats() as any).database.notified_messages;

/** Long polls one after another from `cursor` until `count` messages came. */
async function pollFor(server: TestServer, session: string, wallId: number, cursor: number, count: number): Promise<Message[]> {
  const received: Message[] = [];
  while (received.length < count) {
    const reply = await server.call('POST', '/poll', { session, body: { last_post_id: { [wallId]: cursor }, timeout_ms: 10_000 } });
    expect(reply.status).toBe(200);
    const posts: Message[] = reply.json.walls[wallId]?.posts ?? [];
    received.push(...posts);
    if (posts.length > 0) cursor = posts.at(-1)!.id;
  }
  return received;
}

/** Every message a stream sends until it has `count`. */
async function collect(stream: SseStream, count: number): Promise<Message[]> {
  const received: Message[] = [];
  let from = 0;
  while (received.length < count) {
    const event = await stream.next(isRefresh, from, 10_000);
    from = stream.events.indexOf(event) + 1;
    received.push(...(JSON.parse(event.data!).messages as Message[]));
  }
  return received;
}

const stored = async (server: TestServer, session: string, wallId: number, after: number): Promise<Message[]> =>
  (await server.call('GET', `/walls/${wallId}/messages?after=${after}&limit=100`, { session })).json.messages;

describe.each([{ POLL_MODE: 'pool' }, { POLL_MODE: 'multiplex' }])('messages carried by NOTIFY ($POLL_MODE)', (mode) => {
  it('delivers small and oversized messages, posted at once, to polls and a stream once and in order, as stored', async () => {
    const server = await startTestServer({ ...mode, DATABASE_URL: await postgres.freshDatabase() });
    const session = await server.login();
    const cursor = await newestOn(server, session, 1);
    const stream = await openStream(server.agent, `${server.url}/check?session_id=${session}&walls=1,2`);
    onTestFinished(stream.close);
    const polled = pollFor(server, session, 1, cursor, 30);
    const streamed = collect(stream, 40);
    await eventually(() => server.pollster.stats().waiting_polls === 2);

    // Every third one is 2,000 four-byte characters: over NOTIFY's 8,000 bytes, so announced by id and read.
    const contents = Array.from({ length: 40 }, (_, i) => (i % 3 === 0 ? `${i % 10}${'😀'.repeat(1999)}` : `small ${i}`));
    const posted: Message[] = [];
    for (let i = 0; i < contents.length; i += 4) {
      const replies = await Promise.all(
        contents
          .slice(i, i + 4)
          .map((content, j) => server.call('POST', `/walls/${(i + j) % 4 === 3 ? 2 : 1}/messages`, { session, body: { content } })),
      );
      for (const reply of replies) {
        expect(reply.status).toBe(201);
        posted.push(reply.json);
      }
    }
    posted.sort((a, b) => a.id - b.id);
    const onWall1 = posted.filter((m) => m.wall_id === 1);
    expect(onWall1).toHaveLength(30);
    expect(await polled).toEqual(onWall1);
    expect(await streamed).toEqual(posted);
    expect(await stored(server, session, 1, cursor)).toEqual(onWall1);
    const { answered, read } = notifiedOf(server);
    expect(answered).toBeGreaterThan(0);
    // The oversized ones.
    expect(read).toBeGreaterThan(0);
  });
});

describe('messages carried by NOTIFY', () => {
  it('answers polls woken together from the notification alone, with one shared answer, byte for byte the stored row', async () => {
    const server = await startTestServer({ DATABASE_URL: await postgres.freshDatabase() });
    const session = await server.login();
    const cursor = await newestOn(server, session, 1);
    const polls = Array.from({ length: 3 }, () =>
      server.call('POST', '/poll', { session, body: { last_post_id: { 1: cursor }, timeout_ms: 10_000 } }),
    );
    await eventually(() => server.pollster.stats().waiting_polls === 3);
    const before = notifiedOf(server);
    const posted = (await server.call('POST', '/walls/1/messages', { session, body: { content: 'ünïcødé "quoted" \\ \t ☃' } })).json;
    const answers = await Promise.all(polls);
    for (const answer of answers) expect(answer.json.walls['1'].posts).toEqual([posted]);
    // One answer from memory for the three, and no read.
    expect(notifiedOf(server)).toMatchObject({ answered: before.answered + 1, read: before.read });
    // Byte for byte what a read returns, created_at included.
    expect(JSON.stringify(answers[0]!.json.walls['1'].posts)).toBe(JSON.stringify(await stored(server, session, 1, cursor)));
  });

  it('delivers a bulk INSERT and a transaction of many INSERTs by another writer, past the first 100 announced by id, whole and in order', async () => {
    const url = await postgres.freshDatabase();
    const server = await startTestServer({ DATABASE_URL: url });
    const session = await server.login();
    const stream = await openStream(server.agent, `${server.url}/check?session_id=${session}&walls=3,4`);
    onTestFinished(stream.close);
    const streamed = collect(stream, 270);
    await eventually(() => server.pollster.stats().waiting_polls === 1);
    const other = new pg.Client({ connectionString: url });
    await other.connect();
    onTestFinished(() => other.end());
    const bulk = await other.query<{ id: string }>(
      "INSERT INTO messages (wall_id, user_id, content) SELECT 3 + n % 2, 1, 'bulk ' || n FROM generate_series(1, 150) n RETURNING id",
    );
    const ids = bulk.rows.map((row) => Number(row.id));
    await other.query('BEGIN');
    for (let n = 1; n <= 120; n++) {
      const { rows } = await other.query<{ id: string }>(
        'INSERT INTO messages (wall_id, user_id, content) VALUES ($1, 1, $2) RETURNING id',
        [3 + (n % 2), `one by one ${n}`],
      );
      ids.push(Number(rows[0]!.id));
    }
    await other.query('COMMIT');
    const received = await streamed;
    expect(received.map((m) => m.id)).toEqual(ids.sort((a, b) => a - b));
    expect(received.map((m) => m.content)).toEqual([
      ...Array.from({ length: 150 }, (_, i) => `bulk ${i + 1}`),
      ...Array.from({ length: 120 }, (_, i) => `one by one ${i + 1}`),
    ]);
    // The cap is per transaction: the next post is carried whole again.
    const before = notifiedOf(server);
    const next = stream.next(isRefresh, stream.events.length, 10_000);
    await other.query("INSERT INTO messages (wall_id, user_id, content) VALUES (3, 1, 'after the bulk')");
    expect(JSON.parse((await next).data!).messages.map((m: Message) => m.content)).toEqual(['after the bulk']);
    expect(notifiedOf(server).answered).toBe(before.answered + 1);
  });

  it('drops what it holds when a user is deleted, so their deleted messages are not answered', async () => {
    const server = await startTestServer({ DATABASE_URL: await postgres.freshDatabase(), API_KEY: 'k'.repeat(32) });
    const session = await server.login();
    const cursor = await newestOn(server, session, 2);
    const bob = await server.login('bob');
    await server.call('POST', '/walls/2/messages', { session: bob, body: { content: 'from bob' } });
    await eventually(() => notifiedOf(server).held > 0);
    const deleted = await server.call('DELETE', '/api/users/bob', { headers: { authorization: `Bearer ${'k'.repeat(32)}` } });
    expect(deleted.status).toBeLessThan(300);
    await eventually(() => notifiedOf(server).held === 0);
    const reply = await server.call('POST', '/poll', { session, body: { last_post_id: { 2: cursor }, timeout_ms: 0 } });
    expect(reply.json.walls['2']?.posts ?? []).toEqual([]);
  });

  it('ignores notices not signed with the key, sent by any role that can connect; a writer of another role is still heard', async () => {
    const url = await postgres.freshDatabase();
    const server = await startTestServer({ DATABASE_URL: url });
    const session = await server.login();
    const admin = new pg.Client({ connectionString: url });
    await admin.connect();
    onTestFinished(() => admin.end());
    const suffix = Math.random().toString(36).slice(2, 8);
    const [forger, writer] = [`forger_${suffix}`, `writer_${suffix}`];
    await admin.query(`CREATE ROLE ${forger} LOGIN PASSWORD 'forger'`);
    await admin.query(`CREATE ROLE ${writer} LOGIN PASSWORD 'writer'`);
    await admin.query(`GRANT SELECT, INSERT ON messages, users TO ${writer}; GRANT USAGE ON SEQUENCE messages_id_seq TO ${writer}`);
    onTestFinished(async () => {
      await admin.query(`DROP OWNED BY ${writer}; DROP ROLE ${writer}; DROP ROLE ${forger}`).catch(() => {});
    });
    const as = async (role: string): Promise<pg.Client> => {
      const address = new URL(url);
      address.username = role;
      address.password = role;
      const client = new pg.Client({ connectionString: address.href });
      await client.connect();
      onTestFinished(() => client.end());
      return client;
    };
    const forging = await as(forger);
    await expect(forging.query('SELECT key FROM pollster_notice_key')).rejects.toThrow(/permission denied/);

    const cursor = await newestOn(server, session, 1);
    const poll = server.call('POST', '/poll', { session, body: { last_post_id: { 1: cursor }, timeout_ms: 10_000 } });
    await eventually(() => server.pollster.stats().waiting_polls === 1);
    const fake = JSON.stringify({
      id: cursor + 1000,
      wall_id: 1,
      user: 'alice',
      content: 'forged',
      created_at: '2026-12-05T00:00:00.000Z',
    });
    for (const payload of [fake, `${'0'.repeat(64)}${fake}`, '1:9007199254740991', `${'a'.repeat(64)}1:9007199254740991`]) {
      await forging.query('SELECT pg_notify($1, $2)', ['pollster_messages', payload]);
    }
    await eventually(() => (server.pollster.stats() as any).database.notices_refused === 4);
    // The wall is not frozen at a forged id: a real message from another role's INSERT still arrives, from its notice.
    const writing = await as(writer);
    await writing.query("INSERT INTO messages (wall_id, user_id, content) VALUES (1, 2, 'real')");
    const reply = await poll;
    expect(reply.json.walls['1'].posts.map((m: Message) => m.content)).toEqual(['real']);
    expect(notifiedOf(server).answered).toBeGreaterThan(0);
  });
});
