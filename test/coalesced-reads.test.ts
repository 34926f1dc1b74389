import { describe, expect, it } from 'vitest';
import { CoalescedReads } from '../src/poll/coalesced-reads.js';
import type { AsyncMessageSource } from '../src/poll/board-waiter.js';
import { Board } from '../src/shared/board.js';
import type { Message } from '../src/shared/types.js';
import { DatabaseUnavailableError } from '../src/storage/storage.js';

function countingReader(fail = false): AsyncMessageSource & { calls: number } {
  const reader = {
    calls: 0,
    async messagesAfter(wallId: number, after: number): Promise<Message[]> {
      reader.calls++;
      await new Promise((resolve) => setTimeout(resolve, 10));
      if (fail) throw new DatabaseUnavailableError('down');
      return [{ id: after + 1, wall_id: wallId, user: 'u', content: 'c', created_at: '' }];
    },
    async messagesAfterOnWalls(): Promise<Message[]> {
      reader.calls++;
      return [];
    },
  };
  return reader;
}

describe('CoalescedReads', () => {
  it('polls asking the same question at the same board ids share one query', async () => {
    const board = new Board();
    board.publish(1, 5);
    const reader = countingReader();
    const reads = new CoalescedReads(reader, board);
    const answers = await Promise.all(Array.from({ length: 100 }, () => reads.messagesAfter(1, 4, 100)));
    expect(reader.calls).toBe(1);
    expect(new Set(answers).size).toBe(1);
    // A different cursor is a different question.
    await reads.messagesAfter(1, 3, 100);
    expect(reader.calls).toBe(2);
  });

  it('asks again once the board moves, and never shares a failed read', async () => {
    const board = new Board();
    board.publish(1, 5);
    const reader = countingReader();
    const reads = new CoalescedReads(reader, board);
    await reads.messagesAfter(1, 4, 100);
    board.publish(1, 6);
    await reads.messagesAfter(1, 4, 100);
    expect(reader.calls).toBe(2);

    const failing = countingReader(true);
    const flaky = new CoalescedReads(failing, board);
    await expect(flaky.messagesAfter(1, 4, 100)).rejects.toBeInstanceOf(DatabaseUnavailableError);
    await expect(flaky.messagesAfter(1, 4, 100)).rejects.toBeInstanceOf(DatabaseUnavailableError);
    expect(failing.calls).toBe(2);
  });

  it('asks again when the generation changes, though the board has not moved (content dropped)', async () => {
    const board = new Board();
    board.publish(1, 5);
    const reader = countingReader();
    let generation = 0;
    const reads = new CoalescedReads(reader, board, () => generation);
    await reads.messagesAfter(1, 4, 100);
    await reads.messagesAfter(1, 4, 100);
    expect(reader.calls).toBe(1);
    generation++;
    await reads.messagesAfter(1, 4, 100);
    expect(reader.calls).toBe(2);
  });
});
