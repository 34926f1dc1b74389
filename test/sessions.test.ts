/**
 * Session lifetime: `SESSION_TTL_S` with sliding expiry refreshed
 * at most once per step, `DELETE /sessions` ending the session everywhere —
 * its open streams and held polls included — bounded pruning of expired
 * rows, and schema step 3 on a database made before it.
 */
import { join } from 'node:path';
import Database from '../src/storage/sqlite-driver.js';
import { describe, expect, it } from 'vitest';
import { PRUNE_BATCH, SessionPruner } from '../src/storage/session-pruner.js';
import { SQLITE_MIGRATIONS } from '../src/storage/sqlite-schema.js';
import { SqliteStore as Store } from '../src/storage/sqlite-store.js';
import { eventually, startTestServer, tempDir } from './helpers/server.js';
import { openStream } from './helpers/sse.js';

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

function openStore(sessionTtlS: number): { store: Store; dbPath: string; expiresAt: (id: string) => number | undefined } {
  const dbPath = join(tempDir(), 'sessions.db');
  const store = new Store(dbPath, { sessionTtlS });
  const peek = new Database(dbPath, { readonly: true });
  return {
    store,
    dbPath,
    expiresAt: (id) =>
      (peek.prepare('SELECT expires_at FROM sessions WHERE id = ?').get(id) as { expires_at: number } | undefined)?.expires_at,
  };
}

describe('session expiry', () => {
  it('ends a session SESSION_TTL_S after its last use, and each use extends it (sliding)', async () => {
    const server = await startTestServer({ SESSION_TTL_S: '1' });
    const session = await server.login();
    // Used every 300 ms for 2 s: twice the TTL, still alive.
    const until = Date.now() + 2000;
    while (Date.now() < until) {
      expect((await server.call('GET', '/walls', { session })).status).toBe(200);
      await sleep(300);
    }
    await sleep(1200);
    const expired = await server.call('GET', '/walls', { session });
    expect(expired.status).toBe(401);
    expect(expired.json).toEqual({ errors: ['Unauthorized'] });
    expect((await server.call('POST', '/poll', { session, body: { last_post_id: { 1: 0 } } })).json).toEqual({ errors: ['Invalid user!'] });
    expect((await server.call('GET', `/check?session_id=${session}`)).status).toBe(401);
  });

  it('writes the new expiry at most once per refresh step (1% of the TTL, or a minute if less)', () => {
    const { store, expiresAt } = openStore(100); // step: 1 s
    const user = store.userByName('demo')!;
    const t0 = 1_000_000;
    const id = store.createSession(user.id, t0);
    expect(expiresAt(id)).toBe(t0 + 100_000);
    expect(store.sessionUser(id, t0 + 999)).toEqual(user);
    expect(expiresAt(id)).toBe(t0 + 100_000);
    expect(store.sessionUser(id, t0 + 1000)).toEqual(user);
    expect(expiresAt(id)).toBe(t0 + 101_000);
    expect(store.sessionUser(id, t0 + 101_000)).toBeUndefined();

    const daily = openStore(86_400); // step: 60 s, not 864 s
    const dailyId = daily.store.createSession(user.id, t0);
    daily.store.sessionUser(dailyId, t0 + 59_999);
    expect(daily.expiresAt(dailyId)).toBe(t0 + 86_400_000);
    daily.store.sessionUser(dailyId, t0 + 60_000);
    expect(daily.expiresAt(dailyId)).toBe(t0 + 60_000 + 86_400_000);
    store.close();
    daily.store.close();
  });
});

describe('DELETE /sessions', () => {
  it.each([
    ['Authorization: Bearer', (id: string) => ({ path: '/sessions', options: { session: id } })],
    ['?session_id=', (id: string) => ({ path: `/sessions?session_id=${id}`, options: {} })],
    ['a JSON body', (id: string) => ({ path: '/sessions', options: { body: { session_id: id } } })],
  ])('logs out with the session in %s', async (_how, carry) => {
    const server = await startTestServer();
    const session = await server.login();
    const other = await server.login();
    const { path, options } = carry(session);
    const reply = await server.call('DELETE', path, options);
    expect(reply.status).toBe(204);
    expect(reply.text).toBe('');
    expect((await server.call('GET', '/walls', { session })).status).toBe(401);
    // Logging out twice, or with no session, is 401.
    expect((await server.call('DELETE', path, options)).status).toBe(401);
    expect((await server.call('DELETE', '/sessions')).status).toBe(401);
    // Other sessions of the same user live on.
    expect((await server.call('GET', '/walls', { session: other })).status).toBe(200);
  });

  // Not inline: there a waiting stream holds the main thread, so nothing else is served anyway.
  it.each(['pool', 'multiplex'])("ends the session's open /check streams at once (%s)", async (mode) => {
    const server = await startTestServer({ POLL_MODE: mode, SSE_MAX_MS: '60000' });
    const session = await server.login();
    const other = await server.login();
    const mine = await openStream(server.agent, `${server.url}/check?session_id=${session}`);
    const theirs = await openStream(server.agent, `${server.url}/check?session_id=${other}`);
    await mine.next((event) => event.retry !== undefined);
    await theirs.next((event) => event.retry !== undefined);
    await eventually(() => server.pollster.stats().waiting_polls === 2);

    const started = Date.now();
    expect((await server.call('DELETE', '/sessions', { session })).status).toBe(204);
    await mine.ended;
    expect(Date.now() - started).toBeLessThan(2000);
    await eventually(() => server.pollster.stats().open_streams === 1);
    // The other session's stream still delivers.
    const posted = (await server.call('POST', '/walls/1/messages', { session: other, body: { content: 'still here' } })).json;
    const event = await theirs.next((e) => e.event === 'refresh');
    expect(JSON.parse(event.data!).messages).toEqual([posted]);
    theirs.close();
    // The browser's reconnect is refused.
    expect((await server.call('GET', `/check?session_id=${session}`)).status).toBe(401);
  });

  it("answers the session's held polls at once: 400 Invalid user!", async () => {
    const server = await startTestServer({ MAX_THREADS: '2' });
    const session = await server.login();
    const held = server.call('POST', '/poll', { session, body: { last_post_id: { 1: 1e9 }, timeout_ms: 30_000 } });
    await eventually(() => server.pollster.stats().waiting_polls === 1);
    const started = Date.now();
    expect((await server.call('DELETE', '/sessions', { session })).status).toBe(204);
    const reply = await held;
    expect(Date.now() - started).toBeLessThan(2000);
    expect(reply.status).toBe(400);
    expect(reply.json).toEqual({ errors: ['Invalid user!'] });
    await eventually(() => server.pollster.stats().pool.busy === 0);
  });
});

