/**
 * Bounded history (HISTORY_MAX_PER_WALL, HISTORY_MAX_AGE_S) through real
 * servers, on SQLite and PostgreSQL: a client whose cursor is behind the kept
 * messages is told of its gap — by long poll, by SSE and by the history
 * route — and resumes from the wall's floor; clients that keep up never see
 * one; posts go on while the pruner works; nothing newer than the kept window
 * is ever lost. The pruner runs in the background too, but these tests drive
 * it (`runOnce`, with the grace shortened) so that each step is deterministic.
 */
import { describe, expect, it, onTestFinished } from 'vitest';
import { ConfigError, loadConfig } from '../src/config.js';
import type { HistoryGap, Message } from '../src/shared/types.js';
import { FLOORS_MAX_AGE_MS } from '../src/storage/history-floors.js';
import type { HistoryPruner } from '../src/storage/history-pruner.js';
import { backends, usePostgres } from './helpers/postgres.js';
import { eventually, newestOn, startTestServer, type TestServer } from './helpers/server.js';
import { openStream, type SseEvent } from './helpers/sse.js';

const postgres = usePostgres();
const WALL = 2;
const KEEP = 3;

async function post(server: TestServer, session: string, wall: number, content: string): Promise<Message> {
  const reply = await server.call('POST', `/walls/${wall}/messages`, { session, body: { content } });
  expect(reply.status).toBe(201);
  return reply.json;
}

async function postMany(server: TestServer, session: string, wall: number, count: number): Promise<number[]> {
  const ids = [];
  for (let i = 0; i < count; i++) ids.push((await post(server, session, wall, `m${i}`)).id);
  return ids;
}

const prunerOf = (server: TestServer): HistoryPruner => server.pollster.history.pruner!;

/** Raise the floors, then delete below them at once (the grace shortened to nothing). */
async function prune(server: TestServer, now?: number): Promise<void> {
  await prunerOf(server).runOnce(now === undefined ? {} : { now });
  await prunerOf(server).runOnce({ graceMs: 0, ...(now === undefined ? {} : { now }) });
}

const poll = (server: TestServer, session: string, cursors: Record<number, number>, timeoutMs = 0) =>
  server.call('POST', '/poll', { session, body: { last_post_id: cursors, timeout_ms: timeoutMs } });

const ids = (messages: Message[]): number[] => messages.map((message) => message.id);

/**
 * Every posted id was received, or lies in a gap the client was told; ids
 * arrive rising, each once; and everything after the last gap arrived.
 */
function expectNoSilentGap(received: number[], gaps: HistoryGap[], posted: number[]): void {
  expect(received).toEqual([...new Set(received)].sort((a, b) => a - b));
  const missed = posted.filter((id) => !received.includes(id));
  expect(missed.filter((id) => !gaps.some((gap) => gap.after < id && id <= gap.resumed_from))).toEqual([]);
  const lastFloor = Math.max(0, ...gaps.map((gap) => gap.resumed_from));
  expect(received.filter((id) => id > lastFloor)).toEqual(posted.filter((id) => id > lastFloor));
}

