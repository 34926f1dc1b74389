/**
 * How an HTTP handler waits for messages: one look at the shared board on the
 * main thread first — a short poll, or a client that is behind, is answered
 * without a trip to a thread — and only a real wait goes to the task runner.
 */
import type { Board } from '../shared/board.js';
import { waitForMessagesSync, type MessageReader } from '../shared/poll-wait.js';
import type { PollOutcome, PollTask } from '../shared/types.js';
import type { TaskRunner } from './task-runner.js';

export type MessageWaiter = (task: PollTask, signal: AbortSignal) => Promise<PollOutcome>;

export function createMessageWaiter(board: Board, reader: MessageReader, runner: TaskRunner): MessageWaiter {
  return async (task, signal) => {
    // deadline 0: look once, never block the main thread.
    const now = waitForMessagesSync({ ...task, deadline: 0 }, board, reader);
    if (now.outcome === 'data' || task.deadline <= Date.now()) return now;
    return runner.poll(task, signal);
  };
}
