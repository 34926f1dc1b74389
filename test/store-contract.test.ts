/**
 * One suite, both stores: every case runs on SQLite and on PostgreSQL
 * through `openStorage`, as the server and the CLI open them. A storage
 * method that lands in one backend lands here, for both.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import pg from 'pg';
import { describe, expect, it, onTestFinished } from 'vitest';
import { NameTakenError } from '../src/storage/admin.js';
import { type AccessChange, changeOfRow, parseChange, sessionKey } from '../src/storage/changes.js';
import { MAX_CONTENT_LENGTH } from '../src/storage/model.js';
import { openStorage } from '../src/storage/open-storage.js';
import type { PgStore } from '../src/storage/pg-store.js';
import Database from '../src/storage/sqlite-driver.js';
import type { SqliteStore } from '../src/storage/sqlite-store.js';
import { usePostgres } from './helpers/postgres.js';

const postgres = usePostgres();
const TTL_S = 100;

interface Opened {
  store: SqliteStore | PgStore;
  /** The same database opened once more, as a second process would. */
  reopen(): Promise<SqliteStore | PgStore>;
  /** Make the next message id `next`, behind the store's back. */
  restartIdsAt(next: number): Promise<void>;
  /** PostgreSQL's URL, for a connection of the test's own (LISTEN, or SQL as another program writes it). */
  url?: string;
}

const backends: Array<{ name: string; open(): Promise<Opened> }> = [
  {
    name: 'SQLite',
    async open() {
      const dir = mkdtempSync(join(tmpdir(), 'pollster-contract-'));
      const dbPath = join(dir, 'pollster.db');
      const options = { databaseUrl: null, dbPath, sessionTtlS: TTL_S, pgPoolSize: 1 };
      const opened: Array<SqliteStore | PgStore> = [];
      const open = async () => {
        const store = await openStorage(options);
        opened.push(store);
        return store;
      };
      onTestFinished(async () => {
        for (const store of opened) await store.close();
        rmSync(dir, { recursive: true, force: true });
      });
      return {
        store: await open(),
        reopen: open,
        async restartIdsAt(next) {
          const db = new Database(dbPath);
          db.prepare("UPDATE sqlite_sequence SET seq = ? WHERE name = 'messages'").run(next - 1);
          db.close();
        },
      };
    },
  },
  {
    name: 'PostgreSQL',
    async open() {
      const url = await postgres.freshDatabase();
      const options = { databaseUrl: url, dbPath: '', sessionTtlS: TTL_S, pgPoolSize: 2 };
      const opened: Array<SqliteStore | PgStore> = [];
      const open = async () => {
        const store = await openStorage(options);
        opened.push(store);
        return store;
      };
      // Before the database is dropped (registered first, runs last).
      const store = await open();
      onTestFinished(async () => {
        for (const each of opened) await each.close();
      });
      return {
        store,
        reopen: open,
        url,
        async restartIdsAt(next) {
          const client = new pg.Client({ connectionString: url });
          await client.connect();
          await client.query('SELECT setval($1, $2)', ['messages_id_seq', next - 1]);
          await client.end();
        },
      };
    },
  },
];

/**
 * The changes of access the database announces from now on: SQLite's
 * `changes` log past its current end, PostgreSQL's NOTIFYs on a LISTEN
 * connection of the test's own. `take()` waits for `count` of them.
 */
async function announcements({ store, url }: Opened): Promise<(count: number) => Promise<AccessChange[]>> {
  if (store.backend === 'sqlite') {
    const from = store.admin.lastChangeId();
    return async () => store.admin.changesSince(from).map((row) => changeOfRow(row)!);
  }
  const client = new pg.Client({ connectionString: url });
  await client.connect();
  onTestFinished(() => client.end());
  const heard: AccessChange[] = [];
  client.on('notification', (message) => heard.push(parseChange(message.payload)!));
  await client.query('LISTEN pollster_changes');
  return async (count) => {
    for (let i = 0; i < 200 && heard.length < count; i++) await new Promise((resolve) => setTimeout(resolve, 10));
    return heard.splice(0);
  };
}

