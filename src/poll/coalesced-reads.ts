/**
 * With PostgreSQL the main thread reads for every woken poll, so one post to
 * a wall that 1,000 polls wait on would queue 1,000 identical queries behind
 * the pool's few connections. Polls that ask the same question (same walls,
 * same cursor) while the board shows the same newest ids share one query, in
 * flight or answered (BoardKeyedAnswers, as the worker's SharedReads):
 * they get the very same array, so their answers are serialised once too.
 */
import type { Board } from '../shared/board.js';
import { BoardKeyedAnswers } from '../shared/board-keyed-answers.js';
import type { Message } from '../shared/types.js';
import type { AsyncMessageSource } from './board-waiter.js';

export class CoalescedReads implements AsyncMessageSource {
  readonly #reader: AsyncMessageSource;
  readonly #answers: BoardKeyedAnswers<Promise<Message[]>>;

  readonly #generation: () => number;

  /** `generation`: when it changes, answers taken before are not shared any more (`NotifiedMessages.generation`). */
  constructor(reader: AsyncMessageSource, board: Board, generation: () => number = () => 0) {
    this.#reader = reader;
    this.#answers = new BoardKeyedAnswers(board);
    this.#generation = generation;
  }

  /** Queries that reached the database; for tests and curiosity. */
  get queries(): number {
    return this.#answers.reads;
  }

  messagesAfter(wallId: number, after: number, limit: number): Promise<Message[]> {
    const key = `${this.#generation()}:${wallId}:${after}:${limit}`;
    return this.#answers.answer(key, [wallId], () => this.#read(key, this.#reader.messagesAfter(wallId, after, limit)));
  }

  messagesAfterOnWalls(wallIds: readonly number[], after: number, limit: number): Promise<Message[]> {
    const key = `${this.#generation()}:${wallIds.join(',')}:${after}:${limit}`;
    return this.#answers.answer(key, wallIds, () => this.#read(key, this.#reader.messagesAfterOnWalls(wallIds, after, limit)));
  }

  /** A failed read (database down) must be retried, not shared. */
  #read(key: string, messages: Promise<Message[]>): Promise<Message[]> {
    messages.catch(() => this.#answers.forget(key, messages));
    return messages;
  }
}
