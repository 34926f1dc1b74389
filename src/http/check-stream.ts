/**
 * `GET /check`: the Puma + Rails SSE stream. Each batch of new messages is one
 * `event: refresh` whose id is the newest message id sent, so a browser that
 * reconnects with `Last-Event-ID` resumes exactly where it left off.
 *
 * Waiting runs on the pool as the long poll does — one task per batch — so a
 * stream holds a thread only while it waits; heartbeats go on meanwhile.
 */
import { once } from 'node:events';
import type { ServerResponse } from 'node:http';
import { setImmediate as yieldToIo } from 'node:timers/promises';
import type { Config } from '../config.js';
import type { MessageWaiter } from '../poll/message-waiter.js';
import type { TaskRunner } from '../poll/task-runner.js';
import type { Departure } from '../poll/departure.js';
import type { WaitMeter } from '../observability/wait-meter.js';
import type { PollOutcome } from '../shared/types.js';
import type { HistoryFloors, HistoryGaps } from '../storage/history-floors.js';
import { DatabaseUnavailableError, type Storage } from '../storage/storage.js';
import { gapEvent, refreshEvent } from './answer-bytes.js';
import type { RequestContext } from './context.js';
import { toHttpError } from './error-mapping.js';
import { type HeldWaits, heldWait } from './held-waits.js';
import { Errors, HttpError } from './http-error.js';
import type { Identity } from './identity.js';
import { parseDecimal } from './validate.js';
import { endOf, readableWalls, wallsOf } from './wall-access.js';

/** Sent first: how long the browser waits before reconnecting, ms. */
export const RETRY_MS = 1000;

export class StreamCounter {
  open = 0;
  /** Streams ended because their client stopped reading for SSE_STALL_MS. */
  stalled = 0;
}

/**
 * Resolves true once what was written has flushed ('drain'), false if the
 * client has not read for `ms` or has gone. Waiting here is what keeps a
 * client that stops reading from costing more than about one batch.
 */
async function drained(res: ServerResponse, ms: number, departure: Departure): Promise<boolean> {
  const stop = AbortSignal.any([departure.abortSignal, AbortSignal.timeout(ms)]);
  try {
    await once(res, 'drain', { signal: stop });
    return true;
  } catch {
    return false;
  }
}

export interface CheckDeps {
  config: Config;
  store: Storage;
  /** Walls' history floors: a stream behind one is told (`event: gap`). */
  history: HistoryFloors;
  runner: TaskRunner;
  waitForMessages: MessageWaiter;
  waitMeter: WaitMeter;
  streams: StreamCounter;
  /** A logout, or a wall the client can no longer read, ends its open streams through this. */
  heldWaits: HeldWaits;
}

function parseCursor(raw: string | string[] | undefined | null): number | undefined {
  const text = Array.isArray(raw) ? raw[0] : raw;
  if (text === undefined || text === null || text === '') return undefined;
  const cursor = parseDecimal(text);
  if (cursor === null) throw new HttpError(400, 'Last-Event-ID must be a non-negative integer');
  return cursor;
}

function parseWallList(raw: string | null): number[] | undefined {
  if (raw === null || raw === '') return undefined;
  const ids = raw.split(',').map(parseDecimal);
  if (ids.some((id) => id === null || id < 1)) throw Errors.invalidParameters();
  return ids as number[];
}

export { mergeBatch } from './answer-bytes.js';

const STREAM_HEADERS = {
  'Content-Type': 'text/event-stream; charset=utf-8',
  'Cache-Control': 'no-cache, no-transform',
  // No Connection header of our own: Node writes keep-alive, or close when
  // the client asked for it (RFC 9112 §9.6), and then closes after the stream.
  // nginx would otherwise buffer the stream and deliver events late.
  'X-Accel-Buffering': 'no',
};

