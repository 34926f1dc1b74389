/**
 * The `node:http` server: routing, CORS, request timeouts, the access log,
 * and the one place where errors become responses — an HttpError with its
 * status and message, anything else logged and answered 500. Nothing throws
 * past `handle`.
 */
import cluster from 'node:cluster';
import { existsSync, unlinkSync } from 'node:fs';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo, Socket } from 'node:net';
import { performance } from 'node:perf_hooks';
import Router from 'find-my-way';
import type { Logger } from 'pino';
import type { Config } from '../config.js';
import type { Metrics } from '../observability/metrics.js';
import { Departure } from '../poll/departure.js';
import { ACCESS_LOG_MSG } from '../observability/logger.js';
import { newRequestRecord, waitedMs } from '../observability/request-record.js';
import { DatabaseUnavailableError } from '../storage/storage.js';
import { Errors, HttpError } from './http-error.js';
import { CorsResponse, createCors } from './cors.js';
import { sendError } from './respond.js';
import type { Method, RequestContext, RouteHandler } from './routes.js';

const CLIENT_ERROR_STATUS: Record<string, string> = {
  HPE_HEADER_OVERFLOW: '431 Request Header Fields Too Large',
  ERR_HTTP_REQUEST_TIMEOUT: '408 Request Timeout',
};

const METHODS = ['GET', 'POST', 'DELETE'] as const;

/** The query of every request without one; nothing writes to a request's query. */
const NO_QUERY: URLSearchParams = new URLSearchParams();

/** Errors that mean the client went away mid-request, not that Pollster failed. */
const DISCONNECT_CODES = new Set(['ECONNRESET', 'ECONNABORTED', 'EPIPE', 'ERR_STREAM_PREMATURE_CLOSE']);

/**
 * Logged as the status of a request whose client left before any answer was
 * sent (nginx's "client closed request").
 */
export const CLIENT_LEFT_STATUS = 499;

interface RouteEntry {
  handler: RouteHandler;
  /** The pattern it was registered with: what logs and metrics show. */
  route: string;
}

/**
 * Per socket, the responses pipelined on it that Node has not handed it yet.
 * If the client closes the connection first, Node never closes them, and a
 * wait among them would keep its place until its timeout; so the socket's
 * close closes them. One listener per socket however many are queued (one
 * each would trip Node's max-listeners warning on a flood).
 */
const queuedOnSocket = new WeakMap<Socket, Set<ServerResponse>>();
/** Per socket, `bytesWritten` when Node last handed it to a queued response. */
const handedOverAt = new WeakMap<Socket, number>();

function closeWithSocket(socket: Socket, res: ServerResponse): void {
  let queued = queuedOnSocket.get(socket);
  if (!queued) {
    const waiting = new Set<ServerResponse>();
    queued = waiting;
    queuedOnSocket.set(socket, waiting);
    socket.once('close', () => {
      queuedOnSocket.delete(socket);
      for (const response of waiting) response.emit('close');
    });
  }
  queued.add(res);
  // From here on Node closes it with the socket.
  res.once('socket', () => {
    queued.delete(res);
    handedOverAt.set(socket, socket.bytesWritten);
  });
}

/**
 * Where the answer that began at `start` on `socket` ended. By its 'close' the
 * next pipelined answer may be on the socket too; if one was handed the
 * socket since, this one ended where that one began.
 */
function answerEnd(socket: Socket, start: number): number {
  const next = handedOverAt.get(socket);
  return next !== undefined && next > start ? next : socket.bytesWritten;
}

