/**
 * Wraps the message waiter to time each wait for the access log and to
 * observe delivery latency.
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
import type { MessageWaiter } from '../poll/message-waiter.js';
import type { Metrics } from './metrics.js';
import { recordOf } from './request-record.js';

export function measureWaits(waiter: MessageWaiter, metrics: Metrics): MessageWaiter {
  return async (walls, deadline, signal, singleCursor, admit) => {
    const startedAt = Date.now();
    const record = recordOf(signal);
    const started = performance.now();
    if (record) record.waitingSince = started;
    let outcome;
    try {
      outcome = await waiter(walls, deadline, signal, singleCursor, admit);
    } finally {
      if (record) {
        record.waitedMs += performance.now() - started;
        record.waits++;
        record.waitingSince = null;
      }
    }
    if (outcome.outcome === 'data') {
      let newest = 0;
      for (const { posts } of Object.values(outcome.walls)) {
        const last = posts[posts.length - 1];
        if (last) newest = Math.max(newest, Date.parse(last.created_at));
      }
      if (newest >= startedAt) metrics.observeDelivery(singleCursor ? 'sse' : 'poll', Math.max(0, Date.now() - newest) / 1000);
    }
    return outcome;
  };
}
