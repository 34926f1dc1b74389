/**
 * The wait loop and the multiplex read sharing on their own: one notify must
 * not turn into a database query per poll.
 */
import { describe, expect, it } from 'vitest';
import { Board, cancel, createCancelCell } from '../src/shared/board.js';
import { waitForMessagesAsync, waitForMessagesSync, type MessageSource } from '../src/shared/poll-wait.js';
import type { Message, PollTask } from '../src/shared/types.js';
import { SharedReads } from '../src/worker/shared-reads.js';

class CountingReader implements MessageSource {
  calls: Array<[number | string, number]> = [];
  messages: Message[] = [];
  messagesAfter(wallId: number, after: number, limit: number): Message[] {
    this.calls.push([wallId, after]);
    return this.messages.filter((m) => m.wall_id === wallId && m.id > after).slice(0, limit);
  }
  messagesAfterOnWalls(wallIds: readonly number[], after: number, limit: number): Message[] {
    this.calls.push([wallIds.join(','), after]);
    return this.messages.filter((m) => wallIds.includes(m.wall_id) && m.id > after).slice(0, limit);
  }
  add(wallId: number, id: number): void {
    this.messages.push({ id, wall_id: wallId, user: 'u', content: `m${id}`, created_at: '' });
  }
}

function task(walls: Array<[number, number]>, ms = 5000): PollTask {
  return { walls, deadline: Date.now() + ms, wake: 'notify', intervalMs: 500, limit: 100, cancel: createCancelCell() };
}

const tick = () => new Promise((resolve) => setTimeout(resolve, 5));

