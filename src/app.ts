/**
 * Puts a Pollster server together from a validated config: storage, the
 * shared board, the executor for the chosen POLL_MODE, the task runner and
 * the HTTP server. `close()` shuts it all down gracefully.
 */
import cluster from 'node:cluster';
import { existsSync, unlinkSync } from 'node:fs';
import type { Server } from 'node:http';
import type { Logger } from 'pino';
import type { Config } from './config.js';
import { createHttpServer, listen } from './http/http-server.js';
import { createRoutes } from './http/routes.js';
import { StreamCounter } from './http/check-stream.js';
import type { PublishRelay } from './cluster/relay.js';
import { ChangeWatcher } from './poll/change-watcher.js';
import { createMessageWaiter } from './poll/message-waiter.js';
import { InlineExecutor, PoolExecutor, type Executor } from './poll/executors.js';
import { JobLane } from './poll/job-lane.js';
import { WaitLimits } from './poll/wait-limits.js';
import { WaitCoalescer } from './poll/wait-coalescer.js';
import { TaskRunner } from './poll/task-runner.js';
import { Board, createCancelCell } from './shared/board.js';
import { Store } from './storage/store.js';
import { SessionPruner } from './storage/session-pruner.js';
import { SessionWaits } from './http/session-waits.js';
import { Metrics } from './observability/metrics.js';
import { measureWaits } from './observability/measured-waiter.js';
import { createLogger } from './observability/logger.js';

export interface Pollster {
  server: Server;
  /** `http://host:port`, or `unix:/path` when listening on a socket. */
  url: string;
  store: Store;
  runner: TaskRunner;
  executor: Executor;
  /** Where `/hello` jobs run, apart from polls and streams. */
  lane: JobLane;
  logger: Logger;
  stats(): PollsterStats;
  close(): Promise<void>;
}

/** How long shutdown waits for running tasks to see their cancel flag. */
const SHUTDOWN_GRACE_MS = 1500;

export async function startPollster(
  config: Config,
  logger: Logger = createLogger(config.logLevel),
  relay?: PublishRelay,
): Promise<Pollster> {
  const store = new Store(config.dbPath, { sessionTtlS: config.sessionTtlS });
  const board = new Board();
  const watcher = new ChangeWatcher(store, board, config.watchIntervalMs);
  watcher.refresh();

  const executor = createExecutor(config, board, store, watcher, logger);
  await checkWorkersLoad(executor, store);
  if (config.pollMode !== 'inline') await waitForPrespawnedThreads(board, config.minThreads, logger);
  const capacity =
    config.pollMode === 'inline' ? 1 : config.maxThreads * (config.pollMode === 'multiplex' ? config.tasksPerThread : 1);
  const runner = new TaskRunner({
    executor,
    board,
    capacity,
    maxQueue: config.maxQueue,
    onPollCount: (polls) => watcher.setActive(polls > 0),
    onQueueWait: (ms) => metrics.observeQueueWait(ms / 1000),
  });
  const lane = new JobLane({
    concurrency: config.helloConcurrency,
    minThreads: config.minThreads,
    maxQueue: config.helloQueue,
    inline: config.pollMode === 'inline',
    board,
    onError: (error) => logger.error({ err: error }, '/hello lane thread failed'),
  });
  await checkLaneLoads(lane, runner, store);
  const waitLimits = new WaitLimits(config);

  relay?.onRemote((wallId, messageId) => board.publish(wallId, messageId));
  const publish = (wallId: number, messageId: number): void => {
    board.publish(wallId, messageId);
    relay?.announce(wallId, messageId);
  };
  const streams = new StreamCounter();
  const startedAt = Date.now();
  const metrics = new Metrics(() => stats());
  const stats = (): PollsterStats => collectStats(config, runner, executor, watcher, board, streams, startedAt, lane, waitLimits, coalescer);
  // Identical waits share one pool task; inline, the blocking control, keeps one per wait.
  const coalescer = config.pollMode === 'inline' ? undefined : new WaitCoalescer(runner);
  const waitForMessages = measureWaits(createMessageWaiter(config, board, store, runner, coalescer), metrics);
  const sessionWaits = new SessionWaits();
  relay?.onRemoteLogout((sessionId) => sessionWaits.endSession(sessionId));
  relay?.serveMetrics(() => metrics.registry.getMetricsAsJSON());
  const logout = (sessionId: string): boolean => {
    const existed = store.deleteSession(sessionId);
    if (existed) {
      sessionWaits.endSession(sessionId);
      relay?.announceLogout(sessionId);
    }
    return existed;
  };
  // Under cluster any process may get the scrape; the primary sums them all.
  const metricsText = async (): Promise<{ contentType: string; text: string }> => ({
    contentType: metrics.contentType,
    text: relay ? await relay.clusterMetrics() : await metrics.text(),
  });
  const routes = createRoutes({
    config,
    store,
    publish,
    runner,
    lane,
    waitLimits,
    waitForMessages,
    streams,
    stats,
    metrics: metricsText,
    sessionWaits,
    logout,
  });
  const server = createHttpServer(config, routes, logger, metrics);
  const pruner = new SessionPruner(store, config.sessionTtlS, {
    onPruned: (count) => metrics.countPrunedSessions(count),
    onError: (error) => logger.error({ err: error }, 'session pruning failed'),
  });
  pruner.start();

  const url = await listen(server, config);
  logger.info({ url, mode: config.pollMode, wake: config.wake, maxThreads: config.maxThreads }, 'pollster listening');

  let closing: Promise<void> | undefined;
  async function shutDown(): Promise<void> {
    pruner.stop();
    server.close();
    // Waiting polls are answered (empty) as their tasks see the cancel flag.
    await Promise.all([runner.close(SHUTDOWN_GRACE_MS), lane.close(SHUTDOWN_GRACE_MS)]);
    watcher.setActive(false);
    server.closeIdleConnections();
    await new Promise((resolve) => setTimeout(resolve, 20));
    server.closeAllConnections();
    store.close();
    // Under cluster the socket belongs to the primary, which removes it.
    if (config.socket && cluster.isPrimary && existsSync(config.socket)) unlinkSync(config.socket);
  }

  return {
    server,
    url,
    store,
    runner,
    executor,
    lane,
    logger,
    stats,
    close: () => (closing ??= shutDown()),
  };
}

