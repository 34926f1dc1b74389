/**
 * The long poll's "loop until new data arrives", written once as a step
 * machine and driven three ways: blocking a worker thread (`POLL_MODE=pool`),
 * awaiting `Atomics.waitAsync` so one worker holds many polls
 * (`POLL_MODE=multiplex`), or blocking the main thread (`POLL_MODE=inline`).
 */
import { type Board, isCancelled } from './board.js';
import type { Message, PollOutcome, PollTask } from './types.js';

export interface MessageSource {
  /** Messages of `wallId` with id greater than `after`, oldest first. */
  messagesAfter(wallId: number, after: number, limit: number): Message[];
  /** Messages of any of `wallIds` with id greater than `after`, oldest first, from one snapshot. */
  messagesAfterOnWalls(wallIds: readonly number[], after: number, limit: number): Message[];
}

/** Block on `cells[index]` while it still equals `expected`, for at most `ms`. */
interface WaitInstruction {
  cells: Int32Array;
  index: number;
  expected: number;
  ms: number;
}

export interface WaitOptions {
  /** Longest single wait; the inline driver uses it to look for external writes. */
  maxSliceMs?: number;
  /** Runs before each look at the board (inline mode: check for external writes). */
  refresh?: () => void;
}

class PollWait {
  /** Per wall, the last message id the client has seen. */
  readonly #after: Map<number, number>;
  /** Per wall, the board value below which nothing new can exist for this poll. */
  readonly #thresholds: Map<number, number>;
  readonly #task: PollTask;
  readonly #board: Board;
  readonly #reader: MessageSource;
  readonly #options: WaitOptions;
  readonly #waitCell: number;

  constructor(task: PollTask, board: Board, reader: MessageSource, options: WaitOptions) {
    this.#task = task;
    this.#board = board;
    this.#reader = reader;
    this.#options = options;
    this.#after = new Map(task.walls);
    this.#thresholds = new Map(task.seen ?? task.walls);
    this.#waitCell = board.waitCell(task.walls.map(([wallId]) => wallId));
  }

  step(): PollOutcome | WaitInstruction {
    const task = this.#task;
    // Read the wait cell before the cancel flag and the walls: a cancel or a
    // change that lands after this read moves the cell, so the wait below
    // returns at once instead of sleeping through it. (Read after the flag, a
    // cancel landing between the two was missed until the deadline: found by
    // the pool-capacity bench.)
    const expected = Atomics.load(this.#board.cells, this.#waitCell);
    if (isCancelled(task.cancel)) return { outcome: 'cancelled' };
    this.#options.refresh?.();

    if (task.boardOnly) {
      const moved = this.#movedWalls();
      if (moved.length > 0) return { outcome: 'moved', walls: moved };
    } else {
      const found = task.singleCursor ? this.#readAllIfAnyMoved() : this.#readChangedWalls();
      if (found) return { outcome: 'data', walls: found };
    }

    const remaining = task.deadline - Date.now();
    if (remaining <= 0) return { outcome: 'timeout' };
    const ms = Math.min(remaining, this.#options.maxSliceMs ?? Infinity);
    if (task.wake === 'sleep') {
      // The original design: sleep, then look again. Sleeping on the cancel
      // cell keeps cancellation instant while data still waits for the tick.
      return { cells: task.cancel, index: 0, expected: 0, ms: Math.min(ms, task.intervalMs) };
    }
    return { cells: this.#board.cells, index: this.#waitCell, expected, ms };
  }

  #movedWalls(): Array<[number, number]> {
    const moved: Array<[number, number]> = [];
    for (const [wallId, threshold] of this.#thresholds) {
      const newest = this.#board.newest(wallId);
      if (newest > threshold) moved.push([wallId, newest]);
    }
    return moved;
  }

  #readAllIfAnyMoved(): Record<string, { posts: Message[] }> | null {
    const moved = [...this.#thresholds].some(([wallId, threshold]) => this.#board.newest(wallId) > threshold);
    if (!moved) return null;
    const wallIds = [...this.#after.keys()];
    const posts = this.#reader.messagesAfterOnWalls(wallIds, Math.min(...this.#after.values()), this.#task.limit);
    if (posts.length === 0) {
      for (const wallId of wallIds) this.#thresholds.set(wallId, this.#board.newest(wallId));
      return null;
    }
    const walls: Record<string, { posts: Message[] }> = {};
    for (const post of posts) (walls[post.wall_id] ??= { posts: [] }).posts.push(post);
    return walls;
  }

  #readChangedWalls(): Record<string, { posts: Message[] }> | null {
    let found: Record<string, { posts: Message[] }> | null = null;
    for (const [wallId, threshold] of this.#thresholds) {
      const newest = this.#board.newest(wallId);
      if (newest <= threshold) continue;
      const posts = this.#reader.messagesAfter(wallId, this.#after.get(wallId)!, this.#task.limit);
      if (posts.length > 0) {
        found ??= {};
        found[wallId] = { posts };
      } else {
        // Another wall in the same board slot moved; don't re-read until it moves again.
        this.#thresholds.set(wallId, newest);
      }
    }
    return found;
  }
}

export function waitForMessagesSync(task: PollTask, board: Board, reader: MessageSource, options: WaitOptions = {}): PollOutcome {
  const wait = new PollWait(task, board, reader, options);
  for (;;) {
    const next = wait.step();
    if ('outcome' in next) return next;
    Atomics.wait(next.cells, next.index, next.expected, next.ms);
  }
}

export async function waitForMessagesAsync(
  task: PollTask,
  board: Board,
  reader: MessageSource,
  options: WaitOptions = {},
): Promise<PollOutcome> {
  const wait = new PollWait(task, board, reader, options);
  for (;;) {
    const next = wait.step();
    if ('outcome' in next) return next;
    const result = Atomics.waitAsync(next.cells, next.index, next.expected, next.ms);
    if (result.async) await result.value;
  }
}
