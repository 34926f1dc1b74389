/**
 * The `/hello` lane: blocking jobs run apart from polls and streams, on
 * threads of their own, under their own limit (`HELLO_CONCURRENCY`) and
 * queue (`HELLO_QUEUE`). A synchronous job on a multiplexed poll thread would
 * freeze every `Atomics.waitAsync` that thread holds, and jobs in
 * the poll queue would take places polls need, so they share
 * neither. In `inline` mode a job still blocks the main thread: that mode is
 * the control that shows why pools exist.
 */
import type { Worker } from 'node:worker_threads';
import { Piscina } from 'piscina';
import type { Board } from '../shared/board.js';
import { createCancelCell } from '../shared/board.js';
import type { JobWorkerData, PollOutcome, SleepOutcome, SleepTask } from '../shared/types.js';
import { MainThreadExecutor, workerFilename, type Executor, type Percentiles } from './executors.js';
import { TaskRunner } from './task-runner.js';
import type { CancelSignal } from './departure.js';

export interface JobLaneOptions {
  /** Jobs that run at once: lane threads (or, inline, turns of the main thread). */
  concurrency: number;
  /** Lane threads kept from start-up on (at most `concurrency`). */
  minThreads: number;
  /** Jobs allowed to wait for the lane before new ones get 503. */
  maxQueue: number;
  /** Run jobs on the main thread (POLL_MODE=inline). */
  inline: boolean;
  /** The task runner's, used only to stop polls; the lane runs none. */
  board: Board;
  onError: (error: unknown) => void;
}

export interface JobLaneStats {
  threads: number;
  /** Lane threads that have loaded their module since start (replacements count too). */
  threads_loaded: number;
  concurrency: number;
  busy: number;
  queued: number;
  max_queue: number;
  completed: number;
  cancelled: number;
  rejected: number;
  failed: number;
}

export class JobLane {
  readonly #executor: Executor;
  readonly #runner: TaskRunner;
  readonly #concurrency: number;
  readonly #maxQueue: number;

  constructor(options: JobLaneOptions) {
    this.#executor = options.inline
      ? new InlineJobExecutor()
      : new JobPoolExecutor(Math.min(options.minThreads, options.concurrency), options.concurrency, options.onError);
    this.#concurrency = options.concurrency;
    this.#maxQueue = options.maxQueue;
    this.#runner = new TaskRunner({
      executor: this.#executor,
      board: options.board,
      capacity: options.concurrency,
      maxQueue: options.maxQueue,
    });
  }

  /**
   * Run one empty job, so a lane whose worker module fails to load stops
   * start-up; then wait (up to `timeoutMs`) until every pre-spawned lane
   * thread has loaded, so none is still loading once the server listens.
   */
  async check(timeoutMs = 60_000): Promise<void> {
    await this.#executor.sleep({ ms: 0, cancel: createCancelCell() });
    if (!(this.#executor instanceof JobPoolExecutor)) return;
    const deadline = Date.now() + timeoutMs;
    while (this.#executor.loadedThreads() < this.#executor.minThreads && Date.now() < deadline) {
      await new Promise((resolve) => setTimeout(resolve, 10));
    }
  }

  /** Resolves `{ outcome: 'cancelled' }` if `signal` aborts first; rejects 503 when the lane is full. */
  run(task: SleepTask, signal?: CancelSignal): Promise<SleepOutcome> {
    return this.#runner.sleep(task, signal);
  }

  stats(): JobLaneStats {
    const run = this.#runner.stats();
    return {
      threads: this.#executor.threads().length,
      threads_loaded: this.#executor instanceof JobPoolExecutor ? this.#executor.loadedThreads() : 0,
      concurrency: this.#concurrency,
      busy: run.running,
      queued: run.queued,
      max_queue: this.#maxQueue,
      completed: run.completed,
      cancelled: run.cancelled,
      rejected: run.rejected,
      failed: run.failed,
    };
  }

  /** Stop queued and running jobs (through their cancel cells), then destroy the threads. */
  close(graceMs: number): Promise<void> {
    return this.#runner.close(graceMs);
  }
}

/** Lane threads: one job each, loading only `src/worker/jobs.ts`. */
class JobPoolExecutor implements Executor {
  readonly #pool: Piscina;
  /** Lane threads that have loaded their module (ever); each adds one (src/worker/jobs.ts). */
  readonly #loaded = new Int32Array(new SharedArrayBuffer(Int32Array.BYTES_PER_ELEMENT));
  readonly minThreads: number;

  constructor(minThreads: number, maxThreads: number, onError: (error: unknown) => void) {
    this.minThreads = minThreads;
    const workerData: JobWorkerData = { loaded: this.#loaded };
    this.#pool = new Piscina({
      filename: workerFilename('jobs'),
      workerData,
      // MIN_THREADS applies here as to the poll pool. Spawning runs on the main
      // thread (≈4 ms each, more while loading): a /hello flood on a lane that
      // spawns on demand stalled /ping for 190–320 ms in the hostile-neighbours
      // bench, so MIN_THREADS=MAX_THREADS pre-spawns the lane too. Idle threads
      // above it stay 30 s, so a burst pays the spawn cost once.
      minThreads,
      maxThreads,
      idleTimeout: 30_000,
      concurrentTasksPerWorker: 1,
      // The task runner queues; Piscina's queue stays empty.
      maxQueue: Infinity,
    });
    this.#pool.on('error', onError);
  }

  loadedThreads(): number {
    return Atomics.load(this.#loaded, 0);
  }

  poll(): Promise<PollOutcome> {
    return Promise.reject(new Error('the /hello lane runs no polls'));
  }

  sleep(task: SleepTask): Promise<SleepOutcome> {
    return this.#pool.run(task, { name: 'sleep' });
  }

  threads(): readonly Worker[] {
    return this.#pool.threads;
  }

  timings(): { run_time_ms: Percentiles; wait_time_ms: Percentiles } | null {
    return null;
  }

  destroy(): Promise<void> {
    return this.#pool.destroy();
  }
}

/** POLL_MODE=inline: the job blocks the main thread, as EM.defer's absence would. */
class InlineJobExecutor extends MainThreadExecutor {
  poll(): Promise<PollOutcome> {
    return Promise.reject(new Error('the /hello lane runs no polls'));
  }
}
