/**
 * The primary's half of `/metrics` under `WEB_CONCURRENCY`: collect every
 * live process's registry over IPC and sum them with prom-client's
 * `AggregatorRegistry.aggregate` (counters, gauges and histogram buckets add
 * up; prom-client's default process metrics carry their own aggregators).
 *
 * prom-client's own `clusterMetrics()` asks every connected worker and fails
 * the whole scrape after 5 s if one does not answer — which a process that
 * is still starting (forked, not yet listening) never does. Here only
 * processes that are listening are asked, one that does not answer within
 * `COLLECT_TIMEOUT_MS` is left out, and `pollster_cluster_processes` says how
 * many answered.
 */
import type { Worker } from 'node:cluster';
import { AggregatorRegistry } from 'prom-client';
import type { MetricsCollect } from './relay.js';

const COLLECT_TIMEOUT_MS = 2000;

export class MetricsAggregation {
  readonly #pending = new Map<number, { reports: object[][]; waiting: Set<Worker>; done: () => void }>();
  #nextCollect = 0;

  /** Sum the registries of `workers`; resolves with Prometheus text. */
  async collect(workers: Worker[]): Promise<string> {
    const collectId = this.#nextCollect++;
    const reports: object[][] = [];
    const waiting = new Set(workers.filter((worker) => worker.isConnected()));
    const answered = new Promise<void>((resolve) => {
      const timer = setTimeout(resolve, COLLECT_TIMEOUT_MS);
      const done = (): void => {
        clearTimeout(timer);
        resolve();
      };
      this.#pending.set(collectId, { reports, waiting, done });
      if (waiting.size === 0) done();
    });
    const message: MetricsCollect = { type: 'pollster:metrics-collect', collectId };
    for (const worker of waiting) worker.send(message);
    await answered;
    this.#pending.delete(collectId);
    const summed = reports.length ? await AggregatorRegistry.aggregate(reports).metrics() : '';
    return (
      summed +
      '# HELP pollster_cluster_processes Worker processes whose figures are summed in this answer.\n' +
      '# TYPE pollster_cluster_processes gauge\n' +
      `pollster_cluster_processes ${reports.length}\n`
    );
  }

  /** A process's answer to a collection request. */
  report(from: Worker, collectId: number, metrics: object[]): void {
    const request = this.#pending.get(collectId);
    if (!request?.waiting.delete(from)) return;
    request.reports.push(metrics);
    if (request.waiting.size === 0) request.done();
  }

  /** A process that dies mid-collection is not waited for. */
  forget(worker: Worker): void {
    for (const request of this.#pending.values()) {
      if (request.waiting.delete(worker) && request.waiting.size === 0) request.done();
    }
  }
}
