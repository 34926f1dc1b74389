/**
 * Pollster's PostgreSQL database (`DATABASE_URL=postgres://…`): the same
 * tables and queries as the SQLite store, over one bounded connection pool
 * (`PG_POOL_SIZE`), every call asynchronous so the main thread never waits on
 * the network. Ids are `bigint` and come back as JS numbers (exact up to
 * 2^53−1).
 *
 * Two triggers make any writer — Pollster on any host, `psql`, another
 * application — behave like a Pollster post:
 * - `messages_number` (BEFORE INSERT) numbers each message under a
 *   transaction-scoped advisory lock, so ids become visible in id order. With
 *   plain sequence defaults, two concurrent inserts can commit 11 before 10,
 *   and a reader whose cursor passed 11 would never see 10.
 * - `messages_notify` (AFTER INSERT, per statement) `pg_notify`s
 *   `pollster_messages` with `wall_id:newest_id` for each wall written; every
 *   Pollster process LISTENs (`pg-listener.ts`) and raises its board.
 */
import { randomBytes } from 'node:crypto';
import pg from 'pg';
import type { Message } from '../shared/types.js';
import { DatabaseUnavailableError, type Storage } from './storage.js';
import { SEED_MESSAGES, SEED_USERS, SEED_WALLS, type User, type WallSummary } from './store.js';

export const SCHEMA_VERSION = 1;
export const NOTIFY_CHANNEL = 'pollster_messages';
/** Advisory lock keys: one orders message ids, one serialises migrations across processes. */
const NUMBERING_LOCK = 7_081_963_001;
const MIGRATION_LOCK = 7_081_963_002;

/** Waiting longer than this for a free or new connection counts as "unavailable". */
export const CONNECT_TIMEOUT_MS = 2000;
const QUERY_TIMEOUT_MS = 5000;

/** `bigint` (and `count(*)`) as JS numbers rather than strings. */
export const pgTypes = {
  getTypeParser(oid: number, format?: 'text' | 'binary') {
    if (oid === pg.types.builtins.INT8) return (value: string) => Number(value);
    return pg.types.getTypeParser(oid, format);
  },
} as pg.CustomTypesConfig;

export interface PgStoreOptions {
  url: string;
  poolSize: number;
  /** A session's lifetime since its last use (SESSION_TTL_S); default one day. */
  sessionTtlS?: number;
  /** Idle connections that fail (the server restarted) are reported here instead of crashing the process. */
  onIdleError?: (error: Error) => void;
}

interface MessageRow {
  id: number;
  wall_id: number;
  user: string;
  content: string;
  created_at: Date;
}

const WALL_COLUMNS = `w.id, w.name, COALESCE((SELECT max(id) FROM messages WHERE wall_id = w.id), 0) AS latest_message_id, w.public`;
const MESSAGE_COLUMNS = `m.id, m.wall_id, u.name AS "user", m.content, m.created_at`;

function toMessage(row: MessageRow): Message {
  return { ...row, created_at: row.created_at.toISOString() };
}

/** `host:port/database` of a URL, without credentials, for error messages. */
export function describeUrl(url: string): string {
  try {
    const parsed = new URL(url);
    return `${parsed.hostname || 'localhost'}:${parsed.port || 5432}${parsed.pathname}`;
  } catch {
    return 'DATABASE_URL';
  }
}

/**
 * A PostgreSQL error with a SQLSTATE outside the connection classes is a
 * real error (a bug, a constraint); everything else — refused, reset, timed
 * out, terminated by a restart (57P01..57P03), class 08 — means "try later".
 */
export function isUnavailable(error: unknown): boolean {
  const code = (error as { code?: unknown } | null)?.code;
  if (typeof code === 'string' && /^[0-9A-Z]{5}$/.test(code)) return code.startsWith('08') || code.startsWith('57P');
  return true;
}

export class PgStore implements Storage {
  readonly backend = 'postgres' as const;
  readonly #pool: pg.Pool;
  readonly #sessionTtlMs: number;
  #closed = false;

