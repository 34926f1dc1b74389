/**
 * Pollster's PostgreSQL database (`DATABASE_URL=postgres://…`): the same
 * tables and queries as the SQLite store (`sql.ts`), over one bounded
 * connection pool (`PG_POOL_SIZE`), every call asynchronous so the main
 * thread never waits on the network. Ids are `bigint` and come back as JS
 * numbers (exact up to 2^53−1). The schema and its triggers: `pg-schema.ts`.
 */
import pg from 'pg';
import type { AccessChange } from './changes.js';
import { PgHistory } from './history-pg.js';
import type { HistoryFloor, HistoryPolicy, WallHistory } from './history-sql.js';
import type { Message, SessionUser, TokenGrant, User, WallSummary } from './model.js';
import { PgAccessCache } from './pg-access-cache.js';
import { PgAdmin } from './pg-admin.js';
import { CONNECT_TIMEOUT_MS, describeUrl, isUnavailable, pgTypes } from './pg-connection.js';
import { type MessageRow, POSTED_COLUMNS, type PostedRow, statementName, toMessage } from './pg-rows.js';
import { migrate } from './pg-schema.js';
import { newSessionId, type SessionRow, sessionUserOf, slidExpiry } from './sessions.js';
import { POSTGRES, queries } from './sql.js';
import { DatabaseUnavailableError, type Storage } from './storage.js';

const QUERY_TIMEOUT_MS = 5000;

const SQL = queries(POSTGRES);

// They lived here once: the listener and the start-up line import them from this file.
export { CONNECT_TIMEOUT_MS, describeUrl, isUnavailable, newestPerWall, pgTypes } from './pg-connection.js';

export interface PgStoreOptions {
  url: string;
  poolSize: number;
  /** A session's lifetime since its last use (SESSION_TTL_S); default one day. */
  sessionTtlS?: number;
  /** Idle connections that fail (the server restarted) are reported here instead of crashing the process. */
  onIdleError?: (error: Error) => void;
}

/** Told of each message this process stored, with the id of the message before it on its wall. */
export type PostedHook = (message: Message, previousOnWall: number) => void;

/** text cannot hold U+0000, so no row has it (and PostgreSQL would refuse the parameter). */
const hasNul = (text: string): boolean => text.includes('\u0000');

export class PgStore implements Storage {
  readonly backend = 'postgres' as const;
  readonly seeded: boolean;
  /** Walls, users, memberships and revocation. */
  readonly admin: PgAdmin;
  readonly #pool: pg.Pool;
  readonly #sessionTtlMs: number;
  readonly #history = new PgHistory((text, values) => this.#query(text, values));
  readonly #access = new PgAccessCache();
  #onPosted: PostedHook | undefined;
  #closed = false;

  private constructor(pool: pg.Pool, sessionTtlMs: number, seeded: boolean) {
    this.#pool = pool;
    this.#sessionTtlMs = sessionTtlMs;
    this.seeded = seeded;
    const unavailable = (error: unknown): unknown =>
      isUnavailable(error) ? new DatabaseUnavailableError('Database unavailable', { cause: error }) : error;
    this.admin = new PgAdmin(
      pool,
      <R extends pg.QueryResultRow>(text: string, values?: unknown[]) => this.#query<R>(text, values),
      unavailable,
      () => this.#access.forget({ kind: 'all' }),
    );
  }

  static pool(options: PgStoreOptions): pg.Pool {
    const pool = new pg.Pool({
      connectionString: options.url,
      max: options.poolSize,
      connectionTimeoutMillis: CONNECT_TIMEOUT_MS,
      idleTimeoutMillis: 30_000,
      query_timeout: QUERY_TIMEOUT_MS,
      keepAlive: true,
      application_name: 'pollster',
      types: pgTypes,
    });
    pool.on('error', (error) => options.onIdleError?.(error));
    return pool;
  }

  /**
   * Connect, create or migrate the schema, seed an empty database. Fails with
   * one line naming the server when it cannot be reached.
   */
  static async open(options: PgStoreOptions): Promise<PgStore> {
    const pool = PgStore.pool(options);
    const sessionTtlMs = (options.sessionTtlS ?? 86_400) * 1000;
    try {
      return new PgStore(pool, sessionTtlMs, await migrate(pool, sessionTtlMs));
    } catch (error) {
      await pool.end().catch(() => {});
      const { code, message } = error as { code?: string; message?: string };
      // Unreachable, wrong password (28P01) or no such database (3D000): say where, in one line.
      if (isUnavailable(error) || code === '28P01' || code === '3D000') {
        // A refused connection to every address of a name comes as an AggregateError with an empty message.
        const reason = message || code || 'connection failed';
        throw new DatabaseUnavailableError(`cannot connect to PostgreSQL at ${describeUrl(options.url)}: ${reason}`, {
          cause: error,
        });
      }
      throw error;
    }
  }