describe('pruning', () => {
  it('deletes expired sessions in bounded batches', () => {
    const { store, dbPath } = openStore(1);
    const user = store.userByName('demo')!;
    for (let i = 0; i < PRUNE_BATCH * 2 + 500; i++) store.createSession(user.id, 0);
    const live = store.createSession(user.id, Date.now());
    let pruned = 0;
    const pruner = new SessionPruner(store, 1, {
      onPruned: (n) => (pruned += n),
      onError: (e) => {
        throw e;
      },
    });
    expect(pruner.runOnce()).toBe(PRUNE_BATCH);
    expect(pruner.runOnce()).toBe(PRUNE_BATCH);
    expect(pruner.runOnce()).toBe(500);
    expect(pruner.runOnce()).toBe(0);
    expect(pruned).toBe(PRUNE_BATCH * 2 + 500);
    const count = new Database(dbPath, { readonly: true }).prepare('SELECT COUNT(*) AS n FROM sessions').get() as { n: number };
    expect(count.n).toBe(1);
    expect(store.sessionUser(live)).toEqual(user);
    store.close();
  });

  it('runs on its own while the server is up, and shows in /metrics', async () => {
    const server = await startTestServer({ SESSION_TTL_S: '1' });
    for (let i = 0; i < 3; i++) await server.login();
    const peek = new Database(server.dbPath, { readonly: true });
    const count = () => (peek.prepare('SELECT COUNT(*) AS n FROM sessions').get() as { n: number }).n;
    expect(count()).toBe(3);
    await eventually(() => count() === 0, 5000);
    peek.close();
    const metrics = (await server.call('GET', '/metrics')).text;
    expect(metrics).toMatch(/^pollster_sessions_pruned_total 3$/m);
  });
});

describe('schema step 3', () => {
  it('adds sessions.expires_at to a version-1 database: existing sessions get created_at + SESSION_TTL_S', () => {
    const dbPath = join(tempDir(), 'v1.db');
    const old = new Database(dbPath);
    old.exec(`
      CREATE TABLE users (id INTEGER PRIMARY KEY, name TEXT NOT NULL UNIQUE);
      CREATE TABLE walls (id INTEGER PRIMARY KEY, name TEXT NOT NULL);
      CREATE TABLE memberships (user_id INTEGER NOT NULL, wall_id INTEGER NOT NULL, PRIMARY KEY (user_id, wall_id));
      CREATE TABLE sessions (id TEXT PRIMARY KEY, user_id INTEGER NOT NULL REFERENCES users(id), created_at INTEGER NOT NULL);
      CREATE TABLE messages (id INTEGER PRIMARY KEY AUTOINCREMENT, wall_id INTEGER NOT NULL, user_id INTEGER NOT NULL, content TEXT NOT NULL, created_at INTEGER NOT NULL);
      INSERT INTO users (id, name) VALUES (1, 'demo');
      INSERT INTO sessions VALUES ('old-and-expired', 1, 1000), ('recent', 1, ${Date.now() - 1000});
      PRAGMA user_version = 1;
    `);
    old.close();
    const store = new Store(dbPath, { sessionTtlS: 3600 });
    const db = new Database(dbPath, { readonly: true });
    expect(db.pragma('user_version', { simple: true })).toBe(SQLITE_MIGRATIONS.length);
    const rows = db.prepare('SELECT id, created_at, expires_at FROM sessions ORDER BY id').all() as Array<{
      created_at: number;
      expires_at: number;
    }>;
    for (const row of rows) expect(row.expires_at).toBe(row.created_at + 3_600_000);
    expect(store.sessionUser('old-and-expired')).toBeUndefined();
    expect(store.sessionUser('recent')).toEqual({ id: 1, name: 'demo' });
    db.close();
    store.close();
    // Opening again changes nothing.
    const again = new Store(dbPath, { sessionTtlS: 3600 });
    expect(again.sessionUser('recent')).toEqual({ id: 1, name: 'demo' });
    again.close();
  });

  it('refuses a database from a newer Pollster', () => {
    const dbPath = join(tempDir(), 'future.db');
    const future = new Database(dbPath);
    future.pragma('user_version = 99');
    future.close();
    expect(() => new Store(dbPath)).toThrow(`database schema version 99 is newer than this Pollster (${SQLITE_MIGRATIONS.length})`);
  });
});
