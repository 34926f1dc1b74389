/**
 * Admission, queueing and cancellation for blocking tasks, on the main thread.
 *
 * Pollster keeps its own FIFO queue and hands Piscina a task only when a
 * thread (or, in multiplex mode, a task slot) is free. That gives an exact
 * `MAX_QUEUE` (Piscina 5.3.2 skips its own limit for some tasks), lets a
 * queued poll whose client left be dropped before it ever runs, and cancels a
 * running one through its shared cancel cell instead of terminating the thread
 * as Piscina's `signal` does.
 */
import { createHistogram, performance } from 'node:perf_hooks';
import type { Board } from '../shared/board.js';
import { cancel } from '../shared/board.js';
import type { PollOutcome, PollTask, SleepOutcome, SleepTask } from '../shared/types.js';
import type { Executor } from './executors.js';
import type { CancelSignal } from './departure.js';
import { QueueFullError, ShuttingDownError } from './errors.js';

type Job =
  | { kind: 'poll'; task: PollTask; settle: Settle<PollOutcome>; queuedAt: number; detach: () => void }
  | { kind: 'sleep'; task: SleepTask; settle: Settle<SleepOutcome>; queuedAt: number; detach: () => void };

interface Settle<T> {
  resolve: (value: T) => void;
  reject: (error: unknown) => void;
}

export interface RunnerOptions {
  executor: Executor;
  board: Board;
  /** Tasks that may run at once: threads, times tasks per thread in multiplex mode. */
  capacity: number;
  /** Tasks allowed to wait for a free slot before new ones get 503. */
  maxQueue: number;
  /** Called whenever the number of polls waiting (queued or running) changes. */
  onPollCount?: (polls: number) => void;
  /** Called with each task's time in the queue (ms) as a thread takes it: the `/metrics` histogram. */
  onQueueWait?: (ms: number) => void;
}

export interface RunnerStats {
  running: number;
  queued: number;
  capacity: number;
  waiting_polls: number;
  /** Of waiting_polls, requests sharing another request's task. */
  riders: number;
  completed: number;
  cancelled: number;
  rejected: number;
  failed: number;
  /** Time tasks spent in Pollster's queue before a thread took them, ms. */
  queue_wait_ms: { p50: number; p99: number; max: number };
}

export class TaskRunner {
  readonly #executor: Executor;
  readonly #board: Board;
  readonly #capacity: number;
  readonly #maxQueue: number;
  readonly #onPollCount: (polls: number) => void;
  readonly #onQueueWait: (ms: number) => void;
  readonly #queue = new Set<Job>();
  readonly #running = new Set<Job>();
  readonly #queueWait = createHistogram();
  #polls = 0;
  /** Requests riding on another request's task (WaitCoalescer): counted as if each had its own. */
  #riders = 0;
  #closing = false;
  #completed = 0;
  #cancelled = 0;
  #rejected = 0;
  #failed = 0;

  constructor(options: RunnerOptions) {
    this.#executor = options.executor;
    this.#board = options.board;
    this.#capacity = options.capacity;
    this.#maxQueue = options.maxQueue;
    this.#onPollCount = options.onPollCount ?? (() => {});
    this.#onQueueWait = options.onQueueWait ?? (() => {});
  }

  /** Run a poll; resolves `{ outcome: 'cancelled' }` if `signal` aborts first. */
  poll(task: PollTask, signal?: CancelSignal): Promise<PollOutcome> {
    return this.#submit('poll', task, signal) as Promise<PollOutcome>;
  }

  sleep(task: SleepTask, signal?: CancelSignal): Promise<SleepOutcome> {
    return this.#submit('sleep', task, signal) as Promise<SleepOutcome>;
  }

  /**
   * Whether a task submitted now would be accepted rather than refused 503.
   * Every request counts, riders included: the queue only fills once every
   * slot is taken, so this is "running < capacity or queued < MAX_QUEUE" as
   * if each rider had a task of its own.
   */
  hasRoom(): boolean {
    return !this.#closing && this.#running.size + this.#queue.size + this.#riders < this.#capacity + this.#maxQueue;
  }