  private constructor(pool: pg.Pool, sessionTtlS: number) {
    this.#pool = pool;
    this.#sessionTtlMs = sessionTtlS * 1000;
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
    try {
      await migrate(pool);
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
    return new PgStore(pool, options.sessionTtlS ?? 86_400);
  }

  async #query<R extends pg.QueryResultRow>(text: string, values: unknown[] = []): Promise<R[]> {
    try {
      return (await this.#pool.query<R>(text, values)).rows;
    } catch (error) {
      if (isUnavailable(error)) throw new DatabaseUnavailableError('Database unavailable', { cause: error });
      throw error;
    }
  }

  async userByName(name: string): Promise<User | undefined> {
    // text cannot hold U+0000, so no such row exists (and PostgreSQL would refuse the parameter).
    if (name.includes('\u0000')) return undefined;
    return (await this.#query<User>('SELECT id, name FROM users WHERE name = $1', [name]))[0];
  }

  wallsOf(userId: number): Promise<WallSummary[]> {
    return this.#query<WallSummary>(
      `SELECT ${WALL_COLUMNS} FROM walls w JOIN memberships ms ON ms.wall_id = w.id WHERE ms.user_id = $1 ORDER BY w.id`,
      [userId],
    );
  }

  publicWalls(): Promise<WallSummary[]> {
    return this.#query<WallSummary>(`SELECT ${WALL_COLUMNS} FROM walls w WHERE w.public ORDER BY w.id`);
  }

  readableWalls(userId: number | null): Promise<WallSummary[]> {
    return this.#query<WallSummary>(
      `SELECT ${WALL_COLUMNS} FROM walls w
       WHERE w.public OR EXISTS (SELECT 1 FROM memberships WHERE wall_id = w.id AND user_id = $1) ORDER BY w.id`,
      [userId],
    );
  }

  async wallExists(wallId: number): Promise<boolean> {
    return (await this.#query('SELECT 1 FROM walls WHERE id = $1', [wallId])).length > 0;
  }

  async canRead(userId: number | null, wallId: number): Promise<boolean> {
    const rows = await this.#query(
      `SELECT 1 FROM walls w WHERE w.id = $1
       AND (w.public OR EXISTS (SELECT 1 FROM memberships WHERE wall_id = w.id AND user_id = $2))`,
      [wallId, userId],
    );
    return rows.length > 0;
  }