describe('the wait loop', () => {
  it('reads nothing while the board shows no change on its walls', async () => {
    const board = new Board();
    const reader = new CountingReader();
    const waiting = waitForMessagesAsync(task([[1, 0]]), board, reader);
    board.publish(2, 10); // another wall
    await tick();
    expect(reader.calls).toEqual([]);
    reader.add(1, 11);
    board.publish(1, 11);
    expect(await waiting).toEqual({ outcome: 'data', walls: { 1: { posts: [reader.messages[0]] } } });
    expect(reader.calls).toEqual([[1, 0]]);
  });

  it('reads a wall once when a board slot collision moves it without news', async () => {
    const board = new Board();
    const reader = new CountingReader();
    const waiting = waitForMessagesAsync(task([[1, 0]], 300), board, reader);
    board.publish(1 + 4096, 50); // same slot as wall 1
    await tick();
    board.publish(3, 51);
    await tick();
    expect(reader.calls).toEqual([[1, 0]]);
    expect(await waiting).toEqual({ outcome: 'timeout' });
  });

  it('a poll on one wall waits on that wall alone; a poll on several waits on the generation', async () => {
    const board = new Board();
    const one = task([[1, 0]], 300);
    const several = task(
      [
        [2, 0],
        [3, 0],
      ],
      300,
    );
    const waits = [waitForMessagesAsync(one, board, new CountingReader()), waitForMessagesAsync(several, board, new CountingReader())];
    await tick();
    // Atomics.notify returns how many waiters it woke (each goes back to waiting).
    expect(Atomics.notify(board.cells, board.waitCell([4]))).toBe(0);
    expect(Atomics.notify(board.cells, board.waitCell([1]))).toBe(1);
    await tick();
    expect(Atomics.notify(board.cells, board.waitCell([2, 3]))).toBe(1);
    expect(await Promise.all(waits)).toEqual([{ outcome: 'timeout' }, { outcome: 'timeout' }]);
  });

  it('stops when cancelled', async () => {
    const board = new Board();
    const t = task([[1, 0]]);
    const waiting = waitForMessagesAsync(t, board, new CountingReader());
    cancel(t.cancel);
    board.wake([1]);
    expect(await waiting).toEqual({ outcome: 'cancelled' });
  });

  // Regression: cancellation used to notify without changing the cell, so a
  // cancel that landed after the loop checked its flag but before it blocked
  // was lost, and the poll held its thread until its timeout (found by the
  // pool-capacity benchmark).
  it('does not miss a cancel that lands between its flag check and its wait', () => {
    for (const walls of [
      [[1, 0]],
      [
        [1, 0],
        [2, 0],
      ],
    ] as Array<Array<[number, number]>>) {
      const board = new Board();
      const t = task(walls, 3000);
      let first = true;
      const started = Date.now();
      const outcome = waitForMessagesSync(t, board, new CountingReader(), {
        // Runs after the loop has read its wait cell and checked the flag.
        refresh: () => {
          if (!first) return;
          first = false;
          cancel(t.cancel);
          board.wake(walls.map(([wallId]) => wallId));
        },
      });
      expect(outcome).toEqual({ outcome: 'cancelled' });
      expect(Date.now() - started).toBeLessThan(1000);
    }
  });

  // Regression (found by `npm run bench`, pool-capacity: one abandoned poll of
  // sixteen kept its thread for its whole timeout): a cancel and its wake that
  // land after the flag check but before the wait cell is read leave the cell
  // already moved, so the wait would sleep on the new value until its
  // deadline. The cell must be read before the flag is checked. The other
  // thread is played by a hook on the board's cells, run as the loop reads them.
  it('does not miss a cancel that lands between its flag check and reading its wait cell', () => {
    for (const walls of [
      [[1, 0]],
      [
        [1, 0],
        [2, 0],
      ],
    ] as Array<Array<[number, number]>>) {
      const board = new Board();
      const t = task(walls, 3000);
      const cells = board.cells;
      let armed = true;
      Object.defineProperty(board, 'cells', {
        get: () => {
          if (armed) {
            armed = false;
            cancel(t.cancel);
            board.wake(walls.map(([wallId]) => wallId));
          }
          return cells;
        },
      });
      const started = Date.now();
      expect(waitForMessagesSync(t, board, new CountingReader())).toEqual({ outcome: 'cancelled' });
      expect(Date.now() - started).toBeLessThan(1000);
    }
  });

  // Regression (found by `npm run soak`): an SSE stream keeps one cursor for
  // all its walls. A CLI write (id 100, wall 1) reaches the board only on the
  // watcher's next tick, after a newer HTTP post (id 101, wall 2) is already
  // there; reading only the walls that moved sent 101 alone, the cursor passed
  // 100, and the stream never sent it.
  it('with one cursor for all walls, a message noticed late is not left behind', () => {
    const board = new Board();
    const reader = new CountingReader();
    reader.add(1, 100); // committed, not on the board yet
    reader.add(2, 101);
    board.publish(2, 101);
    const perWall = waitForMessagesSync(
      task([
        [1, 99],
        [2, 99],
      ]),
      board,
      reader,
    );
    expect(perWall).toEqual({ outcome: 'data', walls: { 2: { posts: [reader.messages[1]] } } });
    const stream = waitForMessagesSync(
      {
        ...task([
          [1, 99],
          [2, 99],
        ]),
        singleCursor: true,
      },
      board,
      reader,
    );
    expect(stream).toEqual({ outcome: 'data', walls: { 1: { posts: [reader.messages[0]] }, 2: { posts: [reader.messages[1]] } } });
  });

  it('answers a short poll (deadline passed) without waiting', () => {
    const board = new Board();
    const started = Date.now();
    expect(waitForMessagesSync(task([[1, 0]], -1), board, new CountingReader())).toEqual({ outcome: 'timeout' });
    expect(Date.now() - started).toBeLessThan(1000);
  });
});

describe('SharedReads', () => {
  it('answers many waking polls on one wall from one query', async () => {
    const board = new Board();
    const reader = new CountingReader();
    const shared = new SharedReads(reader, board);
    const polls = Array.from({ length: 500 }, () =>
      waitForMessagesAsync(
        task([
          [1, 0],
          [2, 0],
        ]),
        board,
        shared,
      ),
    );
    await tick();
    reader.add(1, 7);
    board.publish(1, 7);
    const outcomes = await Promise.all(polls);
    expect(outcomes.every((o) => o.outcome === 'data' && o.walls[1]!.posts[0]!.id === 7)).toBe(true);
    expect(shared.queries).toBe(1);
    expect(reader.calls).toEqual([[1, 0]]);
  });

  it('asks again once the wall moves on the board', () => {
    const board = new Board();
    const reader = new CountingReader();
    const shared = new SharedReads(reader, board);
    reader.add(1, 3);
    board.publish(1, 3);
    expect(shared.messagesAfter(1, 0, 10).map((m) => m.id)).toEqual([3]);
    expect(shared.messagesAfter(1, 0, 10).map((m) => m.id)).toEqual([3]);
    reader.add(1, 4);
    board.publish(1, 4);
    expect(shared.messagesAfter(1, 0, 10).map((m) => m.id)).toEqual([3, 4]);
    expect(shared.queries).toBe(2);
  });
});
