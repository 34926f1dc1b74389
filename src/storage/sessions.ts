/**
 * The session rules both stores follow: how an id is made and how expiry
 * slides with use.
 */
import { randomBytes } from 'node:crypto';
import type { SessionUser } from './model.js';

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
export function slidExpiry(expiresAt: number, now: number, ttlMs: number, hardExpiresAt: number | null = null): number | null {
  const renewed = now + ttlMs;
  if (renewed - expiresAt < Math.min(60_000, ttlMs / 100)) return null;
  // A session made from a token never outlives the token.
  const capped = hardExpiresAt === null ? renewed : Math.min(renewed, hardExpiresAt);
  return capped > expiresAt ? capped : null;
}

/** The session row's token part: the granted walls as stored (a JSON array), and the hard end. */
export interface SessionRow {
  id: number;
  name: string;
  expires_at: number;
  hard_expires_at: number | null;
  granted_walls: string | null;
}

/** The session's user as the stores answer it: `{id, name}`, plus the token's grant when one made the session. */
export function sessionUserOf(row: SessionRow): SessionUser {
  const user: SessionUser = { id: row.id, name: row.name };
  if (row.hard_expires_at !== null) {
    user.endsAt = row.hard_expires_at;
    user.granted = row.granted_walls ? (JSON.parse(row.granted_walls) as number[]) : [];
  }
  return user;
}
