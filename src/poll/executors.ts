/**
 * Where a task's blocking work runs: on the Piscina pool (`pool`, `multiplex`)
 * or right on the main thread (`inline`, the control that shows why the pool
 * exists). The task runner above them does queueing, admission and cancellation.
 */
import { fileURLToPath } from 'node:url';
import type { Worker } from 'node:worker_threads';
import { Piscina } from 'piscina';
import type { Board } from '../shared/board.js';
import { waitForMessagesSync, type MessageSource } from '../shared/poll-wait.js';
import { sleepBlocking } from '../shared/sleep-task.js';
import type { PollOutcome, PollTask, SleepOutcome, SleepTask, WorkerData } from '../shared/types.js';

export interface Executor {
  poll(task: PollTask): Promise<PollOutcome>;
  sleep(task: SleepTask): Promise<SleepOutcome>;
  /** The pool's worker threads as they are now (none in inline mode). */
  threads(): readonly Worker[];
  /** Piscina's run-time and wait-time histograms (ms), when there is a pool. */
  timings(): { run_time_ms: Percentiles; wait_time_ms: Percentiles } | null;
  destroy(): Promise<void>;
}

export interface Percentiles {
  p50: number;
  p99: number;
  mean: number;
}

export interface PoolOptions {
  board: Board;
  /** SQLite file for the threads' own read connections; null: threads only wait (PostgreSQL). */
  dbPath: string | null;
  minThreads: number;
  maxThreads: number;
  /** 1 blocks a thread per poll; above 1 each thread awaits many polls at once. */
  tasksPerThread: number;
  onError: (error: unknown) => void;
}

const SOURCE_ENTRIES = { tasks: 'typescript-entry.mjs', jobs: 'jobs-entry.mjs' } as const;

/**
 * The worker module sits beside this file's output: `tasks.js` (the poll
 * pool) or `jobs.js` (the /hello lane) once built by tsc; from TypeScript
 * source, an entry that registers tsx inside each worker first (see
 * `typescript-entry.mjs`).
 */
export function workerFilename(module: keyof typeof SOURCE_ENTRIES = 'tasks'): string {
  const fromSource = import.meta.url.endsWith('.ts');
  const file = fromSource ? SOURCE_ENTRIES[module] : `${module}.js`;
  return fileURLToPath(new URL(`../worker/${file}`, import.meta.url));
}

export class PoolExecutor implements Executor {
  readonly #pool: Piscina;
  readonly #pollTaskName: string;

  constructor(options: PoolOptions) {
    const workerData: WorkerData = { board: options.board.buffer, dbPath: options.dbPath };
    this.#pool = new Piscina({
      filename: workerFilename(),
      workerData,
      minThreads: options.minThreads,
      maxThreads: options.maxThreads,
      // Threads above MIN_THREADS live 30 s after their last task, so a burst of
      // polls does not pay for spawning threads (on the main thread) again and again.
      idleTimeout: 30_000,
      concurrentTasksPerWorker: options.tasksPerThread,
      // The task runner keeps its own queue and never gives Piscina more tasks
      // than it can start, so Piscina's queue limit (skipped for some tasks in
      // 5.3.2) is never relied on.
      maxQueue: Infinity,
      recordTiming: true,
    });
    // Without a listener, a worker that fails outside a task crashes the process.
    this.#pool.on('error', options.onError);
    this.#pollTaskName = options.tasksPerThread > 1 ? 'pollMultiplexed' : 'poll';
  }

  poll(task: PollTask): Promise<PollOutcome> {
    return this.#pool.run(task, { name: this.#pollTaskName });
  }

  sleep(task: SleepTask): Promise<SleepOutcome> {
    return this.#pool.run(task, { name: 'sleep' });
  }

  threads(): readonly Worker[] {
    return this.#pool.threads;
  }

  timings(): { run_time_ms: Percentiles; wait_time_ms: Percentiles } | null {
    const { runTime, waitTime } = this.#pool.histogram;
    if (!runTime || !waitTime) return null;
    const pick = ({ p50, p99, mean }: Percentiles): Percentiles => ({ p50, p99, mean });
    return { run_time_ms: pick(runTime), wait_time_ms: pick(waitTime) };
  }

  destroy(): Promise<void> {
    return this.#pool.destroy();
  }
}

/**
 * Work on the main thread, no threads (POLL_MODE=inline): a sleep blocks it,
 * as a job without EM.defer would. Subclasses say what a poll does.
 */
export abstract class MainThreadExecutor implements Executor {
  abstract poll(task: PollTask): Promise<PollOutcome>;

  async sleep(task: SleepTask): Promise<SleepOutcome> {
    return sleepBlocking(task);
  }

  threads(): readonly Worker[] {
    return [];
  }

  timings(): null {
    return null;
  }

  async destroy(): Promise<void> {}
}

/** Runs the same loop on the main thread: while it waits, nothing else is served. */
export class InlineExecutor extends MainThreadExecutor {
  readonly #board: Board;
  readonly #reader: MessageSource;
  readonly #checkExternalWrites: () => void;
  readonly #sliceMs: number;

  constructor(board: Board, reader: MessageSource, checkExternalWrites: () => void, sliceMs: number) {
    super();
    this.#board = board;
    this.#reader = reader;
    this.#checkExternalWrites = checkExternalWrites;
    this.#sliceMs = sliceMs;
  }

  async poll(task: PollTask): Promise<PollOutcome> {
    // The main thread is blocked, so no timer can look for CLI writes: the
    // loop does it itself between slices.
    return waitForMessagesSync(task, this.#board, this.#reader, {
      maxSliceMs: this.#sliceMs,
      refresh: this.#checkExternalWrites,
    });
  }
}
