/**
 * With PostgreSQL the main thread reads for every woken poll, so one post to
 * a wall that 1,000 polls wait on would queue 1,000 identical queries behind
 * the pool's few connections. Polls that ask the same question (same walls,
 * same cursor) while the board shows the same newest ids share one query,
 * in flight or answered: anything newer moves the board before a poll can
 * ask for it. The main-thread twin of `src/worker/shared-reads.ts`.
 */
import type { Board } from '../shared/board.js';
import type { Message } from '../shared/types.js';
import type { AsyncMessageSource } from './message-waiter.js';

const MAX_ENTRIES = 10_000;

export class CoalescedReads implements AsyncMessageSource {
  readonly #reader: AsyncMessageSource;
  readonly #board: Board;
  readonly #answers = new Map<string, { newest: string; messages: Promise<Message[]> }>();
  /** Queries that reached the database; for tests and curiosity. */
  queries = 0;

  constructor(reader: AsyncMessageSource, board: Board) {
    this.#reader = reader;
    this.#board = board;
  }

  messagesAfter(wallId: number, after: number, limit: number): Promise<Message[]> {
    return this.#shared(`${wallId}:${after}:${limit}`, [wallId], () => this.#reader.messagesAfter(wallId, after, limit));
  }

  messagesAfterOnWalls(wallIds: readonly number[], after: number, limit: number): Promise<Message[]> {
    return this.#shared(`${wallIds.join(',')}:${after}:${limit}`, wallIds, () =>
      this.#reader.messagesAfterOnWalls(wallIds, after, limit),
    );
  }

  #shared(key: string, wallIds: readonly number[], read: () => Promise<Message[]>): Promise<Message[]> {
    // Taken before the query starts, so the answer holds at least everything up to these ids.
    const newest = wallIds.map((wallId) => this.#board.newest(wallId)).join(',');
    const cached = this.#answers.get(key);
    if (cached && cached.newest === newest) return cached.messages;
    this.queries++;
    const messages = read();
    if (this.#answers.size >= MAX_ENTRIES) this.#answers.clear();
    const entry = { newest, messages };
    this.#answers.set(key, entry);
    // A failed read (database down) must be retried, not shared.
    messages.catch(() => {
      if (this.#answers.get(key) === entry) this.#answers.delete(key);
    });
    return messages;
  }
}
