/**
 * `Authorization: Bearer <token>`, read once for every use: sessions, the
 * metrics token.
 */
import { createHash, timingSafeEqual } from 'node:crypto';
import type { IncomingMessage } from 'node:http';

export function bearerToken(req: IncomingMessage): string | undefined {
  const header = req.headers.authorization;
  const match = header ? /^Bearer\s+(\S+)$/i.exec(header) : null;
  return match?.[1];
}

const digest = (text: string): Buffer => createHash('sha256').update(text).digest();

/**
 * Equal-length digests: the comparison takes the same time whatever the
 * guess, and leaks neither the secret's content nor its length.
 */
export function matchesSecret(given: string | undefined, secret: string): boolean {
  return given !== undefined && timingSafeEqual(digest(given), digest(secret));
}