describe.each(backends(postgres))('bounded history ($name)', (backend) => {
  const start = async (env: Record<string, string> = {}) =>
    startTestServer({ HISTORY_MAX_PER_WALL: String(KEEP), ...(await backend.env()), ...env });

  it('a poll behind the kept messages is told its gap and resumes from the floor; others answer as before, byte for byte', async () => {
    const server = await start();
    const session = await server.login();
    const before = await newestOn(server, session, WALL);
    const other = await newestOn(server, session, 3);
    const posted = await postMany(server, session, WALL, 10);
    const floor = posted[posted.length - KEEP - 1]!;
    // The floor first (the messages under it live on through the grace), then the deletes.
    for (const step of [() => prunerOf(server).runOnce(), () => prunerOf(server).runOnce({ graceMs: 0 })]) {
      await step();
      const behind = await poll(server, session, { [WALL]: before, 3: other }, 5000);
      expect(behind.text.startsWith('{"walls":{"2":{"posts":[')).toBe(true);
      expect(ids(behind.json.walls[WALL].posts)).toEqual(posted.slice(-KEEP));
      expect(behind.json.gaps).toEqual({ [WALL]: { after: before, resumed_from: floor } satisfies HistoryGap });
      expect(Object.keys(behind.json)).toEqual(['walls', 'gaps']);
    }

    // Inside the kept window, and at the head: today's answers exactly.
    const inside = await poll(server, session, { [WALL]: posted[8]! });
    expect(inside.text).toBe(JSON.stringify({ walls: { [WALL]: { posts: [inside.json.walls[WALL].posts[0]] } } }));
    expect(ids(inside.json.walls[WALL].posts)).toEqual([posted[9]]);
    expect((await poll(server, session, { [WALL]: posted[9]! })).text).toBe('{"walls":{}}');
    expect((await poll(server, session, { [WALL]: floor })).json).toEqual({ walls: { [WALL]: { posts: expect.any(Array) } } });

    const history = await server.call('GET', `/walls/${WALL}/messages?after=${before}`, { session });
    expect(ids(history.json.messages)).toEqual(posted.slice(-KEEP));
    expect(history.json.gap).toEqual({ after: before, resumed_from: floor });
    const kept = await server.call('GET', `/walls/${WALL}/messages?after=${floor}`, { session });
    expect(Object.keys(kept.json)).toEqual(['messages']);
    expect(ids(kept.json.messages)).toEqual(posted.slice(-KEEP));
  });

  it('a stream resuming behind the kept messages gets `event: gap` before the refresh, once', async () => {
    const server = await start();
    const session = await server.login();
    const before = await newestOn(server, session, WALL);
    const posted = await postMany(server, session, WALL, 8);
    await prune(server);
    const floor = posted[posted.length - KEEP - 1]!;

    const stream = await openStream(server.agent, `${server.url}/check?walls=${WALL}&session_id=${session}`, {
      'last-event-id': String(before),
    });
    onTestFinished(stream.close);
    const refresh = await stream.next((event) => event.event === 'refresh');
    const gapAt = stream.events.findIndex((event) => event.event === 'gap');
    expect(gapAt).toBeGreaterThan(0);
    expect(gapAt).toBeLessThan(stream.events.indexOf(refresh));
    expect(stream.events[gapAt]).toEqual({
      event: 'gap',
      data: JSON.stringify({ walls: { [WALL]: { after: before, resumed_from: floor } } }),
    });
    expect(ids(JSON.parse(refresh.data!).messages)).toEqual(posted.slice(-KEEP));
    expect(refresh.id).toBe(String(posted[posted.length - 1]));

    const next = await post(server, session, WALL, 'after the gap');
    const later = await stream.next((event) => event.event === 'refresh' && event.id === String(next.id));
    expect(ids(JSON.parse(later.data!).messages)).toEqual([next.id]);
    expect(stream.events.filter((event) => event.event === 'gap')).toHaveLength(1);
  });

  it('a floor that passes a poll while it waits in the queue is told after the read', async () => {
    const server = await start({ MAX_THREADS: '1', MIN_THREADS: '1' });
    const session = await server.login();
    // One poll holds the only thread; the next waits in the queue at the head of its wall.
    const holder = poll(server, session, { 3: await newestOn(server, session, 3) }, 10_000);
    await eventually(() => server.pollster.stats().pool.busy === 1);
    const head = await newestOn(server, session, WALL);
    const queued = poll(server, session, { [WALL]: head }, 10_000);
    await eventually(() => server.pollster.stats().pool.queued === 1);
    // While it waits, its wall runs past the kept window and is pruned.
    const posted = await postMany(server, session, WALL, 8);
    await prune(server);
    await post(server, session, 3, 'frees the thread');
    expect((await holder).status).toBe(200);
    const answer = await queued;
    expect(ids(answer.json.walls[WALL].posts)).toEqual(posted.slice(-KEEP));
    expect(answer.json.gaps).toEqual({ [WALL]: { after: head, resumed_from: posted[posted.length - KEEP - 1] } });
  });

  it('HISTORY_MAX_AGE_S: a poll behind a wall whose every message aged out is told its gap, and still waits for news', async () => {
    const server = await start({ HISTORY_MAX_PER_WALL: '0', HISTORY_MAX_AGE_S: '60' });
    const session = await server.login();
    const before = await newestOn(server, session, WALL);
    const posted = await postMany(server, session, WALL, 4);
    await prune(server);
    expect(server.pollster.history.floors.floorOf(WALL)).toBe(0);
    await prune(server, Date.now() + 61_000);
    const gap = { [WALL]: { after: before, resumed_from: posted[3] } };
    expect((await poll(server, session, { [WALL]: before })).json).toEqual({ walls: {}, gaps: gap });
    // A long poll waits from the floor (a client that ignores `gaps` does not spin), and
    // brings what is written next with the gap.
    const waiting = poll(server, session, { [WALL]: before }, 10_000);
    await eventually(() => server.pollster.stats().waiting_polls === 1);
    const next = await post(server, session, WALL, 'fresh');
    expect((await waiting).json).toEqual({ walls: { [WALL]: { posts: [next] } }, gaps: gap });
    expect((await poll(server, session, { [WALL]: posted[3]! })).json).toEqual({ walls: { [WALL]: { posts: [next] } } });
  });

  it('posts go on while pruning runs flat out, and a client that falls behind is always told: no silent gap', async () => {
    const server = await start({ HISTORY_MAX_PER_WALL: '5', MIN_THREADS: '4', MAX_THREADS: '4' });
    const session = await server.login();
    const from = await newestOn(server, session, WALL);
    const polled: number[] = [];
    const pollGaps: HistoryGap[] = [];
    let last = Number.POSITIVE_INFINITY;
    const follower = (async () => {
      let cursor = from;
      while (cursor < last) {
        const reply = await poll(server, session, { [WALL]: cursor }, 1000);
        if (reply.json.gaps) pollGaps.push(reply.json.gaps[WALL]);
        const posts: Message[] = reply.json.walls[WALL]?.posts ?? [];
        polled.push(...ids(posts));
        // A client that knows `gaps` goes on from the floor when nothing came with it.
        cursor = posts.length ? posts[posts.length - 1]!.id : Math.max(cursor, reply.json.gaps?.[WALL]?.resumed_from ?? 0);
      }
    })();
    const stream = await openStream(server.agent, `${server.url}/check?walls=${WALL}&last_event_id=${from}&session_id=${session}`);
    onTestFinished(stream.close);
    await eventually(() => server.pollster.stats().waiting_polls === 2);
    // No grace: the pruner deletes as soon as it raises, as often as it can, while the posts go in.
    let stop = false;
    const pruning = (async () => {
      let deleted = 0;
      while (!stop) {
        deleted += (await prunerOf(server).runOnce({ graceMs: 0 })).deleted;
        await new Promise((resolve) => setTimeout(resolve, 2));
      }
      return deleted;
    })();
    const posted: number[] = [];
    for (let i = 0; i < 150; i++) posted.push((await post(server, session, WALL, `busy ${i}`)).id);
    last = posted[posted.length - 1]!;
    const refreshes = (): SseEvent[] => stream.events.filter((event) => event.event === 'refresh');
    await eventually(() => refreshes().some((event) => event.id === String(last)), 10_000);
    await follower;
    stop = true;
    expect(await pruning).toBeGreaterThan(100);
    expectNoSilentGap(polled, pollGaps, posted);
    const streamGaps = stream.events.filter((event) => event.event === 'gap').map((event) => JSON.parse(event.data!).walls[WALL]);
    expectNoSilentGap(
      refreshes().flatMap((event) => ids(JSON.parse(event.data!).messages)),
      streamGaps,
      posted,
    );
    // The kept window is exactly the newest messages, none missing.
    await prune(server);
    const kept = await server.call('GET', `/walls/${WALL}/messages?after=0`, { session });
    expect(ids(kept.json.messages)).toEqual(posted.slice(-5));
    expect(kept.json.gap.resumed_from).toBe(posted[posted.length - 6]);
  });

  it('another process on the same database learns the floors it did not raise, and tells the gap too', async () => {
    const pruning = await start();
    // The second process prunes nothing itself; it shares the database (the file, or DATABASE_URL).
    const other = await startTestServer({
      DB_PATH: pruning.dbPath,
      ...(backend.name === 'postgres' ? { DATABASE_URL: pruning.database } : {}),
    });
    expect(other.pollster.history.pruner).toBeNull();
    const session = await pruning.login();
    const before = await newestOn(pruning, session, WALL);
    const posted = await postMany(pruning, session, WALL, 6);
    await prune(pruning);
    // Its copy of the floors is read again once it is older than FLOORS_MAX_AGE_MS.
    await new Promise((resolve) => setTimeout(resolve, FLOORS_MAX_AGE_MS + 100));
    // A long poll: on SQLite, its board learns of the other process's posts once a poll waits.
    const answer = await poll(other, await other.login(), { [WALL]: before }, 5000);
    expect(answer.json.gaps).toEqual({ [WALL]: { after: before, resumed_from: posted[posted.length - KEEP - 1] } });
    expect(ids(answer.json.walls[WALL].posts)).toEqual(posted.slice(-KEEP));
  });
});