export function createHttpServer(
  config: Config,
  routes: Array<[Method, string, RouteHandler]>,
  logger: Logger,
  metrics?: Metrics,
): Server {
  const router = Router({ ignoreTrailingSlash: true });
  for (const [method, path, handler] of routes) {
    const entry: RouteEntry = { handler, route: path };
    router.on(method, path, () => {}, entry);
  }
  const cors = createCors(config.corsOrigin);

  /**
   * Not async: a route that waits returns its promise, and this function
   * hands it the error path and returns, so a held poll carries no
   * suspended frame of its own here (issue 15, memory per held poll).
   */
  function handle(req: IncomingMessage, res: CorsResponse): void {
    const arrivedAt = Date.now();
    const started = performance.now();
    // Listen from the start: a client can leave while its body is still being read.
    const departed = new Departure();
    const record = newRequestRecord();
    // Kept here: by the time 'close' fires, Node may have detached the socket
    // from the request (req.socket is null then), and reading it crashed the process.
    const socket = req.socket;
    let bytesBefore = socket.bytesWritten;
    // Set on 'close' without a finished answer: the client left. (The departure
    // also aborts on a logout, where the client has not left.)
    let clientLeft = false;
    res.once('close', () => {
      if (!res.writableFinished) {
        clientLeft = true;
        departed.abort();
      }
      const status = res.headersSent ? res.statusCode : CLIENT_LEFT_STATUS;
      const now = performance.now();
      const ms = now - started;
      const waited = waitedMs(record, now);
      metrics?.observeRequest(req.method ?? '', record.route, status, ms / 1000);
      if (!config.accessLog) return;
      logger.info(
        {
          method: req.method,
          route: record.route,
          status,
          ms: Math.round(ms * 10) / 10,
          // Bytes put on the connection for this answer, headers included.
          bytes: Math.max(0, answerEnd(socket, bytesBefore) - bytesBefore),
          ...(waited === undefined ? {} : { waited_ms: Math.round(waited * 10) / 10 }),
          ...(clientLeft ? { client_left: true } : {}),
        },
        ACCESS_LOG_MSG,
      );
    });
    if (!res.socket) {
      // Pipelined behind another answer on a keep-alive connection.
      closeWithSocket(socket, res);
      // Nothing of its own is on the connection until Node hands it the socket.
      bytesBefore = Infinity;
      res.once('socket', () => (bytesBefore = socket.bytesWritten));
    }
    // The one place where errors become responses; it never throws.
    const answerError = (error: unknown): void => {
      try {
        if (error instanceof HttpError) {
          if (error.status === 413) res.setHeader('Connection', 'close');
          sendError(res, error);
        } else if (clientLeft || DISCONNECT_CODES.has((error as NodeJS.ErrnoException).code ?? '')) {
          // An aborted body or a client that left: nothing to answer, nothing
          // wrong with the server. No URL: it can carry ?session_id=.
          logger.debug({ method: req.method, route: record.route, code: (error as NodeJS.ErrnoException).code }, 'client went away');
        } else if (error instanceof DatabaseUnavailableError) {
          // Expected while PostgreSQL restarts: one 503 with Retry-After, not a 500 and a stack trace.
          if (res.headersSent) res.destroy();
          else sendError(res, Errors.databaseUnavailable());
        } else {
          // Route pattern, not req.url: the URL can carry ?session_id=. The
          // stack goes to the log only; the client gets the generic message.
          logger.error({ err: error, method: req.method, route: record.route }, 'request failed');
          // Once headers are out, a 500 can no longer be sent: cut the
          // connection so the client sees a failure, not a silent truncation.
          if (res.headersSent) res.destroy();
          else sendError(res, Errors.internal());
        }
      } catch (crash) {
        respondToCrash(res, crash);
      }
    };
    const method = req.method === 'HEAD' ? 'GET' : (req.method ?? '');
    try {
      // Written with the head (cors.ts): a held poll carries no header table.
      res.cors = cors(req.headers.origin);
      let url: URL;
      try {
        url = parseTarget(req.url ?? '/');
      } catch {
        throw Errors.malformedRequest();
      }
      if (req.method === 'OPTIONS') {
        const any = METHODS.map((m) => router.find(m, url.pathname)).find(Boolean);
        if (any) record.route = (any.store as RouteEntry).route;
        res.writeHead(204).end();
        return;
      }
      const found = (METHODS as readonly string[]).includes(method) ? router.find(method as Method, url.pathname) : null;
      if (!found) {
        const allow = METHODS.filter((m) => router.find(m, url.pathname));
        throw allow.length ? Errors.methodNotAllowed([...allow, 'OPTIONS']) : Errors.notFound();
      }
      // Nothing reads a GET body. Left unread, it pauses the socket, and a
      // stream's client could leave unnoticed until the next heartbeat, its
      // thread held meanwhile (found by test/fuzz.test.ts). Drain it.
      if (method === 'GET') req.resume();
      const entry = found.store as RouteEntry;
      record.route = entry.route;
      const ctx: RequestContext = {
        req,
        res,
        params: found.params,
        // Not url.searchParams: that keeps the whole URL alive as long as a held request.
        query: url.search ? new URLSearchParams(url.search) : NO_QUERY,
        arrivedAt,
        departure: departed,
        record,
      };
      entry.handler(ctx)?.then(undefined, answerError);
    } catch (error) {
      answerError(error);
    }
  }

  function respondToCrash(res: ServerResponse, error: unknown): void {
    logger.error({ err: error }, 'error response failed');
    // Headers may be half set or the body half sent: the connection is the only safe answer left.
    res.destroy();
  }

  // The timeouts bound how long a client may take to *send* its request, not
  // how long the answer may take (a long poll waits up to POLL_TIMEOUT_MS):
  // slow or stalled uploads are cut off with 408 and never reach the pool.
  const server = createServer<typeof IncomingMessage, typeof CorsResponse>(
    {
      ServerResponse: CorsResponse,
      headersTimeout: config.headersTimeoutMs,
      requestTimeout: config.requestTimeoutMs,
      // Node checks those timeouts on this interval (30 s by default).
      connectionsCheckingInterval: Math.min(1000, config.headersTimeoutMs / 2),
    },
    handle,
  );
  server.on('clientError', (error: NodeJS.ErrnoException, socket) => {
    if (!socket.writable || socket.destroyed) {
      socket.destroy();
      return;
    }
    const status = CLIENT_ERROR_STATUS[error.code ?? ''] ?? '400 Bad Request';
    socket.end(`HTTP/1.1 ${status}\r\nConnection: close\r\nContent-Length: 0\r\n\r\n`);
  });
  return server;
}

/** Listen on `SOCKET` or `HOST:PORT`; resolves with the URL to print. */
export async function listen(server: Server, config: Config): Promise<string> {
  if (config.socket) {
    // A socket file left by a crashed run would make listen() fail with
    // EADDRINUSE. Under cluster the primary owns the socket and clears it.
    if (cluster.isPrimary && existsSync(config.socket)) unlinkSync(config.socket);
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen(config.socket, () => resolve());
    });
    return `unix:${config.socket}`;
  }
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(config.port, config.host, () => resolve());
  });
  const { address, port } = server.address() as AddressInfo;
  const host = address.includes(':') ? `[${address}]` : address;
  return `http://${host}:${port}`;
}

/**
 * The request target as a URL. A path is read as a path even when it starts
 * with `//` (resolved against a base, `//evil/check` would become host
 * `evil`, path `/check`); an absolute target (`http://host/ping`) is taken as
 * it is, as HTTP/1.1 requires. Throws on what cannot be parsed.
 */
export function parseTarget(target: string): URL {
  return target.startsWith('/') ? new URL(`http://pollster.invalid${target}`) : new URL(target, 'http://pollster.invalid');
}
