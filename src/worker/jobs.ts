/**
 * The worker module of the `/hello` lane: blocking jobs only. It opens no
 * database and never touches the board, so a lane thread costs nothing but
 * itself and is never counted among the poll pool's loaded threads.
 */
import { sleepBlocking } from '../shared/sleep-task.js';
import type { SleepOutcome, SleepTask } from '../shared/types.js';

/** The `/hello` job: hold this lane thread for `task.ms`. */
export function sleep(task: SleepTask): SleepOutcome {
  return sleepBlocking(task);
}
