/**
 * Pollster's SQLite database: every read and write the main thread (and the
 * CLI) makes. Statements are prepared once; the schema history is in
 * `sqlite-schema.ts`, the query text shared with PostgreSQL in `sql.ts`.
 */
import { mkdirSync } from 'node:fs';
import { dirname } from 'node:path';
import type { MessageSource } from '../shared/poll-wait.js';
import type { HistoryFloor, HistoryPolicy, WallHistory } from './history-sql.js';
import { SqliteHistory } from './history-sqlite.js';
import { MessageReader } from './message-reader.js';
import { assertKnownVersion } from './migrations.js';
import type { Message, SessionUser, TokenGrant, User, WallSummary } from './model.js';
import { newSessionId, type SessionRow, sessionUserOf, slidExpiry } from './sessions.js';
import { queries, SQLITE } from './sql.js';
import { SqliteAdmin } from './sqlite-admin.js';
import Database, { type SqliteDatabase, type SqliteStatement } from './sqlite-driver.js';
import { SQLITE_MIGRATIONS } from './sqlite-schema.js';
import type { Storage } from './storage.js';

type WallRow = Omit<WallSummary, 'public'> & { public: number };
type Ok = { ok: number };

function toWallSummary(row: WallRow): WallSummary {
  return { ...row, public: row.public === 1 };
}

const SQL = queries(SQLITE);

export interface SqliteStoreOptions {
  /** A session's lifetime since its last use (SESSION_TTL_S); default one day. */
  sessionTtlS?: number;
}

export class SqliteStore implements MessageSource, Storage {
  readonly backend = 'sqlite' as const;
  /** True when this open created the schema and wrote the demo data. */
  readonly seeded: boolean;
  /** Walls, users, memberships, revocation, and the `changes` log the watcher reads. */
  readonly admin: SqliteAdmin;
  readonly #db: SqliteDatabase;
  readonly #userByName: SqliteStatement<[string], User>;
  readonly #insertUser: SqliteStatement<[string]>;
  readonly #wallsOfUser: SqliteStatement<[number], WallRow>;
  readonly #wallsOfGranted: SqliteStatement<[number, string], WallRow>;
  readonly #publicWalls: SqliteStatement<[], WallRow>;
  readonly #readableWalls: SqliteStatement<[number], WallRow>;
  readonly #readableWallsGranted: SqliteStatement<[number, string], WallRow>;
  readonly #wallExists: SqliteStatement<[number], Ok>;
  readonly #isMember: SqliteStatement<[number, number], Ok>;
  readonly #canRead: SqliteStatement<[number, number], Ok>;
  readonly #readableAmong: SqliteStatement<[string, string, number], { id: number }>;
  readonly #insertSession: SqliteStatement<[string, number, number, number]>;
  readonly #insertTokenSession: SqliteStatement<[string, number, number, number, number, string]>;
  readonly #sessionUser: SqliteStatement<[string, number], SessionRow>;
  readonly #extendSession: SqliteStatement<[number, string]>;
  readonly #deleteSession: SqliteStatement<[string]>;
  readonly #pruneSessions: SqliteStatement<[number, number]>;
  readonly #sessionTtlMs: number;
  readonly #messages: MessageReader;
  readonly #history: SqliteHistory;
  readonly #insertMessage: SqliteStatement<[number, number, string, number]>;
  readonly #newestSince: SqliteStatement<[number], { wall_id: number; newest: number }>;

  constructor(path: string, { sessionTtlS = 86_400 }: SqliteStoreOptions = {}) {
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
    this.seeded = this.#migrate();

    const db = this.#db;
    this.admin = new SqliteAdmin(db);
    this.#userByName = db.prepare(SQL.userByName);
    this.#insertUser = db.prepare(SQL.insertUser);
    this.#wallsOfUser = db.prepare(SQL.wallsOf);
    this.#wallsOfGranted = db.prepare(SQL.wallsOfGranted);
    this.#publicWalls = db.prepare(SQL.publicWalls);
    this.#readableWalls = db.prepare(SQL.readableWalls);
    this.#readableWallsGranted = db.prepare(SQL.readableWallsGranted);
    this.#wallExists = db.prepare(SQL.wallExists);
    this.#isMember = db.prepare(SQL.isMember);
    this.#canRead = db.prepare(SQL.canRead);
    this.#readableAmong = db.prepare(SQL.readableAmong);
    this.#insertSession = db.prepare(SQL.insertSession);
    this.#insertTokenSession = db.prepare(SQL.insertTokenSession);
    this.#sessionUser = db.prepare(SQL.sessionUser);
    this.#extendSession = db.prepare(SQL.extendSession);
    this.#deleteSession = db.prepare('DELETE FROM sessions WHERE id = ?');
    this.#pruneSessions = db.prepare(SQL.pruneSessions);
    this.#messages = new MessageReader(db);
    this.#history = new SqliteHistory(db);
    this.#insertMessage = db.prepare('INSERT INTO messages (wall_id, user_id, content, created_at) VALUES (?, ?, ?, ?)');
    // A range on the rowid: cheap however long the table grows.
    this.#newestSince = db.prepare('SELECT wall_id, MAX(id) AS newest FROM messages WHERE id > ? GROUP BY wall_id');
  }

