/**
 * Puts a Pollster server together from a validated config: storage, the
 * shared board, the executor for the chosen POLL_MODE, the task runner and
 * the HTTP server. `close()` shuts it all down gracefully.
 */
import cluster from 'node:cluster';
import { existsSync, unlinkSync } from 'node:fs';
import type { Server } from 'node:http';
import type { Logger } from 'pino';
import { collectStats, type PollsterStats } from './app-stats.js';
import { describeStart, notReadyBecause } from './app-status.js';
import { TokenVerifier } from './auth/token-verifier.js';
import { type Backend, openBackend } from './backend.js';
import type { PublishRelay } from './cluster/relay.js';
import type { Config } from './config.js';
import { StreamCounter } from './http/check-stream.js';
import { createAddressResolver } from './http/client-address.js';
import { createHttpServer, listen } from './http/http-server.js';
import { createRoutes } from './http/routes.js';
import { HeldWaits } from './http/held-waits.js';
import { createLogger } from './observability/logger.js';
import { Metrics } from './observability/metrics.js';
import { WaitMeter } from './observability/wait-meter.js';
import { createBoardMessageWaiter } from './poll/board-waiter.js';
import { CoalescedReads } from './poll/coalesced-reads.js';
import { NotifiedFirstReads } from './poll/notified-messages.js';
import { type Executor, InlineExecutor, PoolExecutor } from './poll/executors.js';
import { JobLane } from './poll/job-lane.js';
import { createMessageWaiter, type MessageWaiter } from './poll/message-waiter.js';
import { TaskRunner } from './poll/task-runner.js';
import { WaitCoalescer } from './poll/wait-coalescer.js';
import { WaitLimits } from './poll/wait-limits.js';
import { Board } from './shared/board.js';
import { checkLaneLoads, checkWorkersLoad, waitForPrespawnedThreads } from './startup-checks.js';
import { type History, startHistory } from './storage/history-pruner.js';
import type { HistoryFloors } from './storage/history-floors.js';
import { SessionPruner } from './storage/session-pruner.js';
import type { Storage } from './storage/storage.js';

export type { PollsterStats } from './app-stats.js';

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
  /** Why it cannot serve now (what `/readyz` answers), or null. */
  notReady(): Promise<string | null>;
  /** Bounded history: the walls' floors this process checks cursors against, and its pruner (HISTORY_*). */
  history: History;
  close(): Promise<void>;
}

/** How long shutdown waits for running tasks to see their cancel flag. */
const SHUTDOWN_GRACE_MS = 1500;

export async function startPollster(
  config: Config,
  logger: Logger = createLogger(config.logLevel),
  relay?: PublishRelay,
): Promise<Pollster> {
  const core = await startCore(config, logger, relay);
  const { board, backend, metrics, executor, runner, lane, waitLimits, coalescer, streams, stats, heldWaits, changed, history } = core;
  const { store } = backend;
  /** Set as shutdown begins: /readyz turns load balancers away before the listener closes. */
  let draining = false;
  const notReady = (): Promise<string | null> => (draining ? Promise.resolve('draining') : notReadyBecause(config, executor, backend));
  const routes = createRoutes({
    config,
    store,
    history: history.floors,
    tokens: tokenVerifier(config, logger),
    publish(wallId, messageId) {
      board.publish(wallId, messageId);
      // On PostgreSQL every process hears the notification, with the message in it.
      if (backend.kind === 'postgres' && backend.listener.listening) return;
      relay?.announce(wallId, messageId);
    },
    runner,
    lane,
    waitLimits,
    clientOf: createAddressResolver(config.trustProxy),
    waitForMessages: createWaiter(config, board, backend, runner, coalescer, history.floors),
    waitMeter: new WaitMeter(metrics),
    streams,
    stats,
    // Under cluster any process may get the scrape; the primary sums them all.
    metrics: async () => ({
      contentType: metrics.contentType,
      text: relay ? await relay.clusterMetrics() : await metrics.text(),
    }),
    heldWaits,
    changed,
    readiness: notReady,
    async logout(sessionId) {
      const existed = await store.deleteSession(sessionId);
      // The sessions trigger announces it to every process, this one included.
      if (existed) changed();
      return existed;
    },
  });
  const server = createHttpServer(config, routes, logger, metrics);
  const pruner = new SessionPruner(store, config.sessionTtlS, {
    onPruned: (count) => {
      metrics.countPrunedSessions(count);
      // Waits of the sessions that expired end too.
      if (count > 0) changed();
    },
    onError: (error) => logger.error({ err: error }, 'session pruning failed'),
  });
  pruner.start();

  const url = await listen(server, config);
  logger.info({ url, ...describeStart(config, backend) }, 'pollster listening');

  let closing: Promise<void> | undefined;
  return {
    server,
    url,
    store,
    runner,
    executor,
    lane,
    logger,
    stats,
    notReady,
    history,
    close: () => {
      draining = true;
      return (closing ??= shutDown(config, { server, runner, lane, backend, pruner, history }));
    },
  };
}

/**
 * Changes of access (logout, revocation, walls, members) come from the
 * database, whoever made them, in every process on every host; `changed`
 * reads them at once after this process's own writes (SQLite's data_version
 * does not move for them).
 */
