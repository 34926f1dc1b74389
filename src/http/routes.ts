/**
 * Pollster's HTTP API. Handlers do only quick work on the main thread —
 * parse, a quick SQLite read or write (or an awaited PostgreSQL one), respond —
 * and hand every wait for new data to the task runner.
 */
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { Config } from '../config.js';
import { createCancelCell } from '../shared/board.js';
import type { TaskRunner } from '../poll/task-runner.js';
import type { JobLane } from '../poll/job-lane.js';
import type { Release, WaitLimits } from '../poll/wait-limits.js';
import type { Departure } from '../poll/departure.js';
import type { MessageWaiter } from '../poll/message-waiter.js';
import type { PollOutcome } from '../shared/types.js';
import type { User } from '../storage/store.js';
import type { Storage } from '../storage/storage.js';
import { readBody } from './body.js';
import { createCheckHandler, type StreamCounter } from './check-stream.js';
import { LOGGED_OUT, type SessionWaits } from './session-waits.js';
import { requireMetricsToken } from '../observability/metrics-token.js';
import type { RequestRecord } from '../observability/request-record.js';
import type { WaitMeter } from '../observability/wait-meter.js';
import { Errors, HttpError } from './http-error.js';
import { pollBody } from './answer-bytes.js';
import { sendJson, sendJsonBytes } from './respond.js';
import { staticRoutes } from './static-files.js';
import { parseContent, parseMs, parsePage, parsePollRequest, parseUserName, parseWallId, sessionIdFromBody } from './validate.js';

export interface RequestContext {
  req: IncomingMessage;
  res: ServerResponse;
  params: Record<string, string | undefined>;
  query: URLSearchParams;
  /** Epoch ms when the request arrived: a poll's timeout counts from here. */
  arrivedAt: number;
  /**
   * Aborts when the client goes away before its response is sent, or on a
   * logout; waits take it as their CancelSignal. A logout aborts it with LOGGED_OUT
   * (SessionWaits) rather than through a second signal joined with
   * AbortSignal.any, which cost each held poll two more EventTargets
   * (issue 15, memory per held poll).
   */
  departure: Departure;
  /** What the access log and metrics learn about this request. */
  record: RequestRecord;
}

export type RouteHandler = (ctx: RequestContext) => Promise<void> | void;
export type Method = 'GET' | 'POST' | 'DELETE';

export interface RouteDeps {
  config: Config;
  store: Storage;
  /** Wake the polls waiting on `wallId` (in this process and any others). */
  publish: (wallId: number, messageId: number) => void;
  runner: TaskRunner;
  /** Runs `/hello` jobs apart from polls and streams. */
  lane: JobLane;
  /** Per-session and per-address caps on concurrent waits. */
  waitLimits: WaitLimits;
  waitForMessages: MessageWaiter;
  /** Times each wait for the access log and delivery metrics. */
  waitMeter: WaitMeter;
  streams: StreamCounter;
  stats: () => unknown;
  /** Prometheus text for `/metrics` (every process's figures under WEB_CONCURRENCY). */
  metrics: () => Promise<{ contentType: string; text: string }>;
  /** Open streams and held polls by session, so logout can end them. */
  sessionWaits: SessionWaits;
  /** Log a session out in every process: delete it and end its streams. */
  logout: (sessionId: string) => Promise<boolean>;
}

const HELLO_DEFAULT_MS = 10_000;

export function bearerToken(req: IncomingMessage): string | undefined {
  const header = req.headers.authorization;
  const match = header ? /^Bearer\s+(\S+)$/i.exec(header) : null;
  return match?.[1];
}

