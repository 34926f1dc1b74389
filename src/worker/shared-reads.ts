/**
 * In multiplex mode one notify wakes every poll a thread holds. Polls waiting
 * on the same wall usually saw the same last message, so they ask the same
 * question; this reader answers them from one query (BoardKeyedAnswers).
 */
import type { Board } from '../shared/board.js';
import { BoardKeyedAnswers } from '../shared/board-keyed-answers.js';
import type { MessageSource } from '../shared/poll-wait.js';
import type { Message } from '../shared/types.js';

export class SharedReads implements MessageSource {
  readonly #reader: MessageSource;
  readonly #answers: BoardKeyedAnswers<Message[]>;

  constructor(reader: MessageSource, board: Board) {
    this.#reader = reader;
    this.#answers = new BoardKeyedAnswers(board);
  }

  /** Queries that reached SQLite; for tests and curiosity. */
  get queries(): number {
    return this.#answers.reads;
  }

  messagesAfter(wallId: number, after: number, limit: number): Message[] {
    return this.#answers.answer(`${wallId}:${after}:${limit}`, [wallId], () => this.#reader.messagesAfter(wallId, after, limit));
  }

  messagesAfterOnWalls(wallIds: readonly number[], after: number, limit: number): Message[] {
    return this.#answers.answer(`${wallIds.join(',')}:${after}:${limit}`, wallIds, () =>
      this.#reader.messagesAfterOnWalls(wallIds, after, limit),
    );
  }
}
