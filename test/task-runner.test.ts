/** The task runner on its own, with an executor whose tasks the test settles by hand. */
import { describe, expect, it } from 'vitest';
import { toHttpError } from '../src/http/error-mapping.js';
import { QueueFullError, ShuttingDownError } from '../src/poll/errors.js';
import type { Executor } from '../src/poll/executors.js';
import { TaskRunner } from '../src/poll/task-runner.js';
import { Board, createCancelCell, isCancelled } from '../src/shared/board.js';
import type { PollOutcome, PollTask } from '../src/shared/types.js';

class ManualExecutor implements Executor {
  started: Array<{ task: PollTask; resolve: (o: PollOutcome) => void; reject: (e: unknown) => void }> = [];
  destroyed = false;
  poll(task: PollTask): Promise<PollOutcome> {
    return new Promise((resolve, reject) => this.started.push({ task, resolve, reject }));
  }
  async sleep(): Promise<never> {
    throw new Error('not used');
  }
  threads() {
    return [];
  }
  timings() {
    return null;
  }
  async destroy() {
    this.destroyed = true;
  }
}

function task(): PollTask {
  return { walls: [[1, 0]], deadline: Date.now() + 60_000, wake: 'notify', intervalMs: 500, limit: 100, cancel: createCancelCell() };
}

function setup(capacity: number, maxQueue: number) {
  const executor = new ManualExecutor();
  const counts: number[] = [];
  const runner = new TaskRunner({ executor, board: new Board(), capacity, maxQueue, onPollCount: (n) => counts.push(n) });
  return { executor, runner, counts };
}

describe('TaskRunner', () => {
  it('starts up to capacity and the rest in arrival order', async () => {
    const { executor, runner } = setup(2, 10);
    const tasks = [task(), task(), task(), task()];
    const results = tasks.map((t) => runner.poll(t));
    expect(executor.started.map((s) => s.task)).toEqual(tasks.slice(0, 2));
    expect(runner.stats()).toMatchObject({ running: 2, queued: 2, waiting_polls: 4 });
    executor.started[1]!.resolve({ outcome: 'timeout' });
    await results[1];
    expect(executor.started.map((s) => s.task)).toEqual(tasks.slice(0, 3));
  });

  it('refuses beyond capacity + maxQueue with QueueFullError, which HTTP answers 503 Server busy', async () => {
    const { runner } = setup(1, 1);
    void runner.poll(task());
    void runner.poll(task());
    const refused = await runner.poll(task()).catch((error: unknown) => error);
    expect(refused).toBeInstanceOf(QueueFullError);
    expect(toHttpError(refused)).toMatchObject({ status: 503, message: 'Server busy', headers: { 'Retry-After': '1' } });
    expect(runner.stats().rejected).toBe(1);
  });

  it('drops a queued task whose signal aborts, without starting it', async () => {
    const { executor, runner, counts } = setup(1, 5);
    void runner.poll(task());
    const controller = new AbortController();
    const queued = runner.poll(task(), controller.signal);
    controller.abort();
    expect(await queued).toEqual({ outcome: 'cancelled' });
    expect(executor.started).toHaveLength(1);
    expect(counts).toEqual([1, 2, 1]);
  });

  it('raises the cancel flag of a running task whose signal aborts', () => {
    const { executor, runner } = setup(1, 5);
    const controller = new AbortController();
    void runner.poll(task(), controller.signal);
    controller.abort();
    expect(isCancelled(executor.started[0]!.task.cancel)).toBe(true);
  });

  it('passes a failed task on as a rejection and counts it', async () => {
    const { executor, runner } = setup(1, 5);
    const result = runner.poll(task());
    executor.started[0]!.reject(new Error('worker died'));
    await expect(result).rejects.toThrow('worker died');
    expect(runner.stats()).toMatchObject({ failed: 1, running: 0, waiting_polls: 0 });
  });

  it('close() answers queued tasks, stops running ones, then destroys the executor', async () => {
    const { executor, runner } = setup(1, 5);
    const running = runner.poll(task());
    const queued = runner.poll(task());
    const closing = runner.close(1000);
    expect(await queued).toEqual({ outcome: 'cancelled' });
    const started = executor.started[0]!;
    expect(isCancelled(started.task.cancel)).toBe(true);
    started.resolve({ outcome: 'cancelled' });
    await closing;
    expect(await running).toEqual({ outcome: 'cancelled' });
    expect(executor.destroyed).toBe(true);
    const refused = await runner.poll(task()).catch((error: unknown) => error);
    expect(refused).toBeInstanceOf(ShuttingDownError);
    expect(toHttpError(refused)).toMatchObject({ status: 503, message: 'Server shutting down' });
  });
});
