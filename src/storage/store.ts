/**
 * Pollster's SQLite database: schema, seed data and every read and write the
 * main thread (and the `npm run post` CLI) makes. Statements are prepared once.
 */
import { randomBytes } from 'node:crypto';
import { mkdirSync } from 'node:fs';
import { dirname } from 'node:path';
import Database, { type SqliteDatabase, type SqliteStatement } from './sqlite-driver.js';
import type { Message } from '../shared/types.js';
import type { MessageSource } from '../shared/poll-wait.js';
import { MessageReader } from './message-reader.js';
import type { Storage } from './storage.js';

/** Longest message, in characters; the API and the CLI both enforce it. */
export const MAX_CONTENT_LENGTH = 2000;

export interface User {
  id: number;
  name: string;
}

export interface Wall {
  id: number;
  name: string;
}

export interface WallSummary extends Wall {
  latest_message_id: number;
  /** Readable without a session (issue 10); posting still needs membership. */
  public: boolean;
}

type WallRow = Omit<WallSummary, 'public'> & { public: number };

function toWallSummary(row: WallRow): WallSummary {
  return { ...row, public: row.public === 1 };
}

export const SEED_WALLS = ['General', 'Ruby', 'Node', 'Random'];
export const SEED_USERS: Array<[string, number[]]> = [
  ['demo', [1, 2, 3, 4]],
  ['alice', [1]],
  ['bob', [2, 3]],
];
export const SEED_MESSAGES: Array<[number, string, string]> = [
  [1, 'alice', 'Welcome to Pollster! Every wall is long-polled on a worker thread.'],
  [1, 'demo', 'Post from another tab, or run: npm run post -- --wall 1 --user demo "hi"'],
  [2, 'bob', 'Puma threads and EM.defer did this in Ruby; Piscina does it here.'],
  [3, 'bob', 'Node wall: try MAX_THREADS=4 npm start and compare.'],
  [4, 'demo', 'Anything goes on the Random wall.'],
];

function seed(db: SqliteDatabase): void {
  const insertWall = db.prepare('INSERT INTO walls (id, name) VALUES (?, ?)');
  SEED_WALLS.forEach((name, index) => insertWall.run(index + 1, name));
  const insertUser = db.prepare('INSERT INTO users (name) VALUES (?)');
  const insertMembership = db.prepare('INSERT INTO memberships (user_id, wall_id) VALUES (?, ?)');
  const userIds = new Map<string, number>();
  for (const [name, walls] of SEED_USERS) {
    const userId = Number(insertUser.run(name).lastInsertRowid);
    userIds.set(name, userId);
    for (const wallId of walls) insertMembership.run(userId, wallId);
  }
  const insertMessage = db.prepare(
    'INSERT INTO messages (wall_id, user_id, content, created_at) VALUES (?, ?, ?, ?)',
  );
  const now = Date.now();
  for (const [wallId, user, content] of SEED_MESSAGES) insertMessage.run(wallId, userIds.get(user)!, content, now);
}

/** What a schema step may need beyond the database itself. */
interface MigrationContext {
  /** SESSION_TTL_S in ms: step 3 gives sessions made before it an expiry. */
  sessionTtlMs: number;
}

/**
 * Schema steps in order; step N brings `user_version` to N. Append new steps,
 * never edit a released one.
 */
const MIGRATIONS: Array<(db: SqliteDatabase, context: MigrationContext) => void> = [
  // 1: the original schema and the demo data.
  (db) => {
    db.exec(`
      CREATE TABLE IF NOT EXISTS users (id INTEGER PRIMARY KEY, name TEXT NOT NULL UNIQUE);
      CREATE TABLE IF NOT EXISTS walls (id INTEGER PRIMARY KEY, name TEXT NOT NULL);
      CREATE TABLE IF NOT EXISTS memberships (
        user_id INTEGER NOT NULL REFERENCES users(id),
        wall_id INTEGER NOT NULL REFERENCES walls(id),
        PRIMARY KEY (user_id, wall_id)
      );
      CREATE TABLE IF NOT EXISTS sessions (
        id TEXT PRIMARY KEY,
        user_id INTEGER NOT NULL REFERENCES users(id),
        created_at INTEGER NOT NULL
      );
      -- AUTOINCREMENT: ids are never reused, so a client's cursor stays valid.
      CREATE TABLE IF NOT EXISTS messages (
        id INTEGER PRIMARY KEY AUTOINCREMENT,
        wall_id INTEGER NOT NULL REFERENCES walls(id),
        user_id INTEGER NOT NULL REFERENCES users(id),
        content TEXT NOT NULL,
        created_at INTEGER NOT NULL
      );
      CREATE INDEX IF NOT EXISTS messages_wall_id ON messages (wall_id, id);
    `);
    seed(db);
  },
  // 2: public walls, readable without a session (issue 10). The demo's General is one.
  (db) => {
    db.exec('ALTER TABLE walls ADD COLUMN public INTEGER NOT NULL DEFAULT 0');
    db.prepare("UPDATE walls SET public = 1 WHERE id = 1 AND name = 'General'").run();
  },
  // 3: sessions expire (issue 11). `expires_at` is epoch ms; sessions made
  // before this step get created_at + SESSION_TTL_S. The index serves pruning.
  (db, { sessionTtlMs }) => {
    db.exec('ALTER TABLE sessions ADD COLUMN expires_at INTEGER');
    db.prepare('UPDATE sessions SET expires_at = created_at + ?').run(sessionTtlMs);
    db.exec('CREATE INDEX sessions_expires_at ON sessions (expires_at)');
  },
];

