/**
 * PostgreSQL as the meeting point of every writer and every Pollster
 * process: a row INSERTed on any connection wakes waiting polls and streams
 * at once (the trigger's NOTIFY, no polling interval); two Pollster
 * instances on one database deliver each other's posts, resume each other's
 * streams, and see concurrent posts exactly once, in id order; under
 * WEB_CONCURRENCY every process LISTENs itself.
 */
import pg from 'pg';
import { describe, expect, it, onTestFinished } from 'vitest';
import type { Message } from '../src/shared/types.js';
import { fresh, spreadOverProcesses } from './helpers/cluster.js';
import { usePostgres } from './helpers/postgres.js';
import { spawnServer } from './helpers/process.js';
import { eventually, newestOn, startTestServer, type TestServer } from './helpers/server.js';
import { openStream, type SseEvent, type SseStream } from './helpers/sse.js';

const postgres = usePostgres();
const isRefresh = (event: SseEvent): boolean => event.event === 'refresh';
const messagesOf = (event: SseEvent): Message[] => JSON.parse(event.data!).messages;

async function connect(url: string): Promise<pg.Client> {
  const client = new pg.Client({ connectionString: url });
  await client.connect();
  onTestFinished(() => client.end());
  return client;
}

/** Every message a stream sends until it has `count`, in the order sent. */
async function collect(stream: SseStream, count: number, ms = 10_000): Promise<Message[]> {
  const received: Message[] = [];
  let from = 0;
  while (received.length < count) {
    const event = await stream.next(isRefresh, from, ms);
    from = stream.events.indexOf(event) + 1;
    const batch = messagesOf(event);
    expect(event.id).toBe(String(batch[batch.length - 1]!.id));
    received.push(...batch);
  }
  return received;
}

describe.each([{ POLL_MODE: 'pool' }, { POLL_MODE: 'multiplex' }])('any writer wakes clients ($POLL_MODE)', (mode) => {
  it('an INSERT on another connection reaches a waiting poll and an SSE stream', async () => {
    const url = await postgres.freshDatabase();
    // No watcher interval to help: delivery can only come from the NOTIFY.
    const server = await startTestServer({ ...mode, DATABASE_URL: url, WATCH_INTERVAL_MS: '60000' });
    const session = await server.login();
    const last = await newestOn(server, session, 3);
    const poll = server.call('POST', '/poll', { session, body: { last_post_id: { 3: last }, timeout_ms: 20_000 }, timeoutMs: 25_000 });
    const stream = await openStream(server.agent, `${server.url}/check?session_id=${session}&walls=3,4`);
    onTestFinished(stream.close);
    await eventually(() => server.pollster.stats().waiting_polls === 2);

    const other = await connect(url);
    // As another application would write it: no id, no created_at.
    const { rows } = await other.query(
      "INSERT INTO messages (wall_id, user_id, content) SELECT 3, id, 'from psql' FROM users WHERE name = 'bob' RETURNING id",
    );
    const id = Number(rows[0].id);
    const reply = await poll;
    expect(reply.json.walls['3'].posts).toEqual([
      { id, wall_id: 3, user: 'bob', content: 'from psql', created_at: expect.stringMatching(/^\d{4}-\d\d-\d\dT/) },
    ]);
    const event = await stream.next(isRefresh);
    expect(event.id).toBe(String(id));
    expect(messagesOf(event).map((m) => m.content)).toEqual(['from psql']);
  });

  it('ids keep 64 bits: a sequence started above 2^31 and near 2^53−1', async () => {
    const url = await postgres.freshDatabase();
    const server = await startTestServer({ ...mode, DATABASE_URL: url });
    const other = await connect(url);
    const session = await server.login();
    for (const next of [2 ** 31 + 3, Number.MAX_SAFE_INTEGER - 10]) {
      await other.query(`ALTER SEQUENCE messages_id_seq RESTART WITH ${next}`);
      const stream = await openStream(server.agent, `${server.url}/check?session_id=${session}&walls=1`);
      await eventually(() => server.pollster.stats().waiting_polls === 1);
      const posted = (await server.call('POST', '/walls/1/messages', { session, body: { content: `at ${next}` } })).json;
      expect(posted.id).toBe(next);
      const event = await stream.next(isRefresh);
      expect(event.id).toBe(String(next));
      stream.close();
      await eventually(() => server.pollster.stats().open_streams === 0);
      const poll = server.call('POST', '/poll', { session, body: { last_post_id: { 1: next }, timeout_ms: 10_000 } });
      await eventually(() => server.pollster.stats().waiting_polls === 1);
      await other.query("INSERT INTO messages (wall_id, user_id, content) VALUES (1, 1, 'next one')");
      expect((await poll).json.walls['1'].posts.map((p: Message) => p.id)).toEqual([next + 1]);
    }
  });
});