export type PollsterStats = ReturnType<typeof collectStats>;

function collectStats(
  config: Config,
  runner: TaskRunner,
  executor: Executor,
  watcher: ChangeWatcher,
  board: Board,
  streams: StreamCounter,
  startedAt: number,
  lane: JobLane,
  waitLimits: WaitLimits,
  coalescer: WaitCoalescer | undefined,
) {
  const run = runner.stats();
  const memory = process.memoryUsage();
  const pooled = config.pollMode !== 'inline';
  const threads = executor.threads().length;
  return {
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
    watcher_active: watcher.active,
    memory: { rss: memory.rss, heap_used: memory.heapUsed },
    uptime_s: Math.round((Date.now() - startedAt) / 1000),
  };
}

function createExecutor(config: Config, board: Board, store: Store, watcher: ChangeWatcher, logger: Logger): Executor {
  if (config.pollMode === 'inline') {
    return new InlineExecutor(board, store, () => watcher.check(), config.watchIntervalMs);
  }
  return new PoolExecutor({
    board,
    dbPath: config.dbPath,
    minThreads: config.minThreads,
    maxThreads: config.maxThreads,
    tasksPerThread: config.pollMode === 'multiplex' ? config.tasksPerThread : 1,
    onError: (error) => logger.error({ err: error }, 'worker thread failed'),
  });
}

/**
 * A worker module that fails to load (wrong path, missing loader) would leave
 * every poll hanging; run one empty task first so start-up fails instead.
 */
async function checkWorkersLoad(executor: Executor, store: Store): Promise<void> {
  try {
    await executor.sleep({ ms: 0, cancel: createCancelCell() });
  } catch (error) {
    await executor.destroy();
    store.close();
    throw new Error(`worker threads failed to start: ${(error as Error).message}`, { cause: error });
  }
}

async function checkLaneLoads(lane: JobLane, runner: TaskRunner, store: Store): Promise<void> {
  try {
    await lane.check();
  } catch (error) {
    await Promise.all([lane.close(0), runner.close(0)]);
    store.close();
    throw new Error(`/hello lane threads failed to start: ${(error as Error).message}`, { cause: error });
  }
}

/**
 * Piscina spawns MIN_THREADS threads at once, but each then loads its module
 * and opens SQLite — seconds of CPU for hundreds of threads. Listening only
 * after they are all loaded keeps the first requests from paying for that.
 */
async function waitForPrespawnedThreads(board: Board, minThreads: number, logger: Logger): Promise<void> {
  const deadline = Date.now() + 60_000;
  while (board.loadedWorkers() < minThreads) {
    if (Date.now() > deadline) {
      logger.warn({ loaded: board.loadedWorkers(), minThreads }, 'not every pre-spawned thread loaded within 60 s');
      return;
    }
    await new Promise((resolve) => setTimeout(resolve, 10));
  }
}