  async canPost(userId: number, wallId: number): Promise<boolean> {
    return (await this.#query('SELECT 1 FROM memberships WHERE user_id = $1 AND wall_id = $2', [userId, wallId])).length > 0;
  }

  async createSession(userId: number, now = Date.now()): Promise<string> {
    const id = randomBytes(24).toString('base64url');
    await this.#query('INSERT INTO sessions (id, user_id, created_at, expires_at) VALUES ($1, $2, $3, $4)', [
      id,
      userId,
      now,
      now + this.#sessionTtlMs,
    ]);
    return id;
  }

  /** As the SQLite store: expiry slides, written only once it lags by a refresh step. */
  async sessionUser(sessionId: string, now = Date.now()): Promise<User | undefined> {
    if (sessionId.includes('\u0000')) return undefined;
    const rows = await this.#query<User & { expires_at: number }>(
      'SELECT u.id, u.name, s.expires_at FROM sessions s JOIN users u ON u.id = s.user_id WHERE s.id = $1 AND s.expires_at > $2',
      [sessionId, now],
    );
    const row = rows[0];
    if (!row) return undefined;
    const renewed = now + this.#sessionTtlMs;
    if (renewed - row.expires_at >= Math.min(60_000, this.#sessionTtlMs / 100)) {
      await this.#query('UPDATE sessions SET expires_at = $1 WHERE id = $2', [renewed, sessionId]);
    }
    return { id: row.id, name: row.name };
  }

  async deleteSession(sessionId: string): Promise<boolean> {
    if (sessionId.includes('\u0000')) return false;
    return (await this.#query('DELETE FROM sessions WHERE id = $1 RETURNING 1', [sessionId])).length > 0;
  }

  async pruneSessions(limit: number, now = Date.now()): Promise<number> {
    // Bounded: one call never locks many rows, however many expired.
    const rows = await this.#query(
      'DELETE FROM sessions WHERE id IN (SELECT id FROM sessions WHERE expires_at <= $1 LIMIT $2) RETURNING 1',
      [now, limit],
    );
    return rows.length;
  }

  async messagesAfter(wallId: number, after: number, limit: number): Promise<Message[]> {
    const rows = await this.#query<MessageRow>(
      `SELECT ${MESSAGE_COLUMNS} FROM messages m JOIN users u ON u.id = m.user_id
       WHERE m.wall_id = $1 AND m.id > $2 ORDER BY m.id LIMIT $3`,
      [wallId, after, limit],
    );
    return rows.map(toMessage);
  }

  async messagesAfterOnWalls(wallIds: readonly number[], after: number, limit: number): Promise<Message[]> {
    const rows = await this.#query<MessageRow>(
      `SELECT ${MESSAGE_COLUMNS} FROM messages m JOIN users u ON u.id = m.user_id
       WHERE m.wall_id = ANY($1::bigint[]) AND m.id > $2 ORDER BY m.id LIMIT $3`,
      [wallIds, after, limit],
    );
    return rows.map(toMessage);
  }

  async postMessage(wallId: number, author: User, content: string): Promise<Message> {
    // The author's name is known: no join back to users (as the SQLite store builds its message).
    const rows = await this.#query<Omit<MessageRow, 'user'>>(
      'INSERT INTO messages (wall_id, user_id, content) VALUES ($1, $2, $3) RETURNING id, wall_id, content, created_at',
      [wallId, author.id, content],
    );
    const row = rows[0]!;
    return toMessage({ id: row.id, wall_id: row.wall_id, user: author.name, content: row.content, created_at: row.created_at });
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

/** The newest message id of every wall, read on `client` (the listener's own connection). */
export async function newestPerWall(client: pg.ClientBase): Promise<Array<{ wall_id: number; newest: number }>> {
  // One index probe per wall, however long the messages table grows.
  const { rows } = await client.query<{ wall_id: number; newest: number | null }>(
    'SELECT w.id AS wall_id, (SELECT max(id) FROM messages WHERE wall_id = w.id) AS newest FROM walls w',
  );
  return rows.filter((row): row is { wall_id: number; newest: number } => row.newest !== null);
}

async function migrate(pool: pg.Pool): Promise<void> {
  const client = await pool.connect();
  try {
    await client.query('BEGIN');
    // Several processes (WEB_CONCURRENCY, several hosts) may start at once.
    await client.query('SELECT pg_advisory_xact_lock($1)', [MIGRATION_LOCK]);
    await client.query('CREATE TABLE IF NOT EXISTS pollster_schema_version (version integer NOT NULL)');
    const { rows } = await client.query<{ version: number }>('SELECT max(version) AS version FROM pollster_schema_version');
    const version = rows[0]?.version ?? 0;
    if (version > SCHEMA_VERSION) {
      throw new Error(`database schema version ${version} is newer than this Pollster (${SCHEMA_VERSION})`);
    }
    if (version < 1) {
      await client.query(SCHEMA_1);
      await seed(client);
      await client.query('INSERT INTO pollster_schema_version (version) VALUES (1)');
    }
    await client.query('COMMIT');
  } catch (error) {
    await client.query('ROLLBACK').catch(() => {});
    throw error;
  } finally {
    client.release();
  }
}

