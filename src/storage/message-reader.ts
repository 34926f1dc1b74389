/**
 * The message queries a waiting poll needs, prepared once per connection.
 * Each worker thread opens its own read-only connection (a connection must
 * not cross threads), and WAL mode lets all of them read while the main
 * thread writes; the main thread's SqliteStore uses the same queries on its own.
 */
import type { MessageSource } from '../shared/poll-wait.js';
import type { Message } from '../shared/types.js';
import { queries, SQLITE } from './sql.js';
import Database, { type SqliteDatabase, type SqliteStatement } from './sqlite-driver.js';

interface MessageRow {
  id: number;
  wall_id: number;
  user: string;
  content: string;
  created_at: number;
}

const SQL = queries(SQLITE);

export function toMessage(row: MessageRow): Message {
  return { ...row, created_at: new Date(row.created_at).toISOString() };
}

export class MessageReader implements MessageSource {
  readonly #db: SqliteDatabase;
  readonly #after: SqliteStatement<[number, number, number], MessageRow>;
  readonly #afterOnWalls: SqliteStatement<[string, number, number], MessageRow>;

  constructor(db: SqliteDatabase) {
    this.#db = db;
    this.#after = db.prepare(SQL.messagesAfter);
    this.#afterOnWalls = db.prepare(SQL.messagesAfterOnWalls);
  }

  /** A read-only connection of its own, for a worker thread. */
  static open(dbPath: string): MessageReader {
    const db = new Database(dbPath, { readonly: true, fileMustExist: true });
    db.pragma('busy_timeout = 5000');
    return new MessageReader(db);
  }

  messagesAfter(wallId: number, after: number, limit: number): Message[] {
    return this.#after.all(wallId, after, limit).map(toMessage);
  }

  messagesAfterOnWalls(wallIds: readonly number[], after: number, limit: number): Message[] {
    return this.#afterOnWalls.all(JSON.stringify(wallIds), after, limit).map(toMessage);
  }

  close(): void {
    this.#db.close();
  }
}