export function createRoutes(deps: RouteDeps): Array<[Method, string, RouteHandler]> {
  const { config, store, publish, waitForMessages, waitMeter } = deps;

  function sessionIdOf(ctx: RequestContext, body?: unknown): string | undefined {
    return bearerToken(ctx.req) ?? sessionIdFromBody(body) ?? ctx.query.get('session_id') ?? undefined;
  }

  async function sessionUser(ctx: RequestContext, body?: unknown): Promise<User | undefined> {
    const id = sessionIdOf(ctx, body);
    return id ? store.sessionUser(id) : undefined;
  }

  /** A fair share of the waits for this request's session and address (anonymous: address only); 429 past a cap. */
  function admitWait(ctx: RequestContext, body?: unknown): Release {
    return deps.waitLimits.acquire({ session: sessionIdOf(ctx, body), client: deps.waitLimits.clientOf(ctx.req) });
  }

  async function requireUser(ctx: RequestContext, body?: unknown): Promise<User> {
    const user = await sessionUser(ctx, body);
    if (!user) throw Errors.unauthorized();
    return user;
  }

  /**
   * Who asks: a user, or `null` when the request carries no session at all
   * (public walls only, issue 10). A session that is given but unknown is
   * refused with `invalid()`, so a stale client learns to log in again.
   */
  async function viewer(ctx: RequestContext, invalid: () => HttpError, body?: unknown): Promise<User | null> {
    const id = sessionIdOf(ctx, body);
    if (!id) return null;
    const user = await store.sessionUser(id);
    if (!user) throw invalid();
    return user;
  }

  /** A wall the viewer may not read answers exactly like a missing one: no existence oracle (issue 14). */
  async function readableWall(user: User | null, rawId: string | undefined): Promise<number> {
    const wallId = parseWallId(rawId);
    if (!(await store.canRead(user?.id ?? null, wallId))) throw Errors.wallNotFound();
    return wallId;
  }

  async function poll(ctx: RequestContext): Promise<void> {
    const body = await readBody(ctx.req);
    const user = await viewer(ctx, Errors.invalidUser, body);
    const request = parsePollRequest(body);
    const readable = await Promise.all(request.lastPostIds.map(([wallId]) => store.canRead(user?.id ?? null, wallId)));
    const walls = request.lastPostIds.filter((_, index) => readable[index]);
    // Without a session, no public wall left means the client needs one.
    if (walls.length === 0) throw user ? Errors.invalidParameters() : Errors.invalidUser();
    const timeoutMs = Math.min(request.timeoutMs ?? config.pollTimeoutMs, config.pollTimeoutMs);
    // A logout answers the session's held polls at once, as a stale session would be.
    const sessionId = user ? sessionIdOf(ctx, body) : undefined;
    if (sessionId) deps.sessionWaits.add(sessionId, ctx.departure);
    const startedAt = waitMeter.begin(ctx.record);
    let outcome: PollOutcome | undefined;
    try {
      outcome = await waitForMessages(walls, ctx.arrivedAt + timeoutMs, ctx.departure, false, () => admitWait(ctx, body));
      if (ctx.departure.reason === LOGGED_OUT) throw Errors.invalidUser();
      // Polls that shared a wait share its serialised answer.
      sendJsonBytes(ctx.res, 200, pollBody(outcome.outcome === 'data' ? outcome.walls : undefined));
    } finally {
      // Once the answer is written (or the wait failed): delivery counts up to the write.
      waitMeter.end(ctx.record, startedAt, outcome, 'poll');
      if (sessionId) deps.sessionWaits.delete(sessionId, ctx.departure);
    }
  }

  return [
    ['GET', '/ping', ({ res }) => sendJson(res, 200, { ack: 'huzzah!' })],

    [
      'POST',
      '/sessions',
      async ({ req, res }) => {
        const name = parseUserName(await readBody(req));
        const user = await store.userByName(name);
        if (!user) throw Errors.invalidUser();
        const sessionId = await store.createSession(user.id);
        sendJson(res, 201, { session_id: sessionId, user: user.name, walls: await store.wallsOf(user.id) });
      },
    ],

    [
      'GET',
      '/walls',
      async (ctx) => {
        const user = await viewer(ctx, Errors.unauthorized);
        sendJson(ctx.res, 200, { walls: await (user ? store.wallsOf(user.id) : store.publicWalls()) });
      },
    ],

    [
      'GET',
      '/walls/:id/messages',
      async (ctx) => {
        const user = await viewer(ctx, Errors.unauthorized);
        const wallId = await readableWall(user, ctx.params.id);
        const { after, limit } = parsePage(ctx.query);
        sendJson(ctx.res, 200, { messages: await store.messagesAfter(wallId, after, limit) });
      },
    ],

    [
      'POST',
      '/walls/:id/messages',
      async (ctx) => {
        const body = await readBody(ctx.req);
        const user = await requireUser(ctx, body);
        const wallId = parseWallId(ctx.params.id);
        // Members read and post, so a member's post needs one check, not two:
        // a database round trip fewer on PostgreSQL (issue 9's post A → poll B).
        if (!(await store.canPost(user.id, wallId))) {
          // Not a member: 403 on a wall it may read, else the 404 of a missing wall (no existence oracle).
          throw (await store.canRead(user.id, wallId)) ? Errors.wallNotWritable() : Errors.wallNotFound();
        }
        const message = await store.postMessage(wallId, user, parseContent(body));
        publish(wallId, message.id);
        sendJson(ctx.res, 201, message);
      },
    ],

    ['POST', '/poll', poll],
    // The Sinatra original's long poll: same route as its ping, form-encoded by jQuery.
    ['POST', '/', poll],

    [
      'GET',
      '/hello',
      async (ctx) => {
        const ms = Math.min(parseMs(ctx.query.get('ms'), HELLO_DEFAULT_MS), config.pollTimeoutMs);
        // HEAD answers at once and never takes a thread (issue 14).
        if (ctx.req.method === 'HEAD') {
          ctx.res.writeHead(200, { 'Content-Type': 'text/plain; charset=utf-8' }).end();
          return;
        }
        // Its own lane: never a poll thread or a place in the poll queue (issues 11, 14).
        const outcome = await deps.lane.run({ ms, cancel: createCancelCell() }, ctx.departure);
        if (outcome.outcome !== 'done') throw Errors.shuttingDown();
        ctx.res.writeHead(200, { 'Content-Type': 'text/plain; charset=utf-8' }).end('Hello!\n');
      },
    ],

    [
      'POST',
      '/bienvendidos',
      ({ res }) => {
        res.writeHead(200, { 'Content-Type': 'text/plain; charset=utf-8' }).end('Bienvenidos!\n');
      },
    ],

    [
      'DELETE',
      '/sessions',
      async (ctx) => {
        const id = sessionIdOf(ctx, await readBody(ctx.req));
        if (!id || !(await deps.logout(id))) throw Errors.unauthorized();
        ctx.res.writeHead(204).end();
      },
    ],

    [
      'GET',
      '/check',
      createCheckHandler(
        deps,
        (ctx) => viewer(ctx, Errors.unauthorized),
        (ctx) => sessionIdOf(ctx),
        (ctx) => admitWait(ctx),
      ),
    ],

    [
      'GET',
      '/stats',
      ({ req, res }) => {
        requireMetricsToken(req, config.metricsToken);
        sendJson(res, 200, deps.stats());
      },
    ],

    [
      'GET',
      '/metrics',
      async ({ req, res }) => {
        requireMetricsToken(req, config.metricsToken);
        const { contentType, text } = await deps.metrics();
        res.writeHead(200, { 'Content-Type': contentType, 'Cache-Control': 'no-store' }).end(text);
      },
    ],

    ...staticRoutes().map(([path, handler]): [Method, string, RouteHandler] => ['GET', path, handler]),
  ];
}