const SCHEMA_VERSION = MIGRATIONS.length;

export class Store implements MessageSource, Storage {
  readonly backend = 'sqlite' as const;
  readonly #db: SqliteDatabase;
  readonly #userByName: SqliteStatement<[string], User>;
  readonly #wallsOfUser: SqliteStatement<[number], WallRow>;
  readonly #publicWalls: SqliteStatement<[], WallRow>;
  readonly #readableWalls: SqliteStatement<[number], WallRow>;
  readonly #wallExists: SqliteStatement<[number], { id: number }>;
  readonly #isMember: SqliteStatement<[number, number], { ok: number }>;
  readonly #canRead: SqliteStatement<[number, number], { ok: number }>;
  readonly #insertSession: SqliteStatement<[string, number, number, number]>;
  readonly #sessionUser: SqliteStatement<[string, number], User & { expires_at: number }>;
  readonly #extendSession: SqliteStatement<[number, string]>;
  readonly #deleteSession: SqliteStatement<[string]>;
  readonly #pruneSessions: SqliteStatement<[number, number]>;
  readonly #sessionTtlMs: number;
  readonly #messages: MessageReader;
  readonly #insertMessage: SqliteStatement<[number, number, string, number]>;
  readonly #newestSince: SqliteStatement<[number], { wall_id: number; newest: number }>;