function followAccessChanges(backend: Backend, logger: Logger): { heldWaits: HeldWaits; changed: () => void } {
  const heldWaits = new HeldWaits(backend.store.admin, (error) =>
    logger.warn({ err: error }, 'checking held waits after a change of access failed'),
  );
  if (backend.kind === 'postgres') backend.listener.onChange((change) => heldWaits.apply(change));
  else backend.watcher.onChange((change) => heldWaits.apply(change));
  return { heldWaits, changed: () => backend.watcher?.readChanges() };
}

/** AUTH=jwt: the verifier, logging each refusal's reason (never the token). AUTH=demo beyond loopback: a warning. */
function tokenVerifier(config: Config, logger: Logger): TokenVerifier | null {
  if (config.auth.mode === 'jwt') {
    return new TokenVerifier(config.auth, { onRefused: (reason) => logger.info({ reason }, 'token refused') });
  }
  if (config.auth.exposed) {
    logger.warn({ auth: 'demo' }, 'AUTH=demo while listening beyond loopback: anyone who reaches Pollster can log in as any user');
  }
  return null;
}

/** Everything but the HTTP server: storage, the scheduler, metrics, access changes and history. */
async function startCore(config: Config, logger: Logger, relay: PublishRelay | undefined) {
  const board = new Board();
  const backend = await openBackend(config, board, logger);
  let metrics: Metrics | undefined;
  const { executor, runner, lane } = await startScheduler(config, board, backend, logger, (ms) => metrics?.observeQueueWait(ms / 1000));
  const waitLimits = new WaitLimits(config);
  // Identical waits share one pool task; inline, the blocking control, keeps one per wait.
  const coalescer = config.pollMode === 'inline' ? undefined : new WaitCoalescer(runner);
  const streams = new StreamCounter();
  const statsSources = { config, runner, executor, backend, board, streams, lane, waitLimits, coalescer, startedAt: Date.now() };
  const stats = (): PollsterStats => collectStats(statsSources);
  const registered = new Metrics(stats);
  metrics = registered;
  relay?.onRemote((wallId, messageId) => board.publish(wallId, messageId));
  relay?.serveMetrics(() => registered.registry.getMetricsAsJSON());
  const { heldWaits, changed } = followAccessChanges(backend, logger);
  const history = await startHistory(backend.store, config, {
    onPruned: (count) => registered.countPrunedHistory(count),
    onGaps: (count) => registered.countHistoryGaps(count),
    onError: (error) => logger.warn({ err: error }, 'history pruning failed'),
  });
  return {
    board,
    backend,
    metrics: registered,
    executor,
    runner,
    lane,
    waitLimits,
    coalescer,
    streams,
    stats,
    heldWaits,
    changed,
    history,
  };
}

/** The executor for POLL_MODE, the task runner in front of it, and the `/hello` lane, each checked to start. */
async function startScheduler(
  config: Config,
  board: Board,
  backend: Backend,
  logger: Logger,
  onQueueWait: (ms: number) => void,
): Promise<{ executor: Executor; runner: TaskRunner; lane: JobLane }> {
  const executor = createExecutor(config, board, backend, logger);
  await checkWorkersLoad(executor, backend);
  if (config.pollMode !== 'inline') await waitForPrespawnedThreads(board, config.minThreads, logger);
  const capacity = config.pollMode === 'inline' ? 1 : config.maxThreads * (config.pollMode === 'multiplex' ? config.tasksPerThread : 1);
  const runner = new TaskRunner({
    executor,
    board,
    capacity,
    maxQueue: config.maxQueue,
    onPollCount: (polls) => backend.watcher?.setActive(polls > 0),
    onQueueWait,
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
  return { executor, runner, lane };
}

/** Stop taking requests, answer the waiting ones (empty), then close connections and the database. */
async function shutDown(
  config: Config,
  parts: { server: Server; runner: TaskRunner; lane: JobLane; backend: Backend; pruner: SessionPruner; history: History },
): Promise<void> {
  const { server, runner, lane, backend, pruner, history } = parts;
  pruner.stop();
  server.close();
  // Waiting polls are answered (empty) as their tasks see the cancel flag.
  await Promise.all([runner.close(SHUTDOWN_GRACE_MS), lane.close(SHUTDOWN_GRACE_MS), history.stop()]);
  backend.watcher?.setActive(false);
  server.closeIdleConnections();
  await new Promise((resolve) => setTimeout(resolve, 20));
  server.closeAllConnections();
  await backend.close();
  // Under cluster the socket belongs to the primary, which removes it.
  if (config.socket && cluster.isPrimary && existsSync(config.socket)) unlinkSync(config.socket);
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

/** SQLite: threads read the messages themselves. PostgreSQL: threads wait on the board, the main thread reads. */
function createWaiter(
  config: Config,
  board: Board,
  backend: Backend,
  runner: TaskRunner,
  coalescer: WaitCoalescer | undefined,
  floors: HistoryFloors,
): MessageWaiter {
  if (backend.kind === 'sqlite') return createMessageWaiter(config, board, backend.store, runner, coalescer);
  const notified = backend.listener.messages;
  const reads = new NotifiedFirstReads(notified, backend.store, (wallId) => floors.floorOf(wallId));
  // Shared above both sources: polls woken together get one array, serialised once.
  return createBoardMessageWaiter(config, board, new CoalescedReads(reads, board, () => notified.generation), runner, coalescer);
}
