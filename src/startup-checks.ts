/**
 * Checks that turn a server that could only hang into one that fails to
 * start: worker modules that do not load, and pre-spawned threads that are
 * still loading when the first requests would arrive.
 */
import type { Logger } from 'pino';
import type { Backend } from './backend.js';
import type { Executor } from './poll/executors.js';
import type { JobLane } from './poll/job-lane.js';
import type { TaskRunner } from './poll/task-runner.js';
import { type Board, createCancelCell } from './shared/board.js';

/**
 * A worker module that fails to load (wrong path, missing loader) would leave
 * every poll hanging; run one empty task first so start-up fails instead.
 */
export async function checkWorkersLoad(executor: Executor, backend: Backend): Promise<void> {
  try {
    await executor.sleep({ ms: 0, cancel: createCancelCell() });
  } catch (error) {
    await executor.destroy();
    await backend.close();
    throw new Error(`worker threads failed to start: ${(error as Error).message}`, { cause: error });
  }
}

export async function checkLaneLoads(lane: JobLane, runner: TaskRunner, backend: Backend): Promise<void> {
  try {
    await lane.check();
  } catch (error) {
    await Promise.all([lane.close(0), runner.close(0)]);
    await backend.close();
    throw new Error(`/hello lane threads failed to start: ${(error as Error).message}`, { cause: error });
  }
}

/**
 * Piscina spawns MIN_THREADS threads at once, but each then loads its module
 * and opens SQLite — seconds of CPU for hundreds of threads. Listening only
 * after they are all loaded keeps the first requests from paying for that.
 */
export async function waitForPrespawnedThreads(board: Board, minThreads: number, logger: Logger): Promise<void> {
  const deadline = Date.now() + 60_000;
  while (board.loadedWorkers() < minThreads) {
    if (Date.now() > deadline) {
      logger.warn({ loaded: board.loadedWorkers(), minThreads }, 'not every pre-spawned thread loaded within 60 s');
      return;
    }
    await new Promise((resolve) => setTimeout(resolve, 10));
  }
}
