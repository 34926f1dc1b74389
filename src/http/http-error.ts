/**
 * An error meant for the client: a status and a stable message. Anything else
 * that reaches the request handler is logged and answered 500 "Internal error".
 */
export class HttpError extends Error {
  override name = 'HttpError';
  readonly status: number;
  readonly headers: Record<string, string>;

  constructor(status: number, message: string, headers: Record<string, string> = {}) {
    super(message);
    this.status = status;
    this.headers = headers;
  }
}

/** The messages clients can rely on; tests check every one of them. */
export const Errors = {
  invalidUser: () => new HttpError(400, 'Invalid user!'),
  invalidParameters: () => new HttpError(400, 'Invalid parameters!'),
  malformedJson: () => new HttpError(400, 'Malformed JSON'),
  malformedRequest: () => new HttpError(400, 'Malformed request'),
  bodyTooLarge: () => new HttpError(413, 'Body too large'),
  unauthorized: () => new HttpError(401, 'Unauthorized', { 'WWW-Authenticate': 'Bearer' }),
  /** AUTH=jwt: a token that is malformed, forged, not yet valid or for another issuer or audience (RFC 6750 §3.1). */
  invalidToken: () => new HttpError(401, 'Invalid token', { 'WWW-Authenticate': 'Bearer error="invalid_token"' }),
  /** AUTH=jwt: a token past its `exp` (and the clock skew): the client needs a new one from its application. */
  tokenExpired: () => new HttpError(401, 'Token expired', { 'WWW-Authenticate': 'Bearer error="invalid_token"' }),
  /** AUTH=jwt: `POST /sessions {"user":…}` picks no one; a session comes only from a token. */
  tokenRequired: () => new HttpError(403, 'Token required'),
  /** A wall the user may read (it is public) but not post to. Walls they may not read answer wallNotFound. */
  wallNotWritable: () => new HttpError(403, 'Wall not writable'),
  wallNotFound: () => new HttpError(404, 'Wall not found'),
  notFound: () => new HttpError(404, 'Not found'),
  tooManyRequests: () => new HttpError(429, 'Too many requests', { 'Retry-After': '1' }),
  methodNotAllowed: (allow: string[]) => new HttpError(405, 'Method not allowed', { Allow: allow.join(', ') }),
  serverBusy: () => new HttpError(503, 'Server busy', { 'Retry-After': '1' }),
  shuttingDown: () => new HttpError(503, 'Server shutting down', { 'Retry-After': '1' }),
  databaseUnavailable: () => new HttpError(503, 'Database unavailable', { 'Retry-After': '2' }),
  internal: () => new HttpError(500, 'Internal error'),
} as const;
