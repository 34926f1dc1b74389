/**
 * Bounded history on PostgreSQL, through the store's pool (`pg-store.ts`
 * hands in its query function, which maps connection failures to
 * DatabaseUnavailableError). Each DELETE removes at most one small batch, so
 * no statement holds many row locks; posts never wait on them (an INSERT
 * takes no lock a DELETE of older rows holds, and the floor's UPDATE takes
 * none that an INSERT's foreign-key check needs).
 */
import type pg from 'pg';
import { type HistoryFloor, type HistoryPolicy, historyQueries, POSTGRES_HISTORY, raisedFloor, type WallHistory } from './history-sql.js';

const SQL = historyQueries(POSTGRES_HISTORY);
type Target = { target: number | null };

/** A query on the store's pool, resolving with its rows. */
export type PgQuery = <R extends pg.QueryResultRow>(text: string, values?: unknown[]) => Promise<R[]>;

export class PgHistory {
  readonly #query: PgQuery;

  constructor(query: PgQuery) {
    this.#query = query;
  }

  floors(): Promise<HistoryFloor[]> {
    return this.#query<HistoryFloor>(SQL.floors);
  }

  overview(): Promise<WallHistory[]> {
    return this.#query<WallHistory>(SQL.overview);
  }

  async raiseFloor(wallId: number, floor: number, { maxPerWall, cutoffMs, scan }: HistoryPolicy): Promise<number | null> {
    const [cap, age] = await Promise.all([
      maxPerWall > 0 ? this.#query<Target>(SQL.capTarget, [wallId, maxPerWall]) : null,
      cutoffMs !== null ? this.#query<Target>(SQL.ageTarget, [wallId, floor, scan, cutoffMs]) : null,
    ]);
    const target = raisedFloor(floor, cap?.[0]?.target, age?.[0]?.target);
    if (target === null) return null;
    return (await this.#query(SQL.raiseFloor, [target, wallId, target])).length > 0 ? target : null;
  }

  async prune(wallId: number, floor: number, limit: number): Promise<number> {
    return (await this.#query(`${SQL.prune} RETURNING 1 AS ok`, [wallId, floor, limit])).length;
  }
}
