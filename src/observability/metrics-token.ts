/**
 * `METRICS_TOKEN`: when set, `/stats` and `/metrics` answer only to
 * `Authorization: Bearer <token>`.
 */
import { createHash, timingSafeEqual } from 'node:crypto';
import type { IncomingMessage } from 'node:http';
import { Errors } from '../http/http-error.js';

const digest = (text: string): Buffer => createHash('sha256').update(text).digest();

/** Throws 401 unless the request carries the token (or no token is configured). */
export function requireMetricsToken(req: IncomingMessage, token: string | null): void {
  if (token === null) return;
  const match = /^Bearer\s+(\S+)$/i.exec(req.headers.authorization ?? '');
  // Equal-length digests: the comparison takes the same time whatever the
  // guess, and leaks neither the token's content nor its length.
  if (!match || !timingSafeEqual(digest(match[1]!), digest(token))) throw Errors.unauthorized();
}
