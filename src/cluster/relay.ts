/**
 * Cross-process messages for `WEB_CONCURRENCY` > 1, all through the primary:
 *
 * - Wake-ups. Each process has its own board, so a post in one process is
 *   announced to the primary, which relays it to every other process; each
 *   then raises its board and wakes its polls within milliseconds. (SQLite's
 *   data_version would notice too, but only on the watcher's next tick.)
 * - (Logouts and other changes of access are not relayed here: the
 *   database announces them to every process, on every host too —
 *   `storage/changes.ts`.)
 * - Metrics. Requests share the port, so `/metrics` lands on any one process;
 *   that process asks the primary, which collects every process's registry
 *   and sums them with prom-client's AggregatorRegistry.
 */
import cluster from 'node:cluster';

export interface PublishRelay {
  /** Tell the other processes that `messageId` was stored on `wallId`. */
  announce(wallId: number, messageId: number): void;
  /** Called for every message another process stored. */
  onRemote(handler: (wallId: number, messageId: number) => void): void;
  /** Answer the primary's collection requests with this process's metrics. */
  serveMetrics(collect: () => Promise<object[]>): void;
  /** Every process's metrics, summed by the primary, in Prometheus text format. */
  clusterMetrics(): Promise<string>;
}

interface PublishedMessage {
  type: 'pollster:published';
  wallId: number;
  messageId: number;
}

/** Worker → primary: someone asked this worker for `/metrics`. */
export interface MetricsRequest {
  type: 'pollster:metrics-request';
  requestId: number;
}

/** Primary → worker: the summed text for its request. */
export interface MetricsAnswer {
  type: 'pollster:metrics-answer';
  requestId: number;
  text?: string;
  error?: string;
}

/** Primary → every worker: send your registry. */
export interface MetricsCollect {
  type: 'pollster:metrics-collect';
  collectId: number;
}

/** Worker → primary: its `registry.getMetricsAsJSON()`. */
export interface MetricsReport {
  type: 'pollster:metrics-report';
  collectId: number;
  metrics: object[];
}

/** How long a worker waits for the primary's summed metrics. */
const METRICS_TIMEOUT_MS = 5000;

export function isPublished(message: unknown): message is PublishedMessage {
  const m = message as PublishedMessage | null;
  return m?.type === 'pollster:published' && Number.isSafeInteger(m.wallId) && Number.isSafeInteger(m.messageId);
}

export function isMetricsRequest(message: unknown): message is MetricsRequest {
  return (message as MetricsRequest | null)?.type === 'pollster:metrics-request';
}

export function isMetricsReport(message: unknown): message is MetricsReport {
  return (message as MetricsReport | null)?.type === 'pollster:metrics-report';
}

function isMetricsAnswer(message: unknown): message is MetricsAnswer {
  return (message as MetricsAnswer | null)?.type === 'pollster:metrics-answer';
}

function isMetricsCollect(message: unknown): message is MetricsCollect {
  return (message as MetricsCollect | null)?.type === 'pollster:metrics-collect';
}

/** The relay for a cluster worker process; undefined when not running under cluster. */
export function workerRelay(): PublishRelay | undefined {
  if (!cluster.isWorker || !process.send) return undefined;
  const send = (message: unknown): void => void process.send!(message);
  const pending = new Map<number, (answer: MetricsAnswer) => void>();
  let nextRequest = 0;
  process.on('message', (message) => {
    if (isMetricsAnswer(message)) pending.get(message.requestId)?.(message);
  });
  return {
    announce(wallId, messageId) {
      const message: PublishedMessage = { type: 'pollster:published', wallId, messageId };
      send(message);
    },
    onRemote(handler) {
      process.on('message', (message) => {
        if (isPublished(message)) handler(message.wallId, message.messageId);
      });
    },
    serveMetrics(collect) {
      process.on('message', (message) => {
        if (!isMetricsCollect(message)) return;
        void collect().then(
          (metrics) => send({ type: 'pollster:metrics-report', collectId: message.collectId, metrics } satisfies MetricsReport),
          () => send({ type: 'pollster:metrics-report', collectId: message.collectId, metrics: [] } satisfies MetricsReport),
        );
      });
    },
    clusterMetrics() {
      const requestId = nextRequest++;
      return new Promise((resolve, reject) => {
        const timer = setTimeout(() => {
          pending.delete(requestId);
          reject(new Error('the cluster primary did not answer for metrics'));
        }, METRICS_TIMEOUT_MS);
        pending.set(requestId, (answer) => {
          clearTimeout(timer);
          pending.delete(requestId);
          if (answer.text === undefined) reject(new Error(answer.error ?? 'metrics collection failed'));
          else resolve(answer.text);
        });
        send({ type: 'pollster:metrics-request', requestId } satisfies MetricsRequest);
      });
    },
  };
}
