/**
 * The worker module of the `/hello` lane: blocking jobs only. It opens no
 * database and never touches the board, so a lane thread costs nothing but
 * itself and is never counted among the poll pool's loaded threads.
 */
import { workerData } from 'node:worker_threads';
import { sleepBlocking } from '../shared/sleep-task.js';
import type { JobWorkerData, SleepOutcome, SleepTask } from '../shared/types.js';

// Start-up waits for the pre-spawned lane threads to get here (JobLane.check).
Atomics.add((workerData as JobWorkerData).loaded, 0, 1);

/** The `/hello` job: hold this lane thread for `task.ms`. */
export function sleep(task: SleepTask): SleepOutcome {
  return sleepBlocking(task);
}
