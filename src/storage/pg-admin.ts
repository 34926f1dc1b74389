/**
 * PostgreSQL's side of the admin operations (`admin.ts`), over the store's
 * pool: single statements through the store's query function (its 503
 * mapping included), deletes with their dependent rows in one transaction
 * on one connection. `PgStore` hands these methods on; the triggers of
 * `change-schema.ts` NOTIFY every process at commit.
 */
import type pg from 'pg';
import { adminQueries } from './admin-sql.js';
import { type AdminStorage, NameTakenError, type Wall, type WallChange, type WallReaders } from './admin.js';
import type { User } from './model.js';
import { POSTGRES, queries } from './sql.js';
import { DatabaseUnavailableError } from './storage.js';

const SQL = adminQueries(POSTGRES);
const IS_MEMBER = queries(POSTGRES).isMember;

/** The store's query function: rows, or DatabaseUnavailableError when the server cannot be reached. */
export type PgQuery = <R extends pg.QueryResultRow>(text: string, values?: unknown[]) => Promise<R[]>;
type Run = (text: string, values: unknown[]) => Promise<unknown[]>;

const UNIQUE_VIOLATION = '23505';

export class PgAdmin implements AdminStorage {
  readonly #pool: pg.Pool;
  readonly #query: PgQuery;
  /** The store's mapping of a failure: DatabaseUnavailableError for the connection classes, else the error itself. */
  readonly #mapError: (error: unknown) => unknown;
  /**
   * Called once a change that takes access away has committed: this process
   * forgets what it cached at once, before its own announcement comes back
   * (`pg-access-cache.ts`), so its next request already sees the change.
   */
  readonly #revoked: () => void;

  constructor(pool: pg.Pool, query: PgQuery, mapError: (error: unknown) => unknown, revoked: () => void = () => {}) {
    this.#pool = pool;
    this.#query = query;
    this.#mapError = mapError;
    this.#revoked = revoked;
  }

  async #revoking<T>(change: Promise<T>): Promise<T> {
    try {
      return await change;
    } finally {
      this.#revoked();
    }
  }

  async #transaction<T>(work: (run: Run) => Promise<T>): Promise<T> {
    let client: pg.PoolClient;
    try {
      client = await this.#pool.connect();
    } catch (error) {
      throw this.#mapError(error);
    }
    let failure: unknown;
    try {
      await client.query('BEGIN');
      const result = await work(async (text, values) => (await client.query(text, values)).rows);
      await client.query('COMMIT');
      return result;
    } catch (error) {
      failure = this.#mapError(error);
      await client.query('ROLLBACK').catch(() => {});
      throw failure;
    } finally {
      // A connection that failed is not given back to the pool.
      client.release(failure instanceof DatabaseUnavailableError);
    }
  }

  listWalls(): Promise<Wall[]> {
    return this.#query<Wall>(SQL.listWalls);
  }

  async createWall(name: string, isPublic: boolean): Promise<Wall> {
    return (await this.#query<Wall>(SQL.insertWall, [name, isPublic]))[0]!;
  }

  async updateWall(wallId: number, change: WallChange): Promise<Wall | undefined> {
    const query = this.#query<Wall>(SQL.updateWall, [change.name ?? null, change.public ?? null, wallId]);
    return (await this.#revoking(query))[0];
  }

  deleteWall(wallId: number): Promise<boolean> {
    return this.#revoking(
      this.#transaction(async (run) => {
        await run(SQL.deleteWallMessages, [wallId]);
        await run(SQL.deleteWallMemberships, [wallId]);
        return (await run(SQL.deleteWall, [wallId])).length > 0;
      }),
    );
  }

  listUsers(): Promise<User[]> {
    return this.#query<User>(SQL.listUsers);
  }

  async createUser(name: string): Promise<User> {
    try {
      return (await this.#query<User>(SQL.insertUser, [name]))[0]!;
    } catch (error) {
      if ((error as { code?: string }).code === UNIQUE_VIOLATION) throw new NameTakenError(`user name "${name}" is taken`);
      throw error;
    }
  }

  deleteUser(userId: number): Promise<boolean> {
    return this.#revoking(
      this.#transaction(async (run) => {
        await run(SQL.deleteUserSessions, [userId]);
        await run(SQL.deleteUserMemberships, [userId]);
        await run(SQL.deleteUserMessages, [userId]);
        return (await run(SQL.deleteUser, [userId])).length > 0;
      }),
    );
  }

  async addMember(wallId: number, userId: number): Promise<boolean> {
    await this.#query(SQL.addMember, [userId, wallId]);
    return (await this.#query(IS_MEMBER, [userId, wallId])).length > 0;
  }

  async removeMember(wallId: number, userId: number): Promise<boolean> {
    return (await this.#revoking(this.#query(SQL.removeMember, [wallId, userId]))).length > 0;
  }

  async revokeSessions(userId: number): Promise<number> {
    return (await this.#revoking(this.#query(SQL.deleteUserSessions, [userId]))).length;
  }

  async wallReaders(wallId: number, userIds: readonly number[]): Promise<WallReaders> {
    const wall = (await this.#query<{ public: boolean }>(SQL.wallPublic, [wallId]))[0];
    if (!wall) return { exists: false, public: false, members: new Set() };
    const members = userIds.length === 0 ? [] : await this.#query<{ user_id: number }>(SQL.membersAmong, [wallId, userIds]);
    return { exists: true, public: wall.public, members: new Set(members.map((row) => row.user_id)) };
  }

  async liveSessions(sessionIds: readonly string[], now = Date.now()): Promise<string[]> {
    // text cannot hold U+0000: no session has such an id, and PostgreSQL would refuse the parameter.
    const possible = sessionIds.filter((id) => !id.includes('\u0000'));
    if (possible.length === 0) return [];
    return (await this.#query<{ id: string }>(SQL.liveSessions, [possible, now])).map((row) => row.id);
  }
}