  async #query<R extends pg.QueryResultRow>(text: string, values: unknown[] = []): Promise<R[]> {
    try {
      return (await this.#pool.query<R>({ name: statementName(text), text, values })).rows;
    } catch (error) {
      if (isUnavailable(error)) throw new DatabaseUnavailableError('Database unavailable', { cause: error });
      throw error;
    }
  }

  async #exists(text: string, values: unknown[]): Promise<boolean> {
    return (await this.#query(text, values)).length > 0;
  }

  async userByName(name: string): Promise<User | undefined> {
    if (hasNul(name)) return undefined;
    return (await this.#query<User>(SQL.userByName, [name]))[0];
  }

  async ensureUser(name: string): Promise<User> {
    const known = await this.userByName(name);
    if (known) return known;
    // A second statement, so it sees a row that a concurrent first sighting committed meanwhile.
    await this.#query(SQL.insertUser, [name]);
    return (await this.userByName(name))!;
  }

  wallsOf(userId: number, granted: readonly number[] = []): Promise<WallSummary[]> {
    if (granted.length > 0) return this.#query<WallSummary>(SQL.wallsOfGranted, [userId, granted]);
    return this.#query<WallSummary>(SQL.wallsOf, [userId]);
  }

  publicWalls(): Promise<WallSummary[]> {
    return this.#query<WallSummary>(SQL.publicWalls);
  }

  readableWalls(userId: number | null, granted: readonly number[] = []): Promise<WallSummary[]> {
    if (granted.length > 0) return this.#query<WallSummary>(SQL.readableWallsGranted, [userId, granted]);
    return this.#query<WallSummary>(SQL.readableWalls, [userId]);
  }

  wallExists(wallId: number): Promise<boolean> {
    return this.#exists(SQL.wallExists, [wallId]);
  }

  async canRead(userId: number | null, wallId: number): Promise<boolean> {
    if (this.#access.mayRead(userId, wallId)) return true;
    const generation = this.#access.generation;
    const ok = await this.#exists(SQL.canRead, [wallId, userId]);
    if (ok) this.#access.keepReadable(userId, [wallId], generation);
    return ok;
  }

  async readableAmong(userId: number | null, wallIds: readonly number[], granted: readonly number[] = []): Promise<number[]> {
    // A granted wall is readable while it exists: not kept, since a deleted wall is announced only to its readers' waits.
    const known = wallIds.filter((wallId) => !granted.includes(wallId) && this.#access.mayRead(userId, wallId));
    if (known.length === wallIds.length) return known;
    const asked = known.length === 0 ? wallIds : wallIds.filter((wallId) => !known.includes(wallId));
    const generation = this.#access.generation;
    const found = (await this.#query<{ id: number }>(SQL.readableAmong, [asked, granted, userId])).map((row) => row.id);
    this.#access.keepReadable(
      userId,
      found.filter((wallId) => !granted.includes(wallId)),
      generation,
    );
    return known.length === 0 ? found : [...known, ...found];
  }

  /** Where each stored message goes first (the listener's notified messages). */
  onPosted(hook: PostedHook): void {
    this.#onPosted = hook;
  }

  /** A change of access the database announced: what this store remembers of it is forgotten. */
  forget(change: AccessChange): void {
    this.#access.forget(change);
  }

  canPost(userId: number, wallId: number): Promise<boolean> {
    return this.#exists(SQL.isMember, [userId, wallId]);
  }

  async createSession(userId: number, now = Date.now(), grant?: TokenGrant): Promise<string> {
    const id = newSessionId();
    if (grant) {
      const expiresAt = Math.min(now + this.#sessionTtlMs, grant.endsAt);
      await this.#query(SQL.insertTokenSession, [id, userId, now, expiresAt, grant.endsAt, JSON.stringify(grant.granted)]);
    } else {
      await this.#query(SQL.insertSession, [id, userId, now, now + this.#sessionTtlMs]);
    }
    return id;
  }

  async sessionUser(sessionId: string, now = Date.now()): Promise<SessionUser | undefined> {
    if (hasNul(sessionId)) return undefined;
    // Its expiry slides by a step of a minute (or 1% of the TTL): a second's skip of the slide is nothing.
    const known = this.#access.session(sessionId, now);
    // Unless its slide is due: then the row is read and written as always.
    if (known && slidExpiry(known.expiresAt, now, this.#sessionTtlMs, known.hardExpiresAt) === null) return known.user;
    const generation = this.#access.generation;
    const row = (await this.#query<SessionRow>(SQL.sessionUser, [sessionId, now]))[0];
    if (!row) return undefined;
    const renewed = slidExpiry(row.expires_at, now, this.#sessionTtlMs, row.hard_expires_at);
    if (renewed !== null) await this.#query(SQL.extendSession, [renewed, sessionId]);
    const user = sessionUserOf(row);
    this.#access.keepSession(sessionId, user, renewed ?? row.expires_at, row.hard_expires_at, generation);
    return user;
  }

  deleteSession(sessionId: string): Promise<boolean> {
    if (hasNul(sessionId)) return Promise.resolve(false);
    // Gone here at once; other processes and hosts drop it when the announcement arrives.
    this.#access.dropSession(sessionId);
    return this.#exists(SQL.deleteSession, [sessionId]);
  }

  async pruneSessions(limit: number, now = Date.now()): Promise<number> {
    return (await this.#query(SQL.pruneSessions, [now, limit])).length;
  }

  async messagesAfter(wallId: number, after: number, limit: number): Promise<Message[]> {
    return (await this.#query<MessageRow>(SQL.messagesAfter, [wallId, after, limit])).map(toMessage);
  }

  async messagesAfterOnWalls(wallIds: readonly number[], after: number, limit: number): Promise<Message[]> {
    return (await this.#query<MessageRow>(SQL.messagesAfterOnWalls, [wallIds, after, limit])).map(toMessage);
  }

  async postIfAllowed(wallId: number, author: User, content: string, granted: boolean): Promise<Message | undefined> {
    // The check and the insert in one statement: a round trip fewer per post. No row: not allowed.
    const rows = await this.#query<PostedRow>(
      `INSERT INTO messages (wall_id, user_id, content)
       SELECT w.id, $2::bigint, $3::text FROM walls w
       WHERE w.id = $1::bigint AND ($4::boolean OR EXISTS (SELECT 1 FROM memberships WHERE wall_id = w.id AND user_id = $2::bigint))
       ${POSTED_COLUMNS}`,
      [wallId, author.id, content, granted],
    );
    return rows[0] && this.#posted(rows[0], author);
  }

  async postMessage(wallId: number, author: User, content: string): Promise<Message> {
    const rows = await this.#query<PostedRow>(`INSERT INTO messages (wall_id, user_id, content) VALUES ($1, $2, $3) ${POSTED_COLUMNS}`, [
      wallId,
      author.id,
      content,
    ]);
    return this.#posted(rows[0]!, author);
  }

  /** The author's name is known: no join back to users (as the SQLite store builds its message). */
  #posted(row: PostedRow, author: User): Message {
    const message = toMessage({ id: row.id, wall_id: row.wall_id, user: author.name, content: row.content, created_at: row.created_at });
    this.#onPosted?.(message, row.prev_id);
    return message;
  }

  async ping(): Promise<void> {
    await this.#query('SELECT 1');
  }

  historyFloors(): Promise<HistoryFloor[]> {
    return this.#history.floors();
  }

  historyOverview(): Promise<WallHistory[]> {
    return this.#history.overview();
  }

  raiseHistoryFloor(wallId: number, floor: number, policy: HistoryPolicy): Promise<number | null> {
    return this.#history.raiseFloor(wallId, floor, policy);
  }

  pruneHistory(wallId: number, floor: number, limit: number): Promise<number> {
    return this.#history.prune(wallId, floor, limit);
  }

  /** Connections of the pool: open, idle, and callers waiting for one. */
  poolStats(): { size: number; total: number; idle: number; waiting: number } {
    return {
      size: this.#pool.options.max,
      total: this.#pool.totalCount,
      idle: this.#pool.idleCount,
      waiting: this.#pool.waitingCount,
    };
  }

  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    await this.#pool.end();
  }
}
