/**
 * `GET /metrics`: Prometheus figures for one Pollster process. Each Pollster
 * has its own prom-client Registry (tests run several servers in one
 * process); under `WEB_CONCURRENCY` the primary sums every process's
 * registry (see `src/cluster/metrics-aggregation.ts`).
 *
 * Point-in-time figures (threads, busy, queued, held polls, open streams) and
 * the task counters are read from `/stats` when Prometheus scrapes, so the hot
 * paths pay nothing for them; histograms and request counters are observed as
 * things happen.
 */
import { Counter, Gauge, Histogram, Registry, collectDefaultMetrics } from 'prom-client';
import type { StatsSnapshot } from './stats.js';

/** Seconds; from well under a millisecond (a wake on loopback) to a minute (POLL_TIMEOUT_MS). */
const LATENCY_BUCKETS = [0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60];

/** Outcomes of blocking tasks, as `/stats` counts them. */
const TASK_OUTCOMES = ['completed', 'cancelled', 'rejected', 'failed'] as const;

export class Metrics {
  readonly registry = new Registry();
  readonly #httpRequests: Counter<'method' | 'route' | 'status'>;
  readonly #httpDuration: Histogram<'method' | 'route'>;
  readonly #queueWait: Histogram;
  readonly #delivery: Histogram<'transport'>;
  /**
   * Delivery latencies measured but not yet in the histogram. prom-client's
   * `observe` (labels validated and hashed on every call) was a fifth of the
   * main thread's time in a 10,000-poll fan-out on a fresh start:
   * the answers are written first, and the latencies go in once they are
   * out (the next `setImmediate`), or at a scrape.
   */
  readonly #pendingDelivery: Record<'poll' | 'sse', number[]> = { poll: [], sse: [] };
  #deliveryFlushScheduled = false;
  readonly #sessionsPruned: Counter;
  readonly #historyPruned: Counter;
  readonly #historyGaps: Counter;

  constructor(stats: () => StatsSnapshot) {
    const registers = [this.registry];
    collectDefaultMetrics({ register: this.registry });
    registerSnapshotFigures(this.registry, stats);

    this.#queueWait = new Histogram({
      name: 'pollster_queue_wait_seconds',
      help: "Time a blocking task spent in Pollster's queue before a thread took it.",
      buckets: LATENCY_BUCKETS,
      registers,
    });
    this.#delivery = new Histogram({
      name: 'pollster_delivery_seconds',
      help: 'Post to answer: age of the newest message in a poll answer or stream batch, from its created_at, when it was stored while the client waited.',
      labelNames: ['transport'],
      buckets: LATENCY_BUCKETS,
      registers,
      collect: () => this.#flushDelivery(),
    });
    // Series exist (at zero) before the first observation, so rate() has a start.
    this.#delivery.zero({ transport: 'poll' });
    this.#delivery.zero({ transport: 'sse' });
    this.#httpRequests = new Counter({
      name: 'pollster_http_requests_total',
      help: 'Finished HTTP requests by method, route pattern and status.',
      labelNames: ['method', 'route', 'status'],
      registers,
    });
    this.#httpDuration = new Histogram({
      name: 'pollster_http_request_duration_seconds',
      help: 'Time from arrival to the end of the response (a long poll or a stream counts its wait).',
      labelNames: ['method', 'route'],
      buckets: LATENCY_BUCKETS,
      registers,
    });
    this.#sessionsPruned = new Counter({
      name: 'pollster_sessions_pruned_total',
      help: 'Expired sessions deleted by the periodic pruning.',
      registers,
    });
    this.#historyPruned = new Counter({
      name: 'pollster_history_pruned_total',
      help: 'Messages deleted by bounded history (HISTORY_MAX_PER_WALL, HISTORY_MAX_AGE_S).',
      registers,
    });
    this.#historyGaps = new Counter({
      name: 'pollster_history_gaps_total',
      help: 'Gaps told to clients (per wall): a poll, stream or history read whose cursor was behind the kept history.',
      registers,
    });
  }

  observeRequest(method: string, route: string, status: number, seconds: number): void {
    this.#httpRequests.inc({ method, route, status: String(status) });
    this.#httpDuration.observe({ method, route }, seconds);
  }

  observeQueueWait(seconds: number): void {
    this.#queueWait.observe(seconds);
  }

  observeDelivery(transport: 'poll' | 'sse', seconds: number): void {
    this.#pendingDelivery[transport].push(seconds);
    if (this.#deliveryFlushScheduled) return;
    this.#deliveryFlushScheduled = true;
    setImmediate(() => this.#flushDelivery());
  }

  #flushDelivery(): void {
    this.#deliveryFlushScheduled = false;
    for (const transport of ['poll', 'sse'] as const) {
      const pending = this.#pendingDelivery[transport];
      if (pending.length === 0) continue;
      const child = this.#delivery.labels({ transport });
      for (const seconds of pending) child.observe(seconds);
      pending.length = 0;
    }
  }

  countPrunedSessions(count: number): void {
    if (count > 0) this.#sessionsPruned.inc(count);
  }

  countPrunedHistory(count: number): void {
    if (count > 0) this.#historyPruned.inc(count);
  }

  countHistoryGaps(count: number): void {
    if (count > 0) this.#historyGaps.inc(count);
  }

  /** This process's figures in Prometheus text format. */
  text(): Promise<string> {
    return this.registry.metrics();
  }

  get contentType(): string {
    return this.registry.contentType;
  }
}

