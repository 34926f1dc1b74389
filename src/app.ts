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
import { CoalescedReads } from './poll/coalesced-reads.js';
import { createBoardMessageWaiter, createMessageWaiter, type MessageWaiter } from './poll/message-waiter.js';
import { PgListener } from './poll/pg-listener.js';
import { InlineExecutor, PoolExecutor, type Executor } from './poll/executors.js';
import { JobLane } from './poll/job-lane.js';
import { WaitLimits } from './poll/wait-limits.js';
import { WaitCoalescer } from './poll/wait-coalescer.js';
import { TaskRunner } from './poll/task-runner.js';
import { Board, createCancelCell } from './shared/board.js';
import { PgStore } from './storage/pg-store.js';
import type { Storage } from './storage/storage.js';
import { Store } from './storage/store.js';
import { SessionPruner } from './storage/session-pruner.js';
import { SessionWaits } from './http/session-waits.js';
import { Metrics } from './observability/metrics.js';
import { WaitMeter } from './observability/wait-meter.js';
import { createLogger } from './observability/logger.js';

export interface Pollster {
  server: Server;
  /** `http://host:port`, or `unix:/path` when listening on a socket. */
  url: string;
  store: Storage;
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
  const board = new Board();
  const backend = await openBackend(config, board, logger);
  const { store, watcher } = backend;

  const executor = createExecutor(config, board, backend, logger);
  await checkWorkersLoad(executor, backend);
  if (config.pollMode !== 'inline') await waitForPrespawnedThreads(board, config.minThreads, logger);
  const capacity =
    config.pollMode === 'inline' ? 1 : config.maxThreads * (config.pollMode === 'multiplex' ? config.tasksPerThread : 1);
  const runner = new TaskRunner({
    executor,
    board,
    capacity,
    maxQueue: config.maxQueue,
    onPollCount: (polls) => watcher?.setActive(polls > 0),
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
  await checkLaneLoads(lane, runner, backend);
  const waitLimits = new WaitLimits(config);

  relay?.onRemote((wallId, messageId) => board.publish(wallId, messageId));
  const publish = (wallId: number, messageId: number): void => {
    board.publish(wallId, messageId);
    relay?.announce(wallId, messageId);
  };
  const streams = new StreamCounter();
  const startedAt = Date.now();
  const metrics = new Metrics(() => stats());
  const stats = (): PollsterStats => collectStats(config, runner, executor, backend, board, streams, startedAt, lane, waitLimits, coalescer);
  // Identical waits share one pool task; inline, the blocking control, keeps one per wait.
  const coalescer = config.pollMode === 'inline' ? undefined : new WaitCoalescer(runner);
  const waiter: MessageWaiter =
    backend.kind === 'sqlite'
      ? createMessageWaiter(config, board, backend.store, runner, coalescer)
      : createBoardMessageWaiter(config, board, new CoalescedReads(backend.store, board), runner, coalescer);
  const sessionWaits = new SessionWaits();
  relay?.onRemoteLogout((sessionId) => sessionWaits.endSession(sessionId));
  relay?.serveMetrics(() => metrics.registry.getMetricsAsJSON());
  const logout = async (sessionId: string): Promise<boolean> => {
    const existed = await store.deleteSession(sessionId);
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
    waitForMessages: waiter,
    waitMeter: new WaitMeter(metrics),
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
    watcher?.setActive(false);
    server.closeIdleConnections();
    await new Promise((resolve) => setTimeout(resolve, 20));
    server.closeAllConnections();
    await backend.close();
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
  backend: Backend,
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
    watcher_active: backend.watcher?.active ?? false,
    database:
      backend.kind === 'sqlite'
        ? { backend: 'sqlite' as const }
        : { backend: 'postgres' as const, ...backend.listener.stats(), pool: backend.store.poolStats() },
    memory: { rss: memory.rss, heap_used: memory.heapUsed },
    uptime_s: Math.round((Date.now() - startedAt) / 1000),
  };
}

/**
 * SQLite: a Store on the main thread, a read connection per worker thread,
 * and the data_version watcher for other writers. PostgreSQL: a bounded pool
 * on the main thread only, and a LISTEN connection for every writer's posts.
 */
type Backend =
  | { kind: 'sqlite'; store: Store; watcher: ChangeWatcher; close(): void }
  | { kind: 'postgres'; store: PgStore; watcher: null; listener: PgListener; close(): Promise<void> };

async function openBackend(config: Config, board: Board, logger: Logger): Promise<Backend> {
  if (!config.databaseUrl) {
    const store = new Store(config.dbPath, { sessionTtlS: config.sessionTtlS });
    const watcher = new ChangeWatcher(store, board, config.watchIntervalMs);
    watcher.refresh();
    return { kind: 'sqlite', store, watcher, close: () => store.close() };
  }
  const store = await PgStore.open({
    url: config.databaseUrl,
    poolSize: config.pgPoolSize,
    sessionTtlS: config.sessionTtlS,
    onIdleError: (error) => logger.debug({ err: error }, 'an idle PostgreSQL connection failed'),
  });
  const listener = new PgListener(config.databaseUrl, board, logger);
  try {
    await listener.start();
  } catch (error) {
    await store.close();
    throw new Error(`cannot LISTEN on PostgreSQL: ${(error as Error).message}`, { cause: error });
  }
  return {
    kind: 'postgres',
    store,
    watcher: null,
    listener,
    async close() {
      await listener.stop();
      await store.close();
    },
  };
}

function createExecutor(config: Config, board: Board, backend: Backend, logger: Logger): Executor {
  if (config.pollMode === 'inline') {
    if (backend.kind !== 'sqlite') throw new Error('POLL_MODE=inline needs SQLite');
    const { store, watcher } = backend;
    return new InlineExecutor(board, store, () => watcher.check(), config.watchIntervalMs);
  }
  return new PoolExecutor({
    board,
    dbPath: backend.kind === 'sqlite' ? config.dbPath : null,
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
async function checkWorkersLoad(executor: Executor, backend: Backend): Promise<void> {
  try {
    await executor.sleep({ ms: 0, cancel: createCancelCell() });
  } catch (error) {
    await executor.destroy();
    await backend.close();
    throw new Error(`worker threads failed to start: ${(error as Error).message}`, { cause: error });
  }
}

async function checkLaneLoads(lane: JobLane, runner: TaskRunner, backend: Backend): Promise<void> {
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
