/**
 * `METRICS_TOKEN`: when set, `/stats` and `/metrics` answer only to
 * `Authorization: Bearer <token>`.
 */
import type { IncomingMessage } from 'node:http';
import { bearerToken, matchesSecret } from './bearer.js';
import { Errors } from './http-error.js';

/** Throws 401 unless the request carries the token (or no token is configured). */
export function requireMetricsToken(req: IncomingMessage, token: string | null): void {
  if (token !== null && !matchesSecret(bearerToken(req), token)) throw Errors.unauthorized();
}
