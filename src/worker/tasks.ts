/**
 * The Piscina worker module: everything here runs inside a worker thread.
 * It imports nothing from the HTTP side; the board and the database path
 * arrive through `workerData`, and each task returns a plain outcome object.
 */
import { workerData } from 'node:worker_threads';
import { Board } from '../shared/board.js';
import { waitForMessagesAsync, waitForMessagesSync, type MessageSource } from '../shared/poll-wait.js';
import { sleepBlocking } from '../shared/sleep-task.js';
import type { PollOutcome, PollTask, SleepOutcome, SleepTask, WorkerData } from '../shared/types.js';
import { MessageReader } from '../storage/message-reader.js';
import { SharedReads } from './shared-reads.js';

const data = workerData as WorkerData;
const board = new Board(data.board);
/** With PostgreSQL (no dbPath) tasks are `boardOnly` and never read. */
const reader: MessageSource = data.dbPath ? MessageReader.open(data.dbPath) : noReads();
const sharedReads = new SharedReads(reader, board);
board.markWorkerLoaded();

/** `POLL_MODE=pool`: block this thread until data, timeout or cancellation. */
export function poll(task: PollTask): PollOutcome {
  return waitForMessagesSync(task, board, reader);
}

/** `POLL_MODE=multiplex`: wait without blocking, so one thread holds many polls. */
export function pollMultiplexed(task: PollTask): Promise<PollOutcome> {
  return waitForMessagesAsync(task, board, sharedReads);
}

/**
 * Hold this thread for `task.ms`. Start-up runs it once (0 ms) to prove the
 * module loads; `/hello` jobs run in their own lane (`jobs.ts`), never here.
 */
export function sleep(task: SleepTask): SleepOutcome {
  return sleepBlocking(task);
}

function noReads(): MessageSource {
  const refuse = (): never => {
    throw new Error('this pool has no database connection: with PostgreSQL, poll tasks must be boardOnly');
  };
  return { messagesAfter: refuse, messagesAfterOnWalls: refuse };
}
