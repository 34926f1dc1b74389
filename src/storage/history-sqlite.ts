/**
 * Bounded history on SQLite: the main thread's statements, prepared once.
 * Targets are found by reads, which take no lock in WAL mode; only the
 * one-row UPDATE of a floor and each bounded DELETE write, so every write
 * lock is short and posts (of this process, the CLI, other processes) wait
 * at most one batch.
 */
import { type HistoryFloor, type HistoryPolicy, historyQueries, raisedFloor, SQLITE_HISTORY, type WallHistory } from './history-sql.js';
import type { SqliteDatabase, SqliteStatement } from './sqlite-driver.js';

const SQL = historyQueries(SQLITE_HISTORY);
type Target = { target: number | null };

export class SqliteHistory {
  readonly #floors: SqliteStatement<[], HistoryFloor>;
  readonly #overview: SqliteStatement<[], WallHistory>;
  readonly #capTarget: SqliteStatement<[number, number], Target>;
  readonly #ageTarget: SqliteStatement<[number, number, number, number], Target>;
  readonly #raiseFloor: SqliteStatement<[number, number, number], HistoryFloor>;
  readonly #prune: SqliteStatement<[number, number, number]>;

  constructor(db: SqliteDatabase) {
    this.#floors = db.prepare(SQL.floors);
    this.#overview = db.prepare(SQL.overview);
    this.#capTarget = db.prepare(SQL.capTarget);
    this.#ageTarget = db.prepare(SQL.ageTarget);
    this.#raiseFloor = db.prepare(SQL.raiseFloor);
    this.#prune = db.prepare(SQL.prune);
  }

  floors(): HistoryFloor[] {
    return this.#floors.all();
  }

  overview(): WallHistory[] {
    return this.#overview.all();
  }

  raiseFloor(wallId: number, floor: number, { maxPerWall, cutoffMs, scan }: HistoryPolicy): number | null {
    const cap = maxPerWall > 0 ? this.#capTarget.get(wallId, maxPerWall)?.target : null;
    const age = cutoffMs !== null ? this.#ageTarget.get(wallId, floor, scan, cutoffMs)?.target : null;
    const target = raisedFloor(floor, cap, age);
    if (target === null) return null;
    return this.#raiseFloor.get(target, wallId, target) ? target : null;
  }

  prune(wallId: number, floor: number, limit: number): number {
    return this.#prune.run(wallId, floor, limit).changes;
  }
}