  /**
   * Runs every step above the database's `user_version`, each in its own
   * IMMEDIATE transaction that re-reads the version under the write lock, so
   * processes starting together never run a step twice. True when step 1
   * (schema and demo data) ran here.
   */
  #migrate(): boolean {
    const version = (): number => this.#db.pragma('user_version', { simple: true }) as number;
    assertKnownVersion(version(), SQLITE_MIGRATIONS);
    let seeded = false;
    SQLITE_MIGRATIONS.forEach((step, index) => {
      const target = index + 1;
      this.#db
        .transaction(() => {
          if (version() >= target) return;
          step(this.#db, { sessionTtlMs: this.#sessionTtlMs });
          this.#db.pragma(`user_version = ${target}`);
          if (target === 1) seeded = true;
        })
        .immediate();
    });
    return seeded;
  }

  userByName(name: string): User | undefined {
    return this.#userByName.get(name);
  }

  ensureUser(name: string): User {
    const known = this.#userByName.get(name);
    if (known) return known;
    this.#insertUser.run(name);
    return this.#userByName.get(name)!;
  }

  wallsOf(userId: number, granted: readonly number[] = []): WallSummary[] {
    if (granted.length > 0) return this.#wallsOfGranted.all(userId, JSON.stringify(granted)).map(toWallSummary);
    return this.#wallsOfUser.all(userId).map(toWallSummary);
  }

  publicWalls(): WallSummary[] {
    return this.#publicWalls.all().map(toWallSummary);
  }

  readableWalls(userId: number | null, granted: readonly number[] = []): WallSummary[] {
    // User id 0 never exists: an anonymous reader sees public walls only.
    if (granted.length > 0) return this.#readableWallsGranted.all(userId ?? 0, JSON.stringify(granted)).map(toWallSummary);
    return this.#readableWalls.all(userId ?? 0).map(toWallSummary);
  }

  wallExists(wallId: number): boolean {
    return this.#wallExists.get(wallId) !== undefined;
  }

  canRead(userId: number | null, wallId: number): boolean {
    return this.#canRead.get(wallId, userId ?? 0) !== undefined;
  }

  readableAmong(userId: number | null, wallIds: readonly number[], granted: readonly number[] = []): number[] {
    if (wallIds.length === 0) return [];
    return this.#readableAmong.all(JSON.stringify(wallIds), JSON.stringify(granted), userId ?? 0).map((row) => row.id);
  }

  canPost(userId: number, wallId: number): boolean {
    return this.#isMember.get(userId, wallId) !== undefined;
  }

  createSession(userId: number, now = Date.now(), grant?: TokenGrant): string {
    const id = newSessionId();
    if (grant) {
      const expiresAt = Math.min(now + this.#sessionTtlMs, grant.endsAt);
      this.#insertTokenSession.run(id, userId, now, expiresAt, grant.endsAt, JSON.stringify(grant.granted));
    } else {
      this.#insertSession.run(id, userId, now, now + this.#sessionTtlMs);
    }
    return id;
  }

  sessionUser(sessionId: string, now = Date.now()): SessionUser | undefined {
    const row = this.#sessionUser.get(sessionId, now);
    if (!row) return undefined;
    const renewed = slidExpiry(row.expires_at, now, this.#sessionTtlMs, row.hard_expires_at);
    if (renewed !== null) this.#extendSession.run(renewed, sessionId);
    return sessionUserOf(row);
  }

  deleteSession(sessionId: string): boolean {
    return this.#deleteSession.run(sessionId).changes > 0;
  }

  pruneSessions(limit: number, now = Date.now()): number {
    return this.#pruneSessions.all(now, limit).length;
  }

  messagesAfter(wallId: number, after: number, limit: number): Message[] {
    return this.#messages.messagesAfter(wallId, after, limit);
  }

  messagesAfterOnWalls(wallIds: readonly number[], after: number, limit: number): Message[] {
    return this.#messages.messagesAfterOnWalls(wallIds, after, limit);
  }

  /** The message is built from what was stored, not read back: a read fewer on every post's path before its publish. */
  postIfAllowed(wallId: number, author: User, content: string, granted: boolean): Message | undefined {
    const allowed = granted ? this.wallExists(wallId) : this.canPost(author.id, wallId);
    return allowed ? this.postMessage(wallId, author, content) : undefined;
  }

  postMessage(wallId: number, author: User, content: string): Message {
    const createdAt = Date.now();
    const { lastInsertRowid } = this.#insertMessage.run(wallId, author.id, content, createdAt);
    return { id: Number(lastInsertRowid), wall_id: wallId, user: author.name, content, created_at: new Date(createdAt).toISOString() };
  }

  historyFloors(): HistoryFloor[] {
    return this.#history.floors();
  }

  historyOverview(): WallHistory[] {
    return this.#history.overview();
  }

  raiseHistoryFloor(wallId: number, floor: number, policy: HistoryPolicy): number | null {
    return this.#history.raiseFloor(wallId, floor, policy);
  }

  pruneHistory(wallId: number, floor: number, limit: number): number {
    return this.#history.prune(wallId, floor, limit);
  }

  /** The newest message id of each wall that has messages with id above `after`. */
  newestPerWallSince(after: number): Array<{ wall_id: number; newest: number }> {
    return this.#newestSince.all(after);
  }

  /** Changes when another connection (the CLI, another process) commits. */
  dataVersion(): number {
    return this.#db.pragma('data_version', { simple: true }) as number;
  }

  ping(): void {
    this.#db.prepare('SELECT 1').get();
  }

  close(): void {
    if (this.#db.open) this.#db.close();
  }
}