  /**
   * Count a request that shares a task already submitted (WaitCoalescer), or
   * throw the 503 that a task of its own would have met. `unride` gives it back.
   */
  ride(): void {
    if (this.#closing) throw new ShuttingDownError();
    if (!this.hasRoom()) {
      this.#rejected++;
      throw new QueueFullError();
    }
    this.#riders++;
    this.#countPolls(+1);
  }

  /** `count` riders are answered or gone (a shared answer gives back all its riders at once). */
  unride(count = 1): void {
    this.#riders -= count;
    this.#countPolls(-count);
  }

  #submit(kind: Job['kind'], task: PollTask | SleepTask, signal?: CancelSignal): Promise<PollOutcome | SleepOutcome> {
    if (this.#closing) return Promise.reject(new ShuttingDownError());
    if (signal?.aborted) return Promise.resolve({ outcome: 'cancelled' });
    if (!this.hasRoom()) {
      this.#rejected++;
      return Promise.reject(new QueueFullError());
    }
    return new Promise((resolve, reject) => {
      const onAbort = (): void => this.#abandon(job);
      const job = {
        kind,
        task,
        settle: { resolve, reject },
        queuedAt: performance.now(),
        detach: () => signal?.removeEventListener('abort', onAbort),
      } as Job;
      signal?.addEventListener('abort', onAbort, { once: true });
      this.#queue.add(job);
      if (kind === 'poll') this.#countPolls(+1);
      this.#startQueued();
    });
  }

  #startQueued(): void {
    while (this.#running.size < this.#capacity && this.#queue.size > 0) {
      const job = this.#queue.values().next().value as Job;
      this.#queue.delete(job);
      this.#running.add(job);
      const waitedMs = performance.now() - job.queuedAt;
      this.#queueWait.record(Math.max(1, Math.round(waitedMs * 1000)));
      this.#onQueueWait(waitedMs);
      const run = job.kind === 'poll' ? this.#executor.poll(job.task) : this.#executor.sleep(job.task);
      run.then(
        (outcome) => this.#finish(job, outcome, null),
        (error: unknown) => this.#finish(job, null, error),
      );
    }
  }

  #finish(job: Job, outcome: PollOutcome | SleepOutcome | null, error: unknown): void {
    this.#running.delete(job);
    job.detach();
    if (job.kind === 'poll') this.#countPolls(-1);
    if (outcome) {
      if (outcome.outcome === 'cancelled') this.#cancelled++;
      else this.#completed++;
      (job.settle as Settle<PollOutcome | SleepOutcome>).resolve(outcome);
    } else {
      this.#failed++;
      job.settle.reject(error);
    }
    this.#startQueued();
  }

  /** The client went away: drop the job if queued, or tell the running task to stop. */
  #abandon(job: Job): void {
    if (this.#queue.delete(job)) {
      job.detach();
      if (job.kind === 'poll') this.#countPolls(-1);
      this.#cancelled++;
      job.settle.resolve({ outcome: 'cancelled' });
    } else if (this.#running.has(job)) {
      this.#stop(job);
    }
  }

  #stop(job: Job): void {
    cancel(job.task.cancel);
    // A poll waits on a board cell, not on its cancel cell.
    if (job.kind === 'poll') this.#board.wake(job.task.walls.map(([wallId]) => wallId));
  }

  #countPolls(delta: number): void {
    this.#polls += delta;
    this.#onPollCount(this.#polls);
  }

  stats(): RunnerStats {
    const wait = this.#queueWait;
    const ms = (micros: number): number => Math.round(micros / 10) / 100;
    return {
      running: this.#running.size,
      queued: this.#queue.size,
      capacity: this.#capacity,
      waiting_polls: this.#polls,
      riders: this.#riders,
      completed: this.#completed,
      cancelled: this.#cancelled,
      rejected: this.#rejected,
      failed: this.#failed,
      queue_wait_ms: wait.count
        ? { p50: ms(wait.percentile(50)), p99: ms(wait.percentile(99)), max: ms(wait.max) }
        : { p50: 0, p99: 0, max: 0 },
    };
  }

  /**
   * Answer every queued task at once, tell running ones to stop, and wait for
   * them (up to `graceMs`) before destroying the pool. Piscina's own `close()`
   * is not used: in 5.3.2 it can kill long tasks early.
   */
  async close(graceMs: number): Promise<void> {
    this.#closing = true;
    for (const job of [...this.#queue]) this.#abandon(job);
    for (const job of this.#running) this.#stop(job);
    const deadline = Date.now() + graceMs;
    while (this.#running.size > 0 && Date.now() < deadline) {
      await new Promise((resolve) => setTimeout(resolve, 5));
    }
    await this.#executor.destroy();
  }
}
