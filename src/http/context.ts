/**
 * What a route handler is given, and what a route is. A leaf: the server,
 * the route table and every handler import it, and it imports none of them.
 */
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { RequestRecord } from '../observability/request-record.js';
import type { Departure } from '../poll/departure.js';

export interface RequestContext {
  req: IncomingMessage;
  res: ServerResponse;
  params: Record<string, string | undefined>;
  query: URLSearchParams;
  /** Epoch ms when the request arrived: a poll's timeout counts from here. */
  arrivedAt: number;
  /**
   * Aborts when the client goes away before its response is sent, or on a
   * logout; waits take it as their CancelSignal. A logout aborts it with
   * LOGGED_OUT (SessionWaits) rather than through a second signal joined with
   * AbortSignal.any, which cost each held poll two more EventTargets.
   */
  departure: Departure;
  /** What the access log and metrics learn about this request. */
  record: RequestRecord;
}

export type RouteHandler = (ctx: RequestContext) => Promise<void> | void;
export type Method = 'GET' | 'POST' | 'PUT' | 'PATCH' | 'DELETE';
export type Route = [Method, string, RouteHandler];