  /** `sessionTtlS`: a session's lifetime since its last use (SESSION_TTL_S). */
  constructor(path: string, { sessionTtlS = 86_400 }: { sessionTtlS?: number } = {}) {
    this.#sessionTtlMs = sessionTtlS * 1000;
    if (path !== ':memory:') mkdirSync(dirname(path), { recursive: true });
    this.#db = new Database(path);
    // WAL lets every worker thread read while this connection writes.
    // synchronous=NORMAL: a committed message survives a process crash;
    // only an OS crash or power loss can lose the last commits.
    this.#db.pragma('journal_mode = WAL');
    this.#db.pragma('synchronous = NORMAL');
    this.#db.pragma('busy_timeout = 5000');
    this.#db.pragma('foreign_keys = ON');
    this.#migrate();

    this.#userByName = this.#db.prepare('SELECT id, name FROM users WHERE name = ?');
    const wallColumns = `w.id, w.name, COALESCE((SELECT MAX(id) FROM messages WHERE wall_id = w.id), 0) AS latest_message_id, w.public`;
    this.#wallsOfUser = this.#db.prepare(
      `SELECT ${wallColumns} FROM walls w JOIN memberships ms ON ms.wall_id = w.id WHERE ms.user_id = ? ORDER BY w.id`,
    );
    this.#publicWalls = this.#db.prepare(`SELECT ${wallColumns} FROM walls w WHERE w.public = 1 ORDER BY w.id`);
    this.#readableWalls = this.#db.prepare(
      `SELECT ${wallColumns} FROM walls w
       WHERE w.public = 1 OR EXISTS (SELECT 1 FROM memberships WHERE wall_id = w.id AND user_id = ?) ORDER BY w.id`,
    );
    this.#wallExists = this.#db.prepare('SELECT id FROM walls WHERE id = ?');
    this.#isMember = this.#db.prepare('SELECT 1 AS ok FROM memberships WHERE user_id = ? AND wall_id = ?');
    // User id 0 never exists: an anonymous reader sees public walls only.
    this.#canRead = this.#db.prepare(
      `SELECT 1 AS ok FROM walls w WHERE w.id = ?
       AND (w.public = 1 OR EXISTS (SELECT 1 FROM memberships WHERE wall_id = w.id AND user_id = ?))`,
    );
    this.#insertSession = this.#db.prepare(
      'INSERT INTO sessions (id, user_id, created_at, expires_at) VALUES (?, ?, ?, ?)',
    );
    this.#sessionUser = this.#db.prepare(
      'SELECT u.id, u.name, s.expires_at FROM sessions s JOIN users u ON u.id = s.user_id WHERE s.id = ? AND s.expires_at > ?',
    );
    this.#extendSession = this.#db.prepare('UPDATE sessions SET expires_at = ? WHERE id = ?');
    this.#deleteSession = this.#db.prepare('DELETE FROM sessions WHERE id = ?');
    // Bounded: one call never holds the write lock for long, however many expired.
    this.#pruneSessions = this.#db.prepare(
      'DELETE FROM sessions WHERE rowid IN (SELECT rowid FROM sessions WHERE expires_at <= ? LIMIT ?)',
    );
    this.#messages = new MessageReader(this.#db);
    this.#insertMessage = this.#db.prepare(
      'INSERT INTO messages (wall_id, user_id, content, created_at) VALUES (?, ?, ?, ?)',
    );
    // A range on the rowid: cheap however long the table grows.
    this.#newestSince = this.#db.prepare(
      'SELECT wall_id, MAX(id) AS newest FROM messages WHERE id > ? GROUP BY wall_id',
    );
  }

  /**
   * Runs every step above the database's `user_version`, each in its own
   * IMMEDIATE transaction that re-reads the version under the write lock, so
   * processes starting together never run a step twice.
   */
  #migrate(): void {
    const version = (): number => this.#db.pragma('user_version', { simple: true }) as number;
    if (version() > SCHEMA_VERSION) {
      throw new Error(`database schema version ${version()} is newer than this Pollster (${SCHEMA_VERSION})`);
    }
    MIGRATIONS.forEach((step, index) => {
      const target = index + 1;
      this.#db.transaction(() => {
        if (version() >= target) return;
        step(this.#db, { sessionTtlMs: this.#sessionTtlMs });
        this.#db.pragma(`user_version = ${target}`);
      }).immediate();
    });
  }

  userByName(name: string): User | undefined {
    return this.#userByName.get(name);
  }

  /** The walls `userId` is a member of. */
  wallsOf(userId: number): WallSummary[] {
    return this.#wallsOfUser.all(userId).map(toWallSummary);
  }

  /** The walls anyone may read without a session. */
  publicWalls(): WallSummary[] {
    return this.#publicWalls.all().map(toWallSummary);
  }

  /** Every wall `userId` may read: its own and the public ones (`null`: public only). */
  readableWalls(userId: number | null): WallSummary[] {
    return this.#readableWalls.all(userId ?? 0).map(toWallSummary);
  }

  wallExists(wallId: number): boolean {
    return this.#wallExists.get(wallId) !== undefined;
  }

  /** Members read a wall; so does anyone, `null` (no session) included, if it is public. */
  canRead(userId: number | null, wallId: number): boolean {
    return this.#canRead.get(wallId, userId ?? 0) !== undefined;
  }

  /** Only members post, public wall or not. */
  canPost(userId: number, wallId: number): boolean {
    return this.#isMember.get(userId, wallId) !== undefined;
  }

  createSession(userId: number, now = Date.now()): string {
    const id = randomBytes(24).toString('base64url');
    this.#insertSession.run(id, userId, now, now + this.#sessionTtlMs);
    return id;
  }

  /**
   * The user of a live session, or undefined for an unknown, expired or
   * deleted one. Expiry slides: each use moves it to `now + SESSION_TTL_S`,
   * but only once it has fallen behind by a refresh step (a minute, or 1% of
   * the TTL if that is shorter), so a busy client does not write on every
   * request. A session therefore lives between TTL − step and TTL after its
   * last use.
   */
  sessionUser(sessionId: string, now = Date.now()): User | undefined {
    const row = this.#sessionUser.get(sessionId, now);
    if (!row) return undefined;
    const renewed = now + this.#sessionTtlMs;
    if (renewed - row.expires_at >= Math.min(60_000, this.#sessionTtlMs / 100)) {
      this.#extendSession.run(renewed, sessionId);
    }
    return { id: row.id, name: row.name };
  }

  /** Log out: true when the session existed. */
  deleteSession(sessionId: string): boolean {
    return this.#deleteSession.run(sessionId).changes > 0;
  }

  /** Delete up to `limit` expired sessions; returns how many went. */
  pruneSessions(limit: number, now = Date.now()): number {
    return this.#pruneSessions.run(now, limit).changes;
  }

  /** Messages of `wallId` with id greater than `after`, oldest first. */
  messagesAfter(wallId: number, after: number, limit: number): Message[] {
    return this.#messages.messagesAfter(wallId, after, limit);
  }

  messagesAfterOnWalls(wallIds: readonly number[], after: number, limit: number): Message[] {
    return this.#messages.messagesAfterOnWalls(wallIds, after, limit);
  }

  /**
   * The message is built from what was stored, not read back: the read sat
   * on every post's path before its publish (issue 15, avoidable work).
   */
  postMessage(wallId: number, author: User, content: string): Message {
    const createdAt = Date.now();
    const { lastInsertRowid } = this.#insertMessage.run(wallId, author.id, content, createdAt);
    return { id: Number(lastInsertRowid), wall_id: wallId, user: author.name, content, created_at: new Date(createdAt).toISOString() };
  }

  /** The newest message id of each wall that has messages with id above `after`. */
  newestPerWallSince(after: number): Array<{ wall_id: number; newest: number }> {
    return this.#newestSince.all(after);
  }

  /** Changes when another connection (the CLI, another process) commits. */
  dataVersion(): number {
    return this.#db.pragma('data_version', { simple: true }) as number;
  }

  close(): void {
    if (this.#db.open) this.#db.close();
  }
}