describe('HISTORY_* configuration', () => {
  it('is off by default', () => {
    const config = loadConfig({});
    expect([config.historyMaxPerWall, config.historyMaxAgeS]).toEqual([0, 0]);
  });

  it.each([
    ['HISTORY_MAX_PER_WALL', '-1', 'HISTORY_MAX_PER_WALL must be an integer from 0 to 1000000 (got "-1")'],
    ['HISTORY_MAX_PER_WALL', '1000001', 'HISTORY_MAX_PER_WALL must be an integer from 0 to 1000000 (got "1000001")'],
    ['HISTORY_MAX_PER_WALL', 'lots', 'HISTORY_MAX_PER_WALL must be an integer from 0 to 1000000 (got "lots")'],
    ['HISTORY_MAX_AGE_S', '1d', 'HISTORY_MAX_AGE_S must be an integer from 0 to 315360000 (got "1d")'],
  ])('%s=%s stops start-up with one line naming it', (key, value, message) => {
    expect(() => loadConfig({ [key]: value })).toThrow(new ConfigError(message));
  });

  it('reads both', () => {
    const config = loadConfig({ HISTORY_MAX_PER_WALL: '1000', HISTORY_MAX_AGE_S: '604800' });
    expect([config.historyMaxPerWall, config.historyMaxAgeS]).toEqual([1000, 604_800]);
  });
});
