import { isCancelled } from './board.js';
import type { SleepOutcome, SleepTask } from './types.js';

/** The `/hello` job: hold the thread for `ms`, as the EM.defer demo's `sleep` did. */
export function sleepBlocking(task: SleepTask): SleepOutcome {
  const started = Date.now();
  // Sleeping on the cancel cell lets a departed client or shutdown end it early.
  Atomics.wait(task.cancel, 0, 0, task.ms);
  if (isCancelled(task.cancel)) return { outcome: 'cancelled' };
  return { outcome: 'done', sleptMs: Date.now() - started };
}
