/**
 * The `node:http` server: routing, CORS, request timeouts, and the one place
 * where errors become responses — an HttpError with its status and message,
 * anything else logged and answered 500. Nothing throws past `handle`.
 */
import cluster from 'node:cluster';
import { existsSync, unlinkSync } from 'node:fs';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import Router from 'find-my-way';
import type { Logger } from 'pino';
import type { Config } from '../config.js';
import { DatabaseUnavailableError } from '../storage/storage.js';
import { Errors, HttpError } from './http-error.js';
import { corsHeaders, sendError } from './respond.js';
import type { Method, RequestContext, RouteHandler } from './routes.js';

const CLIENT_ERROR_STATUS: Record<string, string> = {
  HPE_HEADER_OVERFLOW: '431 Request Header Fields Too Large',
  ERR_HTTP_REQUEST_TIMEOUT: '408 Request Timeout',
};

export function createHttpServer(config: Config, routes: Array<[Method, string, RouteHandler]>, logger: Logger): Server {
  const router = Router({ ignoreTrailingSlash: true });
  for (const [method, path, handler] of routes) router.on(method, path, () => {}, handler);
  const cors = corsHeaders(config.corsOrigin);

  async function handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const arrivedAt = Date.now();
    for (const [name, value] of Object.entries(cors)) res.setHeader(name, value);
    // Listen from the start: a client can leave while its body is still being read.
    const departed = new AbortController();
    res.once('close', () => {
      if (!res.writableFinished) departed.abort();
    });
    try {
      if (req.method === 'OPTIONS') {
        res.writeHead(204).end();
        return;
      }
      const url = new URL(req.url ?? '/', 'http://pollster.invalid');
      const method = req.method === 'HEAD' ? 'GET' : req.method;
      const found = method === 'GET' || method === 'POST' ? router.find(method, url.pathname) : null;
      if (!found) {
        const allow = (['GET', 'POST'] as const).filter((m) => router.find(m, url.pathname));
        throw allow.length ? Errors.methodNotAllowed([...allow, 'OPTIONS']) : Errors.notFound();
      }
      const ctx: RequestContext = {
        req,
        res,
        params: found.params,
        query: url.searchParams,
        arrivedAt,
        signal: departed.signal,
      };
      await (found.store as RouteHandler)(ctx);
    } catch (error) {
      if (error instanceof HttpError) {
        if (error.status === 413) res.setHeader('Connection', 'close');
        sendError(res, error);
      } else if (error instanceof DatabaseUnavailableError) {
        // Expected while PostgreSQL restarts: one 503 with Retry-After, not a 500 and a stack trace.
        sendError(res, Errors.databaseUnavailable());
      } else {
        logger.error({ err: error, method: req.method, url: req.url }, 'request failed');
        sendError(res, Errors.internal());
      }
    }
  }

  // The timeouts bound how long a client may take to *send* its request, not
  // how long the answer may take (a long poll waits up to POLL_TIMEOUT_MS):
  // slow or stalled uploads are cut off with 408 and never reach the pool.
  const server = createServer(
    {
      headersTimeout: config.headersTimeoutMs,
      requestTimeout: config.requestTimeoutMs,
      // Node checks those timeouts on this interval (30 s by default).
      connectionsCheckingInterval: Math.min(1000, config.headersTimeoutMs / 2),
    },
    (req, res) => void handle(req, res),
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
