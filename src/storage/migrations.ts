/**
 * The one shape of a schema history, for both backends: numbered steps in
 * order, step N bringing the version recorded in the database to N. Append
 * new steps; never edit a released one.
 */

/** What a step may need beyond the database itself. */
export interface MigrationContext {
  /** SESSION_TTL_S in ms: a step that adds expiry gives existing sessions one. */
  sessionTtlMs: number;
}

/** A step: SQLite's run synchronously inside a transaction, PostgreSQL's return a promise. */
export type MigrationStep<Db, Result = void> = (db: Db, context: MigrationContext) => Result;

/** A database written by a newer Pollster must not be touched by this one. */
export function assertKnownVersion(found: number, steps: readonly unknown[]): void {
  if (found > steps.length) {
    throw new Error(`database schema version ${found} is newer than this Pollster (${steps.length})`);
  }
}