/** The gauges and counters read from a `/stats` snapshot when Prometheus scrapes. */
function registerSnapshotFigures(registry: Registry, stats: () => StatsSnapshot): void {
  const registers = [registry];
  // One sample of /stats per scrape, shared by every figure below: the
  // registry calls each collect() synchronously, one after another.
  let sample: StatsSnapshot | undefined;
  const current = (): StatsSnapshot => {
    if (!sample) {
      sample = stats();
      queueMicrotask(() => (sample = undefined));
    }
    return sample;
  };
  const gauge = (name: string, help: string, read: (s: StatsSnapshot) => number): void => {
    new Gauge({
      name,
      help,
      registers,
      collect() {
        this.set(read(current()));
      },
    });
  };
  gauge('pollster_pool_threads', 'Worker threads in the pool now (0 in inline mode).', (s) => s.pool.threads);
  gauge('pollster_pool_capacity', 'Tasks that may run at once: threads, times tasks per thread in multiplex mode.', (s) => s.pool.capacity);
  gauge(
    'pollster_pool_busy',
    'Tasks running on the pool now (polls and stream batches; /hello jobs have their own lane).',
    (s) => s.pool.busy,
  );
  gauge('pollster_pool_queued', "Tasks waiting in Pollster's queue for a free slot.", (s) => s.pool.queued);
  gauge('pollster_polls_held', 'Long polls and stream batches waiting for messages (queued or running).', (s) => s.waiting_polls);
  gauge('pollster_streams_open', 'Open /check streams.', (s) => s.open_streams);
  gauge('pollster_hello_running', '/hello jobs running in their own lane now.', (s) => s.hello_lane.busy);
  gauge('pollster_hello_queued', '/hello jobs waiting for the lane.', (s) => s.hello_lane.queued);
  const counter = (name: string, help: string, read: (s: StatsSnapshot) => number): void => {
    new Counter({
      name,
      help,
      registers,
      collect() {
        this.reset();
        this.inc(read(current()));
      },
    });
  };
  counter('pollster_sse_stalled_total', 'Streams ended because their client read nothing for SSE_STALL_MS.', (s) => s.sse_stalled);
  counter(
    'pollster_waits_refused_total',
    'Polls and streams refused 429: their session or address held MAX_WAITS_PER_SESSION / MAX_WAITS_PER_CLIENT waits.',
    (s) => s.wait_limits.refused,
  );
  new Counter({
    name: 'pollster_tasks_total',
    help: 'Blocking tasks by outcome: completed, cancelled (client left or shutdown), rejected (queue full), failed.',
    labelNames: ['outcome'],
    registers,
    collect() {
      const pool = current().pool;
      this.reset();
      for (const outcome of TASK_OUTCOMES) this.inc({ outcome }, pool[outcome]);
    },
  });
}
