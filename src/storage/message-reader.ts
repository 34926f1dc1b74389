/**
 * The message queries a waiting poll needs, prepared once per connection.
 * Each worker thread opens its own read-only connection (a connection must
 * not cross threads), and WAL mode lets all of them read while the main
 * thread writes; the main thread's Store uses the same queries on its own.
 */
import Database, { type SqliteDatabase, type SqliteStatement } from './sqlite-driver.js';
import type { MessageSource } from '../shared/poll-wait.js';
import type { Message } from '../shared/types.js';

interface MessageRow {
  id: number;
  wall_id: number;
  user: string;
  content: string;
  created_at: number;
}

const MESSAGE_COLUMNS = `m.id, m.wall_id, u.name AS user, m.content, m.created_at`;

export function toMessage(row: MessageRow): Message {
  return { ...row, created_at: new Date(row.created_at).toISOString() };
}

export class MessageReader implements MessageSource {
  readonly #db: SqliteDatabase;
  readonly #after: SqliteStatement<[number, number, number], MessageRow>;
  readonly #afterOnWalls: SqliteStatement<[string, number, number], MessageRow>;

  constructor(db: SqliteDatabase) {
    this.#db = db;
    this.#after = db.prepare(
      `SELECT ${MESSAGE_COLUMNS} FROM messages m JOIN users u ON u.id = m.user_id
       WHERE m.wall_id = ? AND m.id > ? ORDER BY m.id LIMIT ?`,
    );
    // One statement reads one snapshot: with the newest id it returns as the
    // cursor, nothing older on these walls can be left behind.
    this.#afterOnWalls = db.prepare(
      `SELECT ${MESSAGE_COLUMNS} FROM messages m JOIN users u ON u.id = m.user_id
       WHERE m.wall_id IN (SELECT value FROM json_each(?)) AND m.id > ? ORDER BY m.id LIMIT ?`,
    );
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
