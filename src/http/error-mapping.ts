/**
 * The one place where errors become responses: an HttpError with its status
 * and message; the scheduler's and storage's own errors with theirs; anything
 * else logged and answered 500. It never throws.
 */
import type { ServerResponse } from 'node:http';
import type { Logger } from 'pino';
import { QueueFullError, ShuttingDownError, WaitCapError } from '../poll/errors.js';
import { DatabaseUnavailableError } from '../storage/storage.js';
import { Errors, HttpError } from './http-error.js';
import { sendError } from './respond.js';

/** Errors that mean the client went away mid-request, not that Pollster failed. */
const DISCONNECT_CODES = new Set(['ECONNRESET', 'ECONNABORTED', 'EPIPE', 'ERR_STREAM_PREMATURE_CLOSE']);

/** The answer a client gets for an error it may see, or undefined for one it may not (a 500). */
export function toHttpError(error: unknown): HttpError | undefined {
  if (error instanceof HttpError) return error;
  if (error instanceof QueueFullError) return Errors.serverBusy();
  if (error instanceof ShuttingDownError) return Errors.shuttingDown();
  if (error instanceof WaitCapError) return Errors.tooManyRequests();
  // Expected while PostgreSQL restarts: one 503 with Retry-After, not a 500 and a stack trace.
  if (error instanceof DatabaseUnavailableError) return Errors.databaseUnavailable();
  return undefined;
}

export interface FailedRequest {
  res: ServerResponse;
  method: string | undefined;
  /** The route pattern, never the URL: a URL can carry ?session_id=. */
  route: string;
  /** The client left before the answer was finished. */
  clientLeft: boolean;
}

export function answerError(logger: Logger, request: FailedRequest, error: unknown): void {
  const { res, method, route } = request;
  try {
    const known = toHttpError(error);
    if (known && !res.headersSent) {
      if (known.status === 413) res.setHeader('Connection', 'close');
      sendError(res, known);
    } else if (request.clientLeft || DISCONNECT_CODES.has((error as NodeJS.ErrnoException).code ?? '')) {
      // An aborted body or a client that left: nothing to answer, nothing wrong with the server.
      logger.debug({ method, route, code: (error as NodeJS.ErrnoException).code }, 'client went away');
    } else {
      // The stack goes to the log only; the client gets the generic message.
      if (!known) logger.error({ err: error, method, route }, 'request failed');
      // Once headers are out, an error status can no longer be sent: cut the
      // connection so the client sees a failure, not a silent truncation.
      if (res.headersSent) res.destroy();
      else sendError(res, Errors.internal());
    }
  } catch (crash) {
    logger.error({ err: crash }, 'error response failed');
    // Headers may be half set or the body half sent: the connection is the only safe answer left.
    res.destroy();
  }
}
