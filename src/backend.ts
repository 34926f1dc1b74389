/**
 * The database together with what tells this process of new messages:
 * SQLite — a SqliteStore on the main thread, a read connection per worker
 * thread, and the data_version watcher for other writers; PostgreSQL — a
 * bounded pool on the main thread only, and a LISTEN connection for every
 * writer's posts.
 */
import type { Logger } from 'pino';
import type { Config } from './config.js';
import { ChangeWatcher } from './poll/change-watcher.js';
import { PgListener } from './poll/pg-listener.js';
import type { Board } from './shared/board.js';
import { openStorage } from './storage/open-storage.js';
import type { PgStore } from './storage/pg-store.js';
import type { SqliteStore } from './storage/sqlite-store.js';

export type Backend =
  | { kind: 'sqlite'; store: SqliteStore; watcher: ChangeWatcher; close(): void }
  | { kind: 'postgres'; store: PgStore; watcher: null; listener: PgListener; close(): Promise<void> };

export async function openBackend(config: Config, board: Board, logger: Logger): Promise<Backend> {
  const store = await openStorage({
    ...config,
    onIdleError: (error) => logger.debug({ err: error }, 'an idle PostgreSQL connection failed'),
  });
  if (store.backend === 'sqlite') {
    const watcher = new ChangeWatcher(store, board, config.watchIntervalMs);
    watcher.refresh();
    return { kind: 'sqlite', store, watcher, close: () => store.close() };
  }
  const listener = new PgListener(config.databaseUrl!, board, logger, (change) => store.forget(change));
  // A post kept before its 201 and its wake-up: its waiters need no read (when the wall is whole up to it).
  store.onPosted((message, previousOnWall) => listener.messages.addPosted(message, previousOnWall));
  try {
    await listener.start();
  } catch (error) {
    await store.close();
    throw new Error(`cannot LISTEN on PostgreSQL: ${(error as Error).message}`, { cause: error });
  }
  return {
    kind: 'postgres',
    store,
    watcher: null,
    listener,
    async close() {
      await listener.stop();
      await store.close();
    },
  };
}