describe('two Pollster instances on one database', () => {
  async function twoHosts(): Promise<[TestServer, TestServer]> {
    const url = await postgres.freshDatabase();
    const a = await startTestServer({ DATABASE_URL: url, POLL_MODE: 'pool' });
    const b = await startTestServer({ DATABASE_URL: url, POLL_MODE: 'multiplex' });
    return [a, b];
  }

  it('a post on A reaches polls and streams on B; Last-Event-ID resumes on either', async () => {
    const [a, b] = await twoHosts();
    const session = await a.login();
    const last = await newestOn(a, session, 1);
    const poll = b.call('POST', '/poll', { session, body: { last_post_id: { 1: last } }, timeoutMs: 25_000 });
    const stream = await openStream(b.agent, `${b.url}/check?session_id=${session}&walls=1,2`);
    await eventually(() => b.pollster.stats().waiting_polls === 2);

    const posted = (await a.call('POST', '/walls/1/messages', { session, body: { content: 'from A' } })).json;
    expect((await poll).json).toEqual({ walls: { 1: { posts: [posted] } } });
    const event = await stream.next(isRefresh);
    expect(messagesOf(event)).toEqual([posted]);
    stream.close();

    // Missed while disconnected, written on both hosts; resumed on A.
    const missed = [
      (await b.call('POST', '/walls/2/messages', { session, body: { content: 'from B' } })).json,
      (await a.call('POST', '/walls/1/messages', { session, body: { content: 'from A again' } })).json,
    ];
    const resumed = await openStream(a.agent, `${a.url}/check?walls=1,2`, {
      authorization: `Bearer ${session}`,
      'last-event-id': event.id!,
    });
    onTestFinished(resumed.close);
    expect(await collect(resumed, 2)).toEqual(missed);
  });

  it('concurrent posts on both hosts reach streams on both exactly once, in id order', async () => {
    const [a, b] = await twoHosts();
    const session = await a.login();
    const streams = [
      await openStream(a.agent, `${a.url}/check?session_id=${session}&walls=1,2`),
      await openStream(b.agent, `${b.url}/check?session_id=${session}&walls=1,2`),
    ];
    for (const stream of streams) onTestFinished(stream.close);
    await eventually(() => a.pollster.stats().waiting_polls === 1 && b.pollster.stats().waiting_polls === 1);

    const count = 60;
    const posts = await Promise.all(
      Array.from({ length: count }, (_, i) =>
        (i % 2 ? a : b).call('POST', `/walls/${1 + (i % 3 ? 0 : 1)}/messages`, { session, body: { content: `post ${i}` } }),
      ),
    );
    const sent = posts.map((reply) => reply.json as Message).sort((x, y) => x.id - y.id);
    for (const stream of streams) {
      const received = await collect(stream, count);
      expect(received.map((m) => m.id)).toEqual(sent.map((m) => m.id));
      expect(received).toEqual(sent);
    }
  });
});

describe('WEB_CONCURRENCY with PostgreSQL', () => {
  it('every process LISTENs: an INSERT by another program reaches polls in both', async () => {
    const url = await postgres.freshDatabase();
    const server = await spawnServer({
      WEB_CONCURRENCY: '2',
      MAX_THREADS: '2',
      MAX_WAITS_PER_SESSION: '0',
      DATABASE_URL: url,
      PG_POOL_SIZE: '3',
    });
    await eventually(() => server.output().split('pollster listening').length - 1 === 2, 15_000);
    const login = (await fresh(server.url, 'POST', '/sessions', { body: { user: 'demo' } })).json;
    const after = login.walls.find((w: { id: number }) => w.id === 4).latest_message_id;
    const opened = await spreadOverProcesses(
      server.url,
      async () => ({
        reply: fresh(server.url, 'POST', '/poll', { session: login.session_id, body: { last_post_id: { 4: after } }, timeoutMs: 25_000 }),
      }),
      (stats) => stats.waiting_polls,
    );
    const polls = opened.map((o) => o.reply);
    // Each process holds PG_POOL_SIZE connections at most, plus its listener.
    const other = await connect(url);
    const { rows: listeners } = await other.query(
      "SELECT count(*)::int AS n FROM pg_stat_activity WHERE application_name = 'pollster-listener' AND datname = current_database()",
    );
    expect(listeners[0].n).toBe(2);
    await other.query("INSERT INTO messages (wall_id, user_id, content) VALUES (4, 1, 'to every process')");
    for (const reply of await Promise.all(polls)) {
      expect(reply.json.walls['4'].posts.map((p: Message) => p.content)).toEqual(['to every process']);
    }
    server.child.kill('SIGTERM');
    expect(await server.exited).toBe(0);
  }, 60_000);
});
