/**
 * How an HTTP handler waits for messages: one look at the shared board on the
 * main thread first — a short poll, or a client that is behind, is answered
 * without a trip to a thread — and only a real wait goes to the task runner.
 */
import type { Config } from '../config.js';
import { createCancelCell, type Board } from '../shared/board.js';
import { waitForMessagesSync, type MessageSource } from '../shared/poll-wait.js';
import type { PollOutcome, PollTask } from '../shared/types.js';
import type { TaskRunner } from './task-runner.js';

/** Most messages one answer (poll reply or SSE batch) carries per wall; the client asks again for more. */
export const BATCH_LIMIT = 100;

/**
 * Wait until any of `walls` (`[wallId, lastSeenId]`) has news, `deadline`
 * (epoch ms) passes, or `signal` aborts. `singleCursor`: see PollTask.
 */
export type MessageWaiter = (
  walls: Array<[number, number]>,
  deadline: number,
  signal: AbortSignal,
  singleCursor?: boolean,
) => Promise<PollOutcome>;

export function createMessageWaiter(config: Config, board: Board, reader: MessageSource, runner: TaskRunner): MessageWaiter {
  // The quick look below can't be cancelled mid-way, so it shares one cell
  // that is never raised; a task gets a cell of its own only if it must wait.
  const neverCancelled = createCancelCell();
  return async (walls, deadline, signal, singleCursor = false) => {
    const look: PollTask = {
      walls,
      // 0: look once, never block the main thread.
      deadline: 0,
      singleCursor,
      wake: config.wake,
      intervalMs: config.pollIntervalMs,
      limit: BATCH_LIMIT,
      cancel: neverCancelled,
    };
    const now = waitForMessagesSync(look, board, reader);
    if (now.outcome === 'data' || deadline <= Date.now()) return now;
    const task: PollTask = { ...look, deadline, cancel: createCancelCell() };
    return runner.poll(task, signal);
  };
}