/** A request without a session streams the public walls; one with a bad session gets 401. */
export function createCheckHandler(deps: CheckDeps, identity: Identity) {
  const { config, store, runner, streams, heldWaits } = deps;

  return async function check(ctx: RequestContext): Promise<void> {
    const { req, res, query } = ctx;
    // Before any check: a change of access applied from here on is checked against this stream too.
    const since = heldWaits.epoch;
    const user = await identity.viewer(ctx, Errors.unauthorized);
    const requested = parseWallList(query.get('walls'));
    // By default a session streams its own walls, and no session the public
    // ones, so the Rails page's bare `new EventSource('/check')` works.
    // `?walls=` may name any wall the client can read.
    const walls = requested
      ? (await readableWalls(store, user)).filter((wall) => requested.includes(wall.id))
      : await (user ? wallsOf(store, user) : store.publicWalls());
    if (walls.length === 0) throw Errors.invalidParameters();
    const cursor =
      parseCursor(req.headers['last-event-id']) ??
      parseCursor(query.get('last_event_id')) ??
      Math.max(...walls.map((wall) => wall.latest_message_id));
    // HEAD: the headers a stream would get, and no stream, no thread.
    if (req.method === 'HEAD') {
      res.writeHead(200, STREAM_HEADERS).end();
      return;
    }
    if (!runner.hasRoom()) throw Errors.serverBusy();
    // A stream holds its share for its whole life, waiting or sending.
    const release = identity.admitWait(ctx);
    try {
      res.writeHead(200, STREAM_HEADERS);
    } catch (error) {
      release();
      throw error;
    }
    res.write(`retry: ${RETRY_MS}\n\n`);
    streams.open++;
    // A client that is not reading gets no more heartbeats piled up for it.
    const heartbeat = setInterval(() => res.writableNeedDrain || res.write(': ping\n\n'), config.sseHeartbeatMs);
    // Logout (DELETE /sessions), or a wall it may no longer read, ends the
    // stream as cleanly as SSE_MAX_MS does; the browser reconnects without it.
    const wallIds = walls.map((wall) => wall.id);
    const held = heldWait(ctx.departure, user ? identity.sessionIdOf(ctx) : undefined, user, wallIds);
    heldWaits.add(held, since);
    // A token's stream ends when the token does; the client reconnects with a new one and its last id.
    const endsAt = Math.min(ctx.arrivedAt + config.sseMaxMs, endOf(user));
    try {
      await pump(deps, ctx, wallIds, cursor, endsAt);
    } catch (error) {
      // Shutting down or busy mid-stream: end it; the browser reconnects with its last id.
      // (A database outage is not one of these: it cuts the stream, as any failure after the head.)
      if (!(toHttpError(error) && !(error instanceof DatabaseUnavailableError))) throw error;
    } finally {
      clearInterval(heartbeat);
      release();
      heldWaits.delete(held);
      streams.open--;
      res.end();
      // A client that stopped reading would otherwise keep the connection, and
      // whatever heartbeat is still queued for it, forever.
      if (!res.destroyed) setTimeout(() => res.writableFinished || res.destroy(), config.sseStallMs).unref();
    }
  };
}

/** Sends each batch of news from `cursor` on as one event, until the stream's end, its client leaves or stalls. */
async function pump(deps: CheckDeps, ctx: RequestContext, wallIds: number[], from: number, endsAt: number): Promise<void> {
  const { config, history, waitForMessages, waitMeter, streams } = deps;
  const { res, departure: signal } = ctx;
  let cursor = from;
  // Bounded history: each wall's gap is told once per floor, before the refresh that follows it.
  const told = new Map<number, number>();
  while (!signal.aborted && Date.now() < endsAt) {
    let gaps = history.untold(wallIds, cursor, told);
    if (gaps instanceof Promise) gaps = await gaps;
    if (gaps) cursor = tellGaps(res, history, gaps, wallIds, cursor);
    const startedAt = waitMeter.begin(ctx.record);
    let outcome: PollOutcome | undefined;
    try {
      outcome = await waitForMessages(
        wallIds.map((wallId) => [wallId, cursor]),
        { deadline: endsAt, signal, kind: 'stream' },
      );
    } finally {
      waitMeter.end(ctx.record, startedAt, outcome, 'sse');
    }
    if (outcome.outcome !== 'data') return;
    // A floor may have passed the cursor while it waited: told before the batch.
    gaps = history.untold(wallIds, cursor, told);
    if (gaps instanceof Promise) gaps = await gaps;
    if (gaps) tellGaps(res, history, gaps, wallIds, cursor);
    // Streams that shared a wait share the event's bytes too.
    const event = refreshEvent(outcome.walls);
    cursor = event.cursor;
    res.write(event.bytes);
    // Most writes leave at once: only a full buffer pays for the wait below.
    if (res.writableNeedDrain && !(await drained(res, config.sseStallMs, signal))) {
      if (!signal.aborted) {
        streams.stalled++;
        // It reads nothing, so a polite end would sit in the buffer too.
        res.destroy();
      }
      return;
    }
    // A catch-up answers from the main thread's quick look without a pause:
    // let other requests in between batches.
    await yieldToIo();
  }
}

/** Writes `event: gap`; returns where the stream's cursor resumes. */
function tellGaps(res: ServerResponse, history: HistoryFloors, gaps: HistoryGaps, wallIds: number[], cursor: number): number {
  history.told(gaps);
  res.write(gapEvent(gaps));
  return history.streamResumed(wallIds, cursor);
}
