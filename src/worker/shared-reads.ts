/**
 * In multiplex mode one notify wakes every poll a thread holds. Polls waiting
 * on the same wall usually saw the same last message, so they ask the same
 * question; this reader answers them from one query. An answer stays valid
 * while the board's newest id for that wall is unchanged: anything newer is
 * on the board before a poll can ask for it.
 */
import type { Board } from '../shared/board.js';
import type { MessageSource } from '../shared/poll-wait.js';
import type { Message } from '../shared/types.js';

const MAX_ENTRIES = 10_000;

export class SharedReads implements MessageSource {
  readonly #reader: MessageSource;
  readonly #board: Board;
  readonly #answers = new Map<string, { newest: string; messages: Message[] }>();
  /** Queries that reached SQLite; for tests and curiosity. */
  queries = 0;

  constructor(reader: MessageSource, board: Board) {
    this.#reader = reader;
    this.#board = board;
  }

  messagesAfter(wallId: number, after: number, limit: number): Message[] {
    return this.#shared(`${wallId}:${after}:${limit}`, [wallId], () => this.#reader.messagesAfter(wallId, after, limit));
  }

  messagesAfterOnWalls(wallIds: readonly number[], after: number, limit: number): Message[] {
    return this.#shared(`${wallIds.join(',')}:${after}:${limit}`, wallIds, () =>
      this.#reader.messagesAfterOnWalls(wallIds, after, limit),
    );
  }

  #shared(key: string, wallIds: readonly number[], read: () => Message[]): Message[] {
    const newest = wallIds.map((wallId) => this.#board.newest(wallId)).join(',');
    const cached = this.#answers.get(key);
    if (cached && cached.newest === newest) return cached.messages;
    this.queries++;
    const messages = read();
    // Past its bound the cache starts over rather than tracking recency: stale
    // entries are harmless, and a burst is what it is for.
    if (this.#answers.size >= MAX_ENTRIES) this.#answers.clear();
    this.#answers.set(key, { newest, messages });
    return messages;
  }
}
