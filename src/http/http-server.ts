/**
 * The `node:http` server and its dispatch: find the route, give the handler
 * its context, and hand every failure to `answerError`. Nothing throws past
 * `handle`. Pipelined responses, the access log and the mapping of errors to
 * answers each have their own module beside this one.
 */
import { createServer, type IncomingMessage, type Server } from 'node:http';
import { performance } from 'node:perf_hooks';
import Router from 'find-my-way';
import type { Logger } from 'pino';
import type { Config } from '../config.js';
import type { Metrics } from '../observability/metrics.js';
import { newRequestRecord } from '../observability/request-record.js';
import { Departure } from '../poll/departure.js';
import { recordFinished } from './access-log.js';
import type { Method, RequestContext, Route, RouteHandler } from './context.js';
import { CorsResponse, createCors } from './cors.js';
import { answerError } from './error-mapping.js';
import { Errors } from './http-error.js';
import { admitOnConnection, answered, MAX_REQUESTS_PER_CONNECTION } from './connection-guard.js';
import { closeWithSocket } from './pipelined.js';

export { listen } from './listen.js';

const CLIENT_ERROR_STATUS: Record<string, string> = {
  HPE_HEADER_OVERFLOW: '431 Request Header Fields Too Large',
  ERR_HTTP_REQUEST_TIMEOUT: '408 Request Timeout',
};

const METHODS = ['GET', 'POST', 'PUT', 'PATCH', 'DELETE'] as const;

/** The query of every request without one; nothing writes to a request's query. */
const NO_QUERY: URLSearchParams = new URLSearchParams();

interface RouteEntry {
  handler: RouteHandler;
  /** The pattern it was registered with: what logs and metrics show. */
  route: string;
}

/** What dispatch needs, built once per server. */
interface Dispatch {
  router: Router.Instance<Router.HTTPVersion.V1>;
  cors: ReturnType<typeof createCors>;
  config: Config;
  logger: Logger;
  metrics: Metrics | undefined;
}

export function createHttpServer(config: Config, routes: readonly Route[], logger: Logger, metrics?: Metrics): Server {
  const router = Router({ ignoreTrailingSlash: true });
  for (const [method, path, handler] of routes) {
    const entry: RouteEntry = { handler, route: path };
    router.on(method, path, () => {}, entry);
  }
  const dispatch: Dispatch = { router, cors: createCors(config.corsOrigin), config, logger, metrics };

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
    (req, res) => handle(dispatch, req, res),
  );
  server.maxRequestsPerSocket = MAX_REQUESTS_PER_CONNECTION;
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

/**
 * Not async: a route that waits returns its promise, and this function
 * hands it the error path and returns, so a held poll carries no suspended
 * frame of its own here (memory per held poll).
 */
function handle(dispatch: Dispatch, req: IncomingMessage, res: CorsResponse): void {
  const { config, logger, metrics } = dispatch;
  // Kept here: by the time 'close' fires, Node may have detached the socket
  // from the request (req.socket is null then), and reading it crashed the process.
  const socket = req.socket;
  if (!admitOnConnection(socket)) return;
  const arrivedAt = Date.now();
  const started = performance.now();
  // Listen from the start: a client can leave while its body is still being read.
  const departed = new Departure();
  const record = newRequestRecord();
  let bytesBefore = socket.bytesWritten;
  // Set on 'close' without a finished answer: the client left. (The departure
  // also aborts on a logout, where the client has not left.)
  let clientLeft = false;
  res.once('close', () => {
    answered(socket);
    if (!res.writableFinished) {
      clientLeft = true;
      departed.abort();
    }
    const status = res.headersSent ? res.statusCode : undefined;
    recordFinished(logger, metrics, config.accessLog, { req, socket, record, started, bytesBefore, status, clientLeft });
  });
  if (!res.socket) {
    // Pipelined behind another answer on a keep-alive connection.
    closeWithSocket(socket, res);
    // Nothing of its own is on the connection until Node hands it the socket.
    bytesBefore = Infinity;
    res.once('socket', () => (bytesBefore = socket.bytesWritten));
  }
  const fail = (error: unknown): void => answerError(logger, { res, method: req.method, route: record.route, clientLeft }, error);
  try {
    // Written with the head (cors.ts): a held poll carries no header table.
    res.cors = dispatch.cors(req.headers.origin);
    const ctx = route(dispatch.router, req, res, arrivedAt, departed, record);
    if (ctx) ctx.handler(ctx)?.then(undefined, fail);
  } catch (error) {
    fail(error);
  }
}

/** The context of a routed request, with its handler; undefined when answered here (OPTIONS). */
function route(
  router: Dispatch['router'],
  req: IncomingMessage,
  res: CorsResponse,
  arrivedAt: number,
  departure: Departure,
  record: RequestContext['record'],
): (RequestContext & { handler: RouteHandler }) | undefined {
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
    return undefined;
  }
  const method = req.method === 'HEAD' ? 'GET' : (req.method ?? '');
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
  return {
    handler: entry.handler,
    req,
    res,
    params: found.params,
    // Not url.searchParams: that keeps the whole URL alive as long as a held request.
    query: url.search ? new URLSearchParams(url.search) : NO_QUERY,
    arrivedAt,
    departure,
    record,
  };
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
