/**
 * Read-only access to messages, opened once per thread: each worker thread has
 * its own better-sqlite3 connection (a connection must not cross threads), and
 * WAL mode lets all of them read while the main thread writes.
 */
import Database from 'better-sqlite3';
import type { Message } from '../shared/types.js';

interface MessageRow {
  id: number;
  wall_id: number;
  user: string;
  content: string;
  created_at: number;
}

export const MESSAGE_COLUMNS = `m.id, m.wall_id, u.name AS user, m.content, m.created_at`;

export function toMessage(row: MessageRow): Message {
  return { ...row, created_at: new Date(row.created_at).toISOString() };
}

export class MessageReader {
  readonly #db: Database.Database;
  readonly #after: Database.Statement<[number, number, number], MessageRow>;

  constructor(dbPath: string) {
    this.#db = new Database(dbPath, { readonly: true, fileMustExist: true });
    this.#db.pragma('busy_timeout = 5000');
    this.#after = this.#db.prepare(
      `SELECT ${MESSAGE_COLUMNS} FROM messages m JOIN users u ON u.id = m.user_id
       WHERE m.wall_id = ? AND m.id > ? ORDER BY m.id LIMIT ?`,
    );
  }

  messagesAfter(wallId: number, after: number, limit: number): Message[] {
    return this.#after.all(wallId, after, limit).map(toMessage);
  }

  close(): void {
    this.#db.close();
  }
}
