/**
 * What a finished request leaves behind: its metrics and, with ACCESS_LOG
 * on, one access-log line (route pattern, never the URL, which can carry
 * ?session_id=).
 */
import type { IncomingMessage } from 'node:http';
import type { Socket } from 'node:net';
import { performance } from 'node:perf_hooks';
import type { Logger } from 'pino';
import { ACCESS_LOG_MSG } from '../observability/logger.js';
import type { Metrics } from '../observability/metrics.js';
import { type RequestRecord, waitedMs } from '../observability/request-record.js';
import { answerEnd } from './pipelined.js';

/**
 * Logged as the status of a request whose client left before any answer was
 * sent (nginx's "client closed request").
 */
export const CLIENT_LEFT_STATUS = 499;

export interface FinishedRequest {
  req: IncomingMessage;
  /** Kept from arrival: by its 'close' Node may have detached the socket from the request. */
  socket: Socket;
  record: RequestRecord;
  /** `performance.now()` at arrival. */
  started: number;
  /** `socket.bytesWritten` when this answer began (Infinity while it waits behind pipelined ones). */
  bytesBefore: number;
  /** The status sent, or undefined when the client left before any. */
  status: number | undefined;
  clientLeft: boolean;
}

export function recordFinished(logger: Logger, metrics: Metrics | undefined, accessLog: boolean, done: FinishedRequest): void {
  const { req, record } = done;
  const status = done.status ?? CLIENT_LEFT_STATUS;
  const now = performance.now();
  const ms = now - done.started;
  metrics?.observeRequest(req.method ?? '', record.route, status, ms / 1000);
  if (!accessLog) return;
  const waited = waitedMs(record, now);
  logger.info(
    {
      method: req.method,
      route: record.route,
      status,
      ms: Math.round(ms * 10) / 10,
      // Bytes put on the connection for this answer, headers included.
      bytes: Math.max(0, answerEnd(done.socket, done.bytesBefore) - done.bytesBefore),
      ...(waited === undefined ? {} : { waited_ms: Math.round(waited * 10) / 10 }),
      ...(done.clientLeft ? { client_left: true } : {}),
    },
    ACCESS_LOG_MSG,
  );
}
