/**
 * Opens the database the config names — PostgreSQL for a `postgres://`
 * DATABASE_URL, else SQLite at DB_PATH — for the server and the CLI alike.
 */
import type { Config } from '../config.js';
import { PgStore } from './pg-store.js';
import { SqliteStore } from './sqlite-store.js';

export type StorageOptions = Pick<Config, 'databaseUrl' | 'dbPath' | 'sessionTtlS' | 'pgPoolSize'> & {
  /** Idle PostgreSQL connections that fail are reported here. */
  onIdleError?: (error: Error) => void;
};

/** SQLite opens synchronously; PostgreSQL fails with one line naming the server when it cannot be reached. */
export async function openStorage(options: StorageOptions): Promise<SqliteStore | PgStore> {
  const { databaseUrl, dbPath, sessionTtlS, pgPoolSize, onIdleError } = options;
  if (databaseUrl === null) return new SqliteStore(dbPath, { sessionTtlS });
  return PgStore.open({ url: databaseUrl, poolSize: pgPoolSize, sessionTtlS, ...(onIdleError ? { onIdleError } : {}) });
}
