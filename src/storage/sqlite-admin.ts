/**
 * SQLite's side of the admin operations (`admin.ts`) and of the `changes`
 * log (`changes.ts`), on the store's own connection: statements prepared
 * once, each delete with its dependent rows in one transaction. `SqliteStore`
 * hands these methods on.
 */
import { adminQueries } from './admin-sql.js';
import { type AdminStorage, NameTakenError, type Wall, type WallChange, type WallReaders } from './admin.js';
import type { ChangeRow } from './changes.js';
import type { User } from './model.js';
import { queries, SQLITE } from './sql.js';
import type { SqliteDatabase, SqliteStatement } from './sqlite-driver.js';

const SQL = adminQueries(SQLITE);
const IS_MEMBER = queries(SQLITE).isMember;

type WallRow = Omit<Wall, 'public'> & { public: number };

const toWall = (row: WallRow): Wall => ({ id: row.id, name: row.name, public: row.public === 1 });

/** The prepared statements, by the name of their query. */
type Statements = { [K in keyof typeof SQL]: SqliteStatement<unknown[], unknown> };

export class SqliteAdmin implements AdminStorage {
  readonly #db: SqliteDatabase;
  readonly #sql: Statements;
  readonly #isMember: SqliteStatement<[number, number], unknown>;

  constructor(db: SqliteDatabase) {
    this.#db = db;
    this.#sql = Object.fromEntries(Object.entries(SQL).map(([name, text]) => [name, db.prepare(text)])) as Statements;
    this.#isMember = db.prepare(IS_MEMBER);
  }

  listWalls(): Wall[] {
    return (this.#sql.listWalls.all() as WallRow[]).map(toWall);
  }

  createWall(name: string, isPublic: boolean): Wall {
    return toWall(this.#sql.insertWall.get(name, isPublic ? 1 : 0) as WallRow);
  }

  updateWall(wallId: number, change: WallChange): Wall | undefined {
    const isPublic = change.public === undefined ? null : change.public ? 1 : 0;
    const row = this.#sql.updateWall.get(change.name ?? null, isPublic, wallId) as WallRow | undefined;
    return row && toWall(row);
  }

  deleteWall(wallId: number): boolean {
    return this.#db.transaction(() => {
      this.#sql.deleteWallMessages.run(wallId);
      this.#sql.deleteWallMemberships.run(wallId);
      return this.#sql.deleteWall.get(wallId) !== undefined;
    })();
  }

  listUsers(): User[] {
    return this.#sql.listUsers.all() as User[];
  }

  createUser(name: string): User {
    try {
      return this.#sql.insertUser.get(name) as User;
    } catch (error) {
      if ((error as { code?: string }).code === 'SQLITE_CONSTRAINT_UNIQUE') throw new NameTakenError(`user name "${name}" is taken`);
      throw error;
    }
  }

  deleteUser(userId: number): boolean {
    return this.#db.transaction(() => {
      this.#sql.deleteUserSessions.all(userId);
      this.#sql.deleteUserMemberships.run(userId);
      this.#sql.deleteUserMessages.run(userId);
      return this.#sql.deleteUser.get(userId) !== undefined;
    })();
  }

  addMember(wallId: number, userId: number): boolean {
    this.#sql.addMember.run(userId, wallId);
    return this.#isMember.get(userId, wallId) !== undefined;
  }

  removeMember(wallId: number, userId: number): boolean {
    return this.#sql.removeMember.get(wallId, userId) !== undefined;
  }

  revokeSessions(userId: number): number {
    return this.#sql.deleteUserSessions.all(userId).length;
  }

  wallReaders(wallId: number, userIds: readonly number[]): WallReaders {
    const wall = this.#sql.wallPublic.get(wallId) as { public: number } | undefined;
    if (!wall) return { exists: false, public: false, members: new Set() };
    const members = userIds.length === 0 ? [] : (this.#sql.membersAmong.all(wallId, JSON.stringify(userIds)) as Array<{ user_id: number }>);
    return { exists: true, public: wall.public === 1, members: new Set(members.map((row) => row.user_id)) };
  }

  liveSessions(sessionIds: readonly string[], now = Date.now()): string[] {
    if (sessionIds.length === 0) return [];
    return (this.#sql.liveSessions.all(JSON.stringify(sessionIds), now) as Array<{ id: string }>).map((row) => row.id);
  }

  /** Rows of the `changes` log after `afterId`, oldest first. */
  changesSince(afterId: number): ChangeRow[] {
    return this.#sql.changesSince.all(afterId) as ChangeRow[];
  }

  /** The newest id in the `changes` log (0 when empty): where a new watcher starts. */
  lastChangeId(): number {
    return (this.#sql.lastChangeId.get() as { id: number }).id;
  }
}