const SCHEMA_1 = `
  CREATE TABLE IF NOT EXISTS users (
    id bigint GENERATED BY DEFAULT AS IDENTITY PRIMARY KEY,
    name text NOT NULL UNIQUE
  );
  CREATE TABLE IF NOT EXISTS walls (
    id bigint GENERATED BY DEFAULT AS IDENTITY PRIMARY KEY,
    name text NOT NULL,
    public boolean NOT NULL DEFAULT false
  );
  CREATE TABLE IF NOT EXISTS memberships (
    user_id bigint NOT NULL REFERENCES users(id),
    wall_id bigint NOT NULL REFERENCES walls(id),
    PRIMARY KEY (user_id, wall_id)
  );
  CREATE TABLE IF NOT EXISTS sessions (
    id text PRIMARY KEY,
    user_id bigint NOT NULL REFERENCES users(id),
    created_at bigint NOT NULL,
    -- epoch ms; slides forward on use (SESSION_TTL_S)
    expires_at bigint NOT NULL
  );
  CREATE INDEX IF NOT EXISTS sessions_expires_at ON sessions (expires_at);
  -- Numbered by the messages_number trigger, never reused: a cursor stays valid.
  CREATE SEQUENCE IF NOT EXISTS messages_id_seq AS bigint;
  CREATE TABLE IF NOT EXISTS messages (
    id bigint PRIMARY KEY,
    wall_id bigint NOT NULL REFERENCES walls(id),
    user_id bigint NOT NULL REFERENCES users(id),
    content text NOT NULL,
    created_at timestamptz NOT NULL DEFAULT now()
  );
  ALTER SEQUENCE messages_id_seq OWNED BY messages.id;
  CREATE INDEX IF NOT EXISTS messages_wall_id ON messages (wall_id, id);

  CREATE OR REPLACE FUNCTION pollster_number_message() RETURNS trigger LANGUAGE plpgsql AS $$
  BEGIN
    -- Held until commit: the next writer numbers its row only after this one is visible.
    PERFORM pg_advisory_xact_lock(${NUMBERING_LOCK});
    NEW.id := nextval('messages_id_seq');
    RETURN NEW;
  END $$;
  DROP TRIGGER IF EXISTS messages_number ON messages;
  CREATE TRIGGER messages_number BEFORE INSERT ON messages
    FOR EACH ROW EXECUTE FUNCTION pollster_number_message();

  CREATE OR REPLACE FUNCTION pollster_notify_messages() RETURNS trigger LANGUAGE plpgsql AS $$
  DECLARE
    wall record;
  BEGIN
    FOR wall IN SELECT wall_id, max(id) AS newest FROM inserted GROUP BY wall_id LOOP
      PERFORM pg_notify('${NOTIFY_CHANNEL}', wall.wall_id || ':' || wall.newest);
    END LOOP;
    RETURN NULL;
  END $$;
  DROP TRIGGER IF EXISTS messages_notify ON messages;
  CREATE TRIGGER messages_notify AFTER INSERT ON messages
    REFERENCING NEW TABLE AS inserted FOR EACH STATEMENT EXECUTE FUNCTION pollster_notify_messages();
`;

async function seed(client: pg.PoolClient): Promise<void> {
  const { rows } = await client.query<{ n: number }>('SELECT count(*) AS n FROM walls');
  if (rows[0]!.n > 0) return;
  const wallIds: number[] = [];
  for (const [index, name] of SEED_WALLS.entries()) {
    // General is the public wall, as in the SQLite store.
    const inserted = await client.query<{ id: number }>('INSERT INTO walls (name, public) VALUES ($1, $2) RETURNING id', [
      name,
      index === 0,
    ]);
    wallIds.push(inserted.rows[0]!.id);
  }
  const userIds = new Map<string, number>();
  for (const [name, walls] of SEED_USERS) {
    const inserted = await client.query<{ id: number }>('INSERT INTO users (name) VALUES ($1) RETURNING id', [name]);
    const userId = inserted.rows[0]!.id;
    userIds.set(name, userId);
    for (const wall of walls) {
      await client.query('INSERT INTO memberships (user_id, wall_id) VALUES ($1, $2)', [userId, wallIds[wall - 1]]);
    }
  }
  for (const [wall, user, content] of SEED_MESSAGES) {
    await client.query('INSERT INTO messages (wall_id, user_id, content) VALUES ($1, $2, $3)', [
      wallIds[wall - 1],
      userIds.get(user),
      content,
    ]);
  }
}
