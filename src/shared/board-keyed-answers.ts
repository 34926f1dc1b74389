/**
 * Answers to message reads, kept while the board shows the same newest ids
 * for the walls read: anything newer moves the board before a reader can ask
 * for it, so an answer taken at the same board ids is still whole. Used by a
 * worker thread's synchronous reads (SQLite, multiplex: `src/worker/shared-reads.ts`)
 * and by the main thread's asynchronous ones (PostgreSQL: `src/poll/coalesced-reads.ts`),
 * where the cached value is the query's promise, in flight or settled.
 */
import type { Board } from './board.js';

const MAX_ENTRIES = 10_000;

export class BoardKeyedAnswers<T> {
  readonly #board: Board;
  readonly #answers = new Map<string, { newest: string; value: T }>();
  /** Reads that reached the database; for tests and curiosity. */
  reads = 0;

  constructor(board: Board) {
    this.#board = board;
  }

  /** The answer for `key` on `wallIds`, read with `read` unless one was taken at the board's current ids. */
  answer(key: string, wallIds: readonly number[], read: () => T): T {
    // Taken before the read starts, so the answer holds at least everything up to these ids.
    const newest = wallIds.map((wallId) => this.#board.newest(wallId)).join(',');
    const cached = this.#answers.get(key);
    if (cached && cached.newest === newest) return cached.value;
    this.reads++;
    const value = read();
    // Past its bound the cache starts over rather than tracking recency: stale
    // entries are harmless, and a burst is what it is for.
    if (this.#answers.size >= MAX_ENTRIES) this.#answers.clear();
    this.#answers.set(key, { newest, value });
    return value;
  }

  /** Drop `value` if it is still the answer for `key` (a failed read must be retried, not shared). */
  forget(key: string, value: T): void {
    if (this.#answers.get(key)?.value === value) this.#answers.delete(key);
  }
}
