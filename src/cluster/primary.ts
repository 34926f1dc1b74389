/**
 * Puma's `workers`: the primary forks WEB_CONCURRENCY processes that share
 * the port (each with its own Piscina pool of MIN_THREADS..MAX_THREADS),
 * relays post announcements between them, sums their metrics
 * for `/metrics`, and restarts any that dies.
 */
import cluster, { type Worker } from 'node:cluster';
import { existsSync, unlinkSync } from 'node:fs';
import type { Logger } from 'pino';
import type { Config } from '../config.js';
import { MetricsAggregation } from './metrics-aggregation.js';
import { isMetricsReport, isMetricsRequest, isPublished, type MetricsAnswer } from './relay.js';

/** A process that dies this soon after its start counts as failing to start. */
const QUICK_DEATH_MS = 2000;
const MAX_QUICK_DEATHS = 5;
const STOP_GRACE_MS = 3000;

export function runPrimary(config: Config, logger: Logger, exit: (code: number) => void): void {
  // The workers share the primary's socket; a file left by a crash would block it.
  if (config.socket && existsSync(config.socket)) unlinkSync(config.socket);
  let stopping = false;
  let quickDeaths = 0;
  const startedAt = new Map<Worker, number>();
  /** Processes that are serving requests: the ones whose metrics are collected. */
  const listening = new Set<Worker>();
  const aggregation = new MetricsAggregation();
  cluster.on('listening', (worker) => listening.add(worker));

  const fork = (): void => {
    const worker = cluster.fork();
    startedAt.set(worker, Date.now());
  };

  cluster.on('message', (from, message: unknown) => {
    if (isMetricsReport(message)) {
      aggregation.report(from, message.collectId, message.metrics);
    } else if (isMetricsRequest(message)) {
      const { requestId } = message;
      aggregation.collect([...listening]).then(
        (text) => from.isConnected() && from.send({ type: 'pollster:metrics-answer', requestId, text } satisfies MetricsAnswer),
        (error: unknown) => {
          logger.error({ err: error }, 'metrics aggregation failed');
          if (from.isConnected())
            from.send({ type: 'pollster:metrics-answer', requestId, error: 'aggregation failed' } satisfies MetricsAnswer);
        },
      );
    } else if (isPublished(message)) {
      for (const worker of Object.values(cluster.workers ?? {})) {
        if (worker && worker !== from && worker.isConnected()) worker.send(message);
      }
    }
  });

  cluster.on('exit', (worker, code, signal) => {
    const lived = Date.now() - (startedAt.get(worker) ?? 0);
    startedAt.delete(worker);
    listening.delete(worker);
    aggregation.forget(worker);
    if (stopping) return;
    logger.error({ pid: worker.process.pid, code, signal }, 'worker process died; starting another');
    quickDeaths = lived < QUICK_DEATH_MS ? quickDeaths + 1 : 0;
    if (quickDeaths >= MAX_QUICK_DEATHS) {
      logger.fatal('worker processes keep dying at start-up; giving up');
      exit(1);
      return;
    }
    fork();
  });

  const stop = (signal: NodeJS.Signals): void => {
    if (stopping) return;
    stopping = true;
    logger.info({ signal }, 'shutting down worker processes');
    const workers = Object.values(cluster.workers ?? {}).filter((w): w is Worker => Boolean(w));
    const killer = setTimeout(() => {
      for (const w of workers) w.process.kill('SIGKILL');
    }, STOP_GRACE_MS);
    const exits = workers.map((w) => new Promise((resolve) => (w.isDead() ? resolve(null) : w.once('exit', resolve))));
    void Promise.all(exits).then(() => {
      clearTimeout(killer);
      if (config.socket && existsSync(config.socket)) unlinkSync(config.socket);
      exit(0);
    });
    for (const worker of workers) worker.process.kill(signal);
  };
  process.once('SIGTERM', () => stop('SIGTERM'));
  process.once('SIGINT', () => stop('SIGINT'));

  // pino's base fields carry this process's pid already.
  logger.info({ processes: config.webConcurrency }, 'cluster primary starting worker processes');
  for (let i = 0; i < config.webConcurrency; i++) fork();
}
