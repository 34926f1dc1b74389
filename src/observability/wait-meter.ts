/**
 * Times each wait for the access log and observes delivery latency. The
 * routes call `begin` and `end` around their wait rather than wrapping the
 * waiter in another async function, whose suspended frame every held poll
 * would carry (memory per held poll).
 *
 * Delivery is the age of the newest message in an answer, counted from its
 * `created_at` — the time the storing process wrote it — rather than from
 * when this process published it: that covers posts relayed from other
 * cluster processes and CLI writes too, and every process measures against
 * the same clock, so the primary can sum the histograms. Only messages stored
 * after the wait began count: a client catching up on history (a reconnect
 * with an old `Last-Event-ID`) would otherwise record the age of the history.
 * `created_at` has millisecond resolution, so the smallest buckets read as
 * "under 1 ms".
 */
import { performance } from 'node:perf_hooks';
import type { PollOutcome } from '../shared/types.js';
import type { Metrics } from './metrics.js';
import type { RequestRecord } from './request-record.js';

/** Polls that shared a wait share its answer object: its newest `created_at` is parsed once. */
const newestOf = new WeakMap<object, number>();

function newestStored(walls: Record<string, { posts: Array<{ created_at: string }> }>): number {
  let newest = newestOf.get(walls);
  if (newest === undefined) {
    newest = 0;
    for (const { posts } of Object.values(walls)) {
      const last = posts[posts.length - 1];
      if (last) newest = Math.max(newest, Date.parse(last.created_at));
    }
    newestOf.set(walls, newest);
  }
  return newest;
}

export class WaitMeter {
  readonly #metrics: Metrics;

  constructor(metrics: Metrics) {
    this.#metrics = metrics;
  }

  /** A wait begins; returns its start (epoch ms) for `end`. */
  begin(record: RequestRecord): number {
    record.waitingSince = performance.now();
    return Date.now();
  }

  /** The wait that began at `startedAt` is over: with `outcome`, or with an error (undefined). */
  end(record: RequestRecord, startedAt: number, outcome: PollOutcome | undefined, transport: 'poll' | 'sse'): void {
    if (record.waitingSince !== null) {
      record.waitedMs += performance.now() - record.waitingSince;
      record.waits++;
      record.waitingSince = null;
    }
    if (outcome?.outcome !== 'data') return;
    const newest = newestStored(outcome.walls);
    if (newest >= startedAt) this.#metrics.observeDelivery(transport, Math.max(0, Date.now() - newest) / 1000);
  }
}
