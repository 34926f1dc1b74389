/**
 * What Pollster learns about one request while it runs, for its access-log
 * line and its metrics. The request's context carries it.
 */

export interface RequestRecord {
  /** The route pattern (`/walls/:id/messages`), never the raw URL: URLs can carry `?session_id=`. */
  route: string;
  /** Time spent waiting for messages (a long poll, or every batch of a stream), ms. */
  waitedMs: number;
  /** Waits counted in `waitedMs`: 1 for a poll, one per batch for a stream. */
  waits: number;
  /** `performance.now()` when the wait under way began; null between waits. */
  waitingSince: number | null;
}

/**
 * Total wait so far, ms, counting a wait still under way (the response can
 * close — a client leaving — before its wait settles); undefined for a
 * request that never waited.
 */
export function waitedMs(record: RequestRecord, now: number): number | undefined {
  if (record.waits === 0 && record.waitingSince === null) return undefined;
  return record.waitedMs + (record.waitingSince === null ? 0 : now - record.waitingSince);
}

/** The route label of a request that matched no route. */
export const UNMATCHED_ROUTE = 'unmatched';

export function newRequestRecord(): RequestRecord {
  return { route: UNMATCHED_ROUTE, waitedMs: 0, waits: 0, waitingSince: null };
}
