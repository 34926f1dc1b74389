/**
 * The session rules both stores follow: how an id is made and how expiry
 * slides with use.
 */
import { randomBytes } from 'node:crypto';

/** 192 random bits, URL-safe: unguessable, and fits a header, a query or a form. */
export function newSessionId(): string {
  return randomBytes(24).toString('base64url');
}

/**
 * Expiry slides: a use at `now` moves it to `now + ttlMs`, but only once it
 * has fallen behind by a refresh step (a minute, or 1% of the TTL if that is
 * shorter), so a busy client does not write on every request. A session
 * therefore lives between TTL − step and TTL after its last use. Returns the
 * new expiry to write, or null when none is due.
 */
export function slidExpiry(expiresAt: number, now: number, ttlMs: number): number | null {
  const renewed = now + ttlMs;
  return renewed - expiresAt >= Math.min(60_000, ttlMs / 100) ? renewed : null;
}
