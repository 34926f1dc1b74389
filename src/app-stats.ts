/**
 * The `/stats` snapshot: what every part of a running Pollster reports,
 * gathered into one JSON object (and read by `/metrics`).
 */
import type { Backend } from './backend.js';
import type { Config } from './config.js';
import type { StreamCounter } from './http/check-stream.js';
import type { StatsSnapshot } from './observability/stats.js';
import type { Executor } from './poll/executors.js';
import type { JobLane } from './poll/job-lane.js';
import type { TaskRunner } from './poll/task-runner.js';
import type { WaitCoalescer } from './poll/wait-coalescer.js';
import type { WaitLimits } from './poll/wait-limits.js';
import type { Board } from './shared/board.js';

export interface StatsSources {
  config: Config;
  runner: TaskRunner;
  executor: Executor;
  backend: Backend;
  board: Board;
  streams: StreamCounter;
  lane: JobLane;
  waitLimits: WaitLimits;
  /** Absent in inline mode, where every wait is a task of its own. */
  coalescer: WaitCoalescer | undefined;
  /** Epoch ms the server started. */
  startedAt: number;
}

export type PollsterStats = ReturnType<typeof collectStats>;

export function collectStats(sources: StatsSources) {
  const { config, runner, executor, backend, board, streams, lane, waitLimits, coalescer } = sources;
  const run = runner.stats();
  const memory = process.memoryUsage();
  const pooled = config.pollMode !== 'inline';
  const threads = executor.threads().length;
  const stats = {
    pid: process.pid,
    mode: config.pollMode,
    wake: config.wake,
    pool: {
      min_threads: pooled ? config.minThreads : 0,
      max_threads: pooled ? config.maxThreads : 0,
      threads,
      /** Threads that have loaded the task module since start (replacements count too). */
      threads_loaded: board.loadedWorkers(),
      tasks_per_thread: config.pollMode === 'multiplex' ? config.tasksPerThread : 1,
      capacity: run.capacity,
      busy: run.running,
      /** Tasks (polls, stream batches) each thread holds now, on average. */
      held_per_thread: threads ? Math.round((run.running / threads) * 10) / 10 : run.running,
      queued: run.queued,
      max_queue: config.maxQueue,
      /** Share of task slots in use now. */
      utilization: run.capacity ? Math.round((run.running / run.capacity) * 1000) / 1000 : 0,
      completed: run.completed,
      cancelled: run.cancelled,
      rejected: run.rejected,
      failed: run.failed,
      queue_wait_ms: run.queue_wait_ms,
      /** Identical waits sharing one task: tasks shared now, requests riding on them now, and ever answered that way. */
      coalescing: coalescer?.stats() ?? { shared_waits: 0, riders: 0, coalesced: 0 },
      /** Piscina's own histograms: time inside a thread, and time in Piscina's queue (near 0: Pollster queues first). */
      piscina: executor.timings(),
    },
    /** `/hello` jobs: their own threads, limit and queue, apart from the pool above. */
    hello_lane: lane.stats(),
    waiting_polls: run.waiting_polls,
    open_streams: streams.open,
    /** Streams ended because their client stopped reading for SSE_STALL_MS. */
    sse_stalled: streams.stalled,
    /** Per-session and per-address caps on concurrent waits, and how often they refused one. */
    wait_limits: waitLimits.stats(),
    watcher_active: backend.watcher?.active ?? false,
    database:
      backend.kind === 'sqlite'
        ? { backend: 'sqlite' as const }
        : { backend: 'postgres' as const, ...backend.listener.stats(), pool: backend.store.poolStats() },
    memory: { rss: memory.rss, heap_used: memory.heapUsed },
    uptime_s: Math.round((Date.now() - sources.startedAt) / 1000),
  };
  // Checked here, not at the caller: the snapshot must keep what /metrics reads.
  return stats satisfies StatsSnapshot;
}