describe.each(backends)('store contract: $name', ({ open }) => {
  it('creates the schema and the demo data once; a second open keeps them', async () => {
    const { store, reopen } = await open();
    expect(store.seeded).toBe(true);
    const again = await reopen();
    expect(again.seeded).toBe(false);
    expect((await again.publicWalls()).map((wall) => [wall.id, wall.name, wall.public])).toEqual([[1, 'General', true]]);
    const demo = await again.userByName('demo');
    expect((await again.wallsOf(demo!.id)).map((wall) => wall.id)).toEqual([1, 2, 3, 4]);
  });

  it('answers who may read and post: members both, anyone reads a public wall', async () => {
    const { store } = await open();
    const bob = (await store.userByName('bob'))!;
    const alice = (await store.userByName('alice'))!;
    expect(await store.userByName('nobody')).toBeUndefined();
    expect(await store.userByName('bo\u0000b')).toBeUndefined();
    expect((await store.readableWalls(null)).map((wall) => wall.id)).toEqual([1]);
    expect((await store.readableWalls(bob.id)).map((wall) => wall.id)).toEqual([1, 2, 3]);
    expect(await store.canRead(null, 1)).toBe(true);
    expect(await store.canRead(null, 2)).toBe(false);
    expect(await store.canRead(bob.id, 2)).toBe(true);
    expect(await store.canRead(alice.id, 2)).toBe(false);
    expect(await store.canRead(bob.id, 99)).toBe(false);
    expect(await store.canPost(bob.id, 1)).toBe(false);
    expect(await store.canPost(alice.id, 1)).toBe(true);
    expect(await store.wallExists(4)).toBe(true);
    expect(await store.wallExists(5)).toBe(false);
  });

  it('answers which of many walls a reader may read in one query: public, member, granted (when it exists); never a missing one', async () => {
    const { store } = await open();
    const bob = (await store.userByName('bob'))!;
    const alice = (await store.userByName('alice'))!;
    const sorted = async (ids: number[] | Promise<number[]>): Promise<number[]> => [...(await ids)].sort((a, b) => a - b);
    const hundred = Array.from({ length: 100 }, (_, i) => i + 1);
    expect(await sorted(store.readableAmong(null, hundred))).toEqual([1]);
    expect(await sorted(store.readableAmong(bob.id, hundred))).toEqual([1, 2, 3]);
    expect(await sorted(store.readableAmong(alice.id, [2, 1, 99]))).toEqual([1]);
    // A grant reads a wall it names that exists, and nothing else; membership still counts.
    expect(await sorted(store.readableAmong(bob.id, [4, 3, 99], [4, 99]))).toEqual([3, 4]);
    expect(await sorted(store.readableAmong(alice.id, [2, 4], [4]))).toEqual([4]);
    expect(await store.readableAmong(bob.id, [])).toEqual([]);
  });

  it('posts where the author may, in one step: a member, or a granted wall that exists; nothing elsewhere', async () => {
    const { store } = await open();
    const bob = (await store.userByName('bob'))!;
    const mine = await store.postIfAllowed(2, bob, 'a member', false);
    expect(mine).toMatchObject({ wall_id: 2, user: 'bob', content: 'a member' });
    expect((await store.messagesAfter(2, mine!.id - 1, 10)).map((m) => m.content)).toEqual(['a member']);
    expect(await store.postIfAllowed(1, bob, 'not a member', false)).toBeUndefined();
    expect(await store.postIfAllowed(99, bob, 'no wall', false)).toBeUndefined();
    expect(await store.postIfAllowed(4, bob, 'granted', true)).toMatchObject({ wall_id: 4, content: 'granted' });
    expect(await store.postIfAllowed(99, bob, 'granted, no wall', true)).toBeUndefined();
    expect((await store.messagesAfter(1, mine!.id, 10)).length).toBe(0);
  });

  it('slides a session expiry with use, ends it on logout, and prunes expired ones in bounded runs', async () => {
    const { store } = await open();
    const bob = (await store.userByName('bob'))!;
    const t0 = 1_700_000_000_000;
    const ttl = TTL_S * 1000;
    const id = await store.createSession(bob.id, t0);
    expect(id).toMatch(/^[\w-]{32}$/);
    expect(await store.sessionUser(id, t0 + ttl - 1)).toEqual({ id: bob.id, name: 'bob' });
    // That use moved expiry to (t0 + ttl − 1) + ttl: alive past the first TTL.
    expect(await store.sessionUser(id, t0 + ttl + 10)).toEqual({ id: bob.id, name: 'bob' });
    const slid = t0 + 2 * ttl - 2;
    expect(await store.sessionUser(id, slid)).toBeDefined();
    // Expiry is now slid + ttl. A use within the refresh step (1% of the TTL,
    // 1 s here) writes nothing: had it written, the session would outlive this.
    expect(await store.sessionUser(id, slid + 500)).toBeDefined();
    expect(await store.sessionUser(id, slid + ttl + 100)).toBeUndefined();
    expect(await store.sessionUser('no-such-session', t0)).toBeUndefined();

    const live = await store.createSession(bob.id, t0);
    expect(await store.deleteSession(live)).toBe(true);
    expect(await store.deleteSession(live)).toBe(false);
    expect(await store.sessionUser(live, t0)).toBeUndefined();

    for (let i = 0; i < 3; i++) await store.createSession(bob.id, t0);
    const later = t0 + 10 * ttl;
    expect(await store.pruneSessions(2, later)).toBe(2);
    // The first session expired too: 3 + 1 expired in all, 2 went in the first run.
    expect(await store.pruneSessions(10, later)).toBe(2);
    expect(await store.pruneSessions(10, later)).toBe(0);
  });

  it('creates a user the first time a token names it, once, even when two first sightings race', async () => {
    const { store, reopen } = await open();
    const other = await reopen();
    expect(await store.ensureUser('alice')).toEqual(await store.userByName('alice'));
    const [one, two] = await Promise.all([store.ensureUser('carol ✓'), other.ensureUser('carol ✓')]);
    expect(one).toEqual(two);
    expect(one).toEqual(await store.userByName('carol ✓'));
    expect(one.id).toBeGreaterThan(3);
    // A new user belongs to no wall: public walls only, until a token grants more.
    expect(await store.wallsOf(one.id)).toEqual([]);
    expect((await store.readableWalls(one.id)).map((wall) => wall.id)).toEqual([1]);
    expect((await store.wallsOf(one.id, [3, 99])).map((wall) => wall.id)).toEqual([3]);
    expect((await store.readableWalls(one.id, [4, 99])).map((wall) => wall.id)).toEqual([1, 4]);
    expect((await store.readableWalls(null, [2])).map((wall) => wall.id)).toEqual([1, 2]);
    const bob = (await store.userByName('bob'))!;
    expect((await store.wallsOf(bob.id, [2, 4])).map((wall) => wall.id)).toEqual([2, 3, 4]);
  });

  it("keeps a token session's walls and never slides its expiry past the token's end", async () => {
    const { store } = await open();
    const bob = (await store.userByName('bob'))!;
    const t0 = 1_700_000_000_000;
    const ttl = TTL_S * 1000;
    const endsAt = t0 + ttl + ttl / 2;
    const id = await store.createSession(bob.id, t0, { granted: [4], endsAt });
    expect(await store.sessionUser(id, t0)).toEqual({ id: bob.id, name: 'bob', granted: [4], endsAt });
    // Used just before its TTL: a plain session would slide to t0 + 2·ttl; this one stops at endsAt.
    expect(await store.sessionUser(id, t0 + ttl - 1)).toBeDefined();
    expect(await store.sessionUser(id, endsAt - 1)).toBeDefined();
    expect(await store.sessionUser(id, endsAt)).toBeUndefined();
    // A token ending before the TTL ends the session then, unused or not.
    const short = await store.createSession(bob.id, t0, { granted: [], endsAt: t0 + 1000 });
    expect(await store.sessionUser(short, t0 + 999)).toEqual({ id: bob.id, name: 'bob', granted: [], endsAt: t0 + 1000 });
    expect(await store.sessionUser(short, t0 + 1000)).toBeUndefined();
    expect(await store.pruneSessions(10, endsAt)).toBe(2);
  });

  it('creates, renames, publishes and deletes walls; a deleted wall takes its messages and memberships with it', async () => {
    const { store } = await open();
    const { admin } = store;
    const demo = (await store.userByName('demo'))!;
    const team = await admin.createWall('Team', false);
    expect(team).toEqual({ id: expect.any(Number), name: 'Team', public: false });
    expect(team.id).toBeGreaterThan(4);
    expect(await admin.updateWall(team.id, { name: 'Team ✓' })).toEqual({ id: team.id, name: 'Team ✓', public: false });
    expect(await admin.updateWall(team.id, { public: true })).toEqual({ id: team.id, name: 'Team ✓', public: true });
    expect(await admin.updateWall(999, { public: true })).toBeUndefined();
    expect((await admin.listWalls()).map((wall) => wall.name)).toEqual(['General', 'Ruby', 'Node', 'Random', 'Team ✓']);
    expect(await admin.addMember(team.id, demo.id)).toBe(true);
    const posted = await store.postMessage(team.id, demo, 'on the team wall');
    expect(await admin.deleteWall(team.id)).toBe(true);
    expect(await admin.deleteWall(team.id)).toBe(false);
    expect(await store.wallExists(team.id)).toBe(false);
    expect(await store.messagesAfter(team.id, 0, 10)).toEqual([]);
    expect((await store.wallsOf(demo.id)).map((wall) => wall.id)).toEqual([1, 2, 3, 4]);
    // Message ids are never reused, whatever was deleted: a cursor stays valid.
    expect((await store.postMessage(1, demo, 'after')).id).toBeGreaterThan(posted.id);
  });

  it('creates users once, and deletes them with their sessions, memberships and messages', async () => {
    const { store } = await open();
    const { admin } = store;
    const carol = await admin.createUser('carol');
    expect(carol).toEqual({ id: expect.any(Number), name: 'carol' });
    await expect(Promise.resolve().then(() => admin.createUser('carol'))).rejects.toBeInstanceOf(NameTakenError);
    expect((await admin.listUsers()).map((user) => user.name)).toEqual(['demo', 'alice', 'bob', 'carol']);
    expect(await admin.addMember(1, carol.id)).toBe(true);
    const session = await store.createSession(carol.id);
    const mine = await store.postMessage(1, carol, 'by carol');
    const theirs = await store.postMessage(1, (await store.userByName('alice'))!, 'by alice');
    expect(await admin.deleteUser(carol.id)).toBe(true);
    expect(await admin.deleteUser(carol.id)).toBe(false);
    expect(await store.userByName('carol')).toBeUndefined();
    expect(await store.sessionUser(session)).toBeUndefined();
    expect((await store.messagesAfter(1, mine.id - 1, 10)).map((m) => m.id)).toEqual([theirs.id]);
    // The name is free again.
    expect((await admin.createUser('carol')).name).toBe('carol');
  });

  it('adds and removes members idempotently, revokes sessions, and answers who may still read and which sessions live', async () => {
    const { store } = await open();
    const { admin } = store;
    const bob = (await store.userByName('bob'))!;
    const alice = (await store.userByName('alice'))!;
    expect(await admin.addMember(4, bob.id)).toBe(true);
    expect(await admin.addMember(4, bob.id)).toBe(true);
    expect(await admin.addMember(99, bob.id)).toBe(false);
    expect(await admin.addMember(4, 999)).toBe(false);
    expect(await store.canPost(bob.id, 4)).toBe(true);
    const readers = await admin.wallReaders(4, [bob.id, alice.id, 999]);
    expect(readers).toEqual({ exists: true, public: false, members: new Set([bob.id]) });
    expect(await admin.wallReaders(1, [])).toEqual({ exists: true, public: true, members: new Set() });
    expect(await admin.wallReaders(99, [bob.id])).toEqual({ exists: false, public: false, members: new Set() });
    expect(await admin.removeMember(4, bob.id)).toBe(true);
    expect(await admin.removeMember(4, bob.id)).toBe(false);
    expect(await store.canRead(bob.id, 4)).toBe(false);

    const t0 = Date.now();
    const sessions = [await store.createSession(bob.id, t0), await store.createSession(bob.id, t0)];
    const other = await store.createSession(alice.id, t0);
    expect((await admin.liveSessions([...sessions, other, 'nope', 'n\u0000'], t0)).sort()).toEqual([...sessions, other].sort());
    expect(await admin.liveSessions([other], t0 + TTL_S * 1000)).toEqual([]);
    expect(await admin.revokeSessions(bob.id)).toBe(2);
    expect(await admin.revokeSessions(bob.id)).toBe(0);
    expect(await admin.liveSessions([...sessions, other], t0)).toEqual([other]);
  });

  it('announces every change of access from the database itself, and nothing else', async () => {
    const opened = await open();
    const { store } = opened;
    const { admin } = store;
    const take = await announcements(opened);
    const bob = (await store.userByName('bob'))!;
    const carol = await admin.createUser('carol');
    const team = await admin.createWall('Team', true);
    await admin.addMember(team.id, carol.id);
    await admin.updateWall(team.id, { name: 'Renamed' });
    await admin.updateWall(team.id, { public: true });
    await store.postMessage(team.id, carol, 'no change of access');
    const session = await store.createSession(bob.id);
    // Only what can take access away: none of the above.
    expect(await take(0)).toEqual([]);

    expect(await store.deleteSession(session)).toBe(true);
    await admin.updateWall(team.id, { public: false });
    await admin.removeMember(2, bob.id);
    await admin.deleteUser(carol.id);
    await admin.deleteWall(team.id);
    expect(await take(6)).toEqual([
      { kind: 'session', userId: bob.id, key: sessionKey(session) },
      { kind: 'wall', wallId: team.id },
      { kind: 'member', wallId: 2, userId: bob.id },
      // A user goes with her memberships.
      { kind: 'member', wallId: team.id, userId: carol.id },
      { kind: 'user', userId: carol.id },
      { kind: 'wall', wallId: team.id },
    ]);
  });

  it('stores a message of exactly the limit in code points and reads it back unchanged', async () => {
    const { store } = await open();
    const demo = (await store.userByName('demo'))!;
    const content = '😀'.repeat(MAX_CONTENT_LENGTH);
    const posted = await store.postMessage(3, demo, content);
    expect(posted).toMatchObject({ wall_id: 3, user: 'demo', content });
    expect(Number.isNaN(Date.parse(posted.created_at))).toBe(false);
    const [read] = await store.messagesAfter(3, posted.id - 1, 10);
    expect(read).toEqual(posted);
  });

  it('reads messages after a cursor, oldest first, per wall and across walls, within the limit', async () => {
    const { store } = await open();
    const demo = (await store.userByName('demo'))!;
    const start = Math.max(...(await store.wallsOf(demo.id)).map((wall) => wall.latest_message_id));
    const posted = [];
    for (const wall of [2, 3, 2, 4, 3]) posted.push(await store.postMessage(wall, demo, `on ${wall}`));
    expect((await store.messagesAfter(2, start, 10)).map((m) => m.id)).toEqual([posted[0]!.id, posted[2]!.id]);
    expect((await store.messagesAfter(2, start, 1)).map((m) => m.id)).toEqual([posted[0]!.id]);
    const across = await store.messagesAfterOnWalls([2, 3], start, 10);
    expect(across.map((m) => m.id)).toEqual([posted[0]!.id, posted[1]!.id, posted[2]!.id, posted[4]!.id]);
    expect((await store.messagesAfterOnWalls([2, 3], start, 2)).length).toBe(2);
    const walls = await store.wallsOf(demo.id);
    expect(walls.find((wall) => wall.id === 3)!.latest_message_id).toBe(posted[4]!.id);
  });

  it('keeps ids exact up to 2^53−1', async () => {
    const { store, restartIdsAt } = await open();
    const demo = (await store.userByName('demo'))!;
    await restartIdsAt(Number.MAX_SAFE_INTEGER - 1);
    const first = await store.postMessage(4, demo, 'one below the top');
    const top = await store.postMessage(4, demo, 'the top');
    expect([first.id, top.id]).toEqual([Number.MAX_SAFE_INTEGER - 1, Number.MAX_SAFE_INTEGER]);
    expect((await store.messagesAfter(4, first.id, 10)).map((m) => m.id)).toEqual([Number.MAX_SAFE_INTEGER]);
    expect((await store.messagesAfterOnWalls([4], first.id - 1, 10)).map((m) => m.id)).toEqual([first.id, top.id]);
    expect((await store.wallsOf(demo.id)).find((wall) => wall.id === 4)!.latest_message_id).toBe(Number.MAX_SAFE_INTEGER);
  });

  it("bounded history: raises a wall's floor by count and by age, only ever upwards, and prunes below it in bounded batches; two processes doing it is harmless", async () => {
    const { store, reopen } = await open();
    const other = await reopen();
    const demo = (await store.userByName('demo'))!;
    expect(await store.historyFloors()).toEqual([]);
    const posted: number[] = [];
    for (let i = 0; i < 8; i++) posted.push((await store.postMessage(3, demo, `m${i}`)).id);
    const wall3 = (await store.historyOverview()).find((wall) => wall.wall_id === 3)!;
    expect(wall3).toMatchObject({ floor: 0, newest: posted[7], oldest: 4 });
    expect(Math.abs(wall3.oldest_kept_at! - Date.now())).toBeLessThan(60_000);

    // Keep 3: the floor is the 4th newest; a second raise, or a looser one elsewhere, moves nothing.
    const keep3 = { maxPerWall: 3, cutoffMs: null, scan: 100 };
    expect(await store.raiseHistoryFloor(3, 0, keep3)).toBe(posted[4]);
    expect(await other.raiseHistoryFloor(3, 0, keep3)).toBeNull();
    expect(await other.raiseHistoryFloor(3, 0, { ...keep3, maxPerWall: 6 })).toBeNull();
    expect(await store.historyFloors()).toEqual([{ wall_id: 3, floor: posted[4] }]);

    // 6 messages at or below it (the demo one and 5 of ours), deleted in batches, by either process.
    expect(await store.pruneHistory(3, posted[4]!, 4)).toBe(4);
    expect(await other.pruneHistory(3, posted[4]!, 100)).toBe(2);
    expect(await store.pruneHistory(3, posted[4]!, 100)).toBe(0);
    expect((await store.messagesAfter(3, 0, 100)).map((m) => m.id)).toEqual(posted.slice(5));
    expect((await store.historyOverview()).find((wall) => wall.wall_id === 3)).toMatchObject({ floor: posted[4], oldest: posted[5] });
    // Other walls are untouched.
    expect((await store.messagesAfter(2, 0, 100)).length).toBe(1);

    // By age: nothing old enough moves nothing; once all is old, `scan` bounds how far one check goes.
    expect(await store.raiseHistoryFloor(3, posted[4]!, { maxPerWall: 0, cutoffMs: Date.now() - 60_000, scan: 100 })).toBeNull();
    expect(await store.raiseHistoryFloor(3, posted[4]!, { maxPerWall: 0, cutoffMs: Date.now() + 60_000, scan: 2 })).toBe(posted[6]);
    expect(await store.raiseHistoryFloor(3, posted[6]!, { maxPerWall: 0, cutoffMs: Date.now() + 60_000, scan: 100 })).toBe(posted[7]);
    expect(await other.historyFloors()).toEqual([{ wall_id: 3, floor: posted[7] }]);
  });

  it('bounded history: floors stay exact up to 2^53−1', async () => {
    const { store, restartIdsAt } = await open();
    const demo = (await store.userByName('demo'))!;
    await restartIdsAt(Number.MAX_SAFE_INTEGER - 2);
    for (let i = 0; i < 3; i++) await store.postMessage(4, demo, `near the top ${i}`);
    expect(await store.raiseHistoryFloor(4, 0, { maxPerWall: 1, cutoffMs: null, scan: 10 })).toBe(Number.MAX_SAFE_INTEGER - 1);
    expect(await store.historyFloors()).toEqual([{ wall_id: 4, floor: Number.MAX_SAFE_INTEGER - 1 }]);
    expect(await store.pruneHistory(4, Number.MAX_SAFE_INTEGER - 1, 10)).toBe(3);
    expect((await store.messagesAfter(4, 0, 10)).map((m) => m.id)).toEqual([Number.MAX_SAFE_INTEGER]);
  });
});
