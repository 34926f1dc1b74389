/**
 * CORS headers on every response, added when its head is written rather
 * than set on each request as it arrives. Set early, they made
 * every request, held polls included, carry Node's header table (four
 * `setHeader` entries) for its whole wait, and sent every answer down Node's
 * slow `writeHead` path, which validates and lower-cases each header again:
 * ten thousand times per fan-out. Merged into the head instead, an answer
 * takes `writeHead`'s fast path, and a shared answer reuses one merged
 * header object.
 */
import { ServerResponse, type IncomingMessage, type OutgoingHttpHeader, type OutgoingHttpHeaders } from 'node:http';

type Headers = OutgoingHttpHeaders;

/**
 * The CORS headers every response carries, preflight or not. `origins` is
 * `*` or a comma-separated list (validated by loadConfig). With one origin it
 * is always sent; with several, the request's `Origin` is echoed when listed,
 * and a browser on any other origin gets no `Access-Control-Allow-Origin`.
 * Each answer is one object made at start-up, shared by every request that gets it.
 */
export function createCors(origins: string): (requestOrigin: string | undefined) => Readonly<Headers> {
  const common = {
    'Access-Control-Allow-Methods': 'GET, POST, DELETE, OPTIONS',
    'Access-Control-Allow-Headers': 'Content-Type, Authorization, X-CSRF-Token, Last-Event-ID',
    'Access-Control-Max-Age': '600',
  };
  if (origins === '*') {
    const headers = { 'Access-Control-Allow-Origin': '*', ...common };
    return () => headers;
  }
  const list = origins.split(',');
  if (list.length === 1) {
    const headers = { 'Access-Control-Allow-Origin': origins, ...common, Vary: 'Origin' };
    return () => headers;
  }
  const refused = { ...common, Vary: 'Origin' };
  // One object per origin, as with one origin: a shared answer's merged head is reused.
  const allowed = new Map(list.map((origin) => [origin, { 'Access-Control-Allow-Origin': origin, ...refused }]));
  return (requestOrigin) => (requestOrigin && allowed.get(requestOrigin)) || refused;
}

/**
 * Merged heads by the head a route gave, for heads that are frozen: those
 * are shared (answers that share their bytes share their head, respond.ts),
 * so the merge is made once. One entry per head, for the CORS object it was
 * merged with. A head made for one response is merged and dropped.
 */
const merged = new WeakMap<Headers, { cors: Readonly<Headers>; head: Headers }>();

function withCors(cors: Readonly<Headers>, head: Headers | undefined): Headers {
  if (head === undefined) return cors as Headers;
  const shared = Object.isFrozen(head);
  if (shared) {
    const known = merged.get(head);
    if (known?.cors === cors) return known.head;
  }
  const both: Headers = { ...cors, ...head };
  // A route's own Vary (the page's `Accept`) adds to CORS's `Origin`.
  if (cors.Vary !== undefined && head.Vary !== undefined) both.Vary = `${String(cors.Vary)}, ${String(head.Vary)}`;
  if (shared) merged.set(head, { cors, head: both });
  return both;
}

/**
 * The server's response class. `cors` is set as the request arrives and
 * merged into the head by `writeHead` — which every response goes through,
 * Node's implicit head (`res.end()` alone) included.
 */
export class CorsResponse<Request extends IncomingMessage = IncomingMessage> extends ServerResponse<Request> {
  cors: Readonly<Headers> | undefined = undefined;

  override writeHead(statusCode: number, statusMessage?: string, headers?: Headers | OutgoingHttpHeader[]): this;
  override writeHead(statusCode: number, headers?: Headers | OutgoingHttpHeader[]): this;
  override writeHead(
    statusCode: number,
    messageOrHeaders?: string | Headers | OutgoingHttpHeader[],
    maybeHeaders?: Headers | OutgoingHttpHeader[],
  ): this {
    const cors = this.cors;
    const message = typeof messageOrHeaders === 'string' ? messageOrHeaders : undefined;
    const headers = typeof messageOrHeaders === 'string' ? maybeHeaders : messageOrHeaders;
    if (cors === undefined) return super.writeHead(statusCode, message, headers);
    this.cors = undefined;
    if (Array.isArray(headers)) {
      // No route passes an array; should one, the slow path keeps it correct.
      for (const [name, value] of Object.entries(cors)) if (!this.hasHeader(name)) this.setHeader(name, value!);
      return super.writeHead(statusCode, message, headers);
    }
    return super.writeHead(statusCode, message, withCors(cors, headers));
  }
}
