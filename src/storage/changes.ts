/**
 * Changes that can take access away from a held poll or stream, as the
 * database announces them to every Pollster process on every host: a
 * session ended, a user deleted, a wall made private or deleted, a member
 * removed. The database records them itself, in the same transaction as the
 * change, whoever makes it (the `/api/` routes, `npm run admin`, `psql`):
 *
 * - PostgreSQL: triggers `pg_notify` on `pollster_changes` with payloads
 *   `session:<user id>:<session key>`, `user:<id>`, `wall:<id>`,
 *   `member:<wall id>:<user id>`; every process LISTENs (`poll/pg-listener.ts`).
 * - SQLite: triggers write rows to a `changes` table, which every process
 *   reads when `data_version` says another connection committed
 *   (`poll/change-watcher.ts`), and right after its own writes.
 *
 * The SQL of both is in `change-schema.ts`.
 */
import { createHash } from 'node:crypto';

export const CHANGES_CHANNEL = 'pollster_changes';

export type AccessChange =
  /** One session ended (logout, revocation, expiry pruned). `key` is sessionKey(id), never the id. */
  | { kind: 'session'; userId: number; key: string }
  /** The user is gone: all its waits end. */
  | { kind: 'user'; userId: number }
  /** The wall was made private or deleted: who may read it has changed. */
  | { kind: 'wall'; wallId: number }
  /** The user is no longer a member of the wall. */
  | { kind: 'member'; wallId: number; userId: number }
  /** Changes may have been missed (the LISTEN connection was lost): check every held wait. */
  | { kind: 'all' };

/**
 * What a notification names a session by: the first 128 bits of its SHA-256,
 * in hex. Any role that may connect can LISTEN on the channel, so the
 * session id itself (a bearer credential) never goes into a payload.
 */
export function sessionKey(sessionId: string): string {
  return createHash('sha256').update(sessionId).digest('hex').slice(0, 32);
}

/** The same key computed by PostgreSQL, for the sessions trigger. */
export const PG_SESSION_KEY = (column: string): string => `left(encode(sha256(convert_to(${column}, 'UTF8')), 'hex'), 32)`;

const id = (text: string | undefined): number => Number(text);

/** A `pollster_changes` payload as a change, or undefined for one this version does not know. */
export function parseChange(payload: string | undefined): AccessChange | undefined {
  const parts = (payload ?? '').split(':');
  const [kind, first, second] = parts;
  const numeric = (text: string | undefined): boolean => text !== undefined && /^\d{1,16}$/.test(text);
  if (kind === 'session' && parts.length === 3 && numeric(first) && /^[0-9a-f]{32}$/.test(second ?? '')) {
    return { kind, userId: id(first), key: second! };
  }
  if (kind === 'user' && parts.length === 2 && numeric(first)) return { kind, userId: id(first) };
  if (kind === 'wall' && parts.length === 2 && numeric(first)) return { kind, wallId: id(first) };
  if (kind === 'member' && parts.length === 3 && numeric(first) && numeric(second)) {
    return { kind, wallId: id(first), userId: id(second) };
  }
  return undefined;
}

/** A row of SQLite's `changes` table. */
export interface ChangeRow {
  id: number;
  kind: string;
  wall_id: number | null;
  user_id: number | null;
  session_id: string | null;
}

export function changeOfRow(row: ChangeRow): AccessChange | undefined {
  const { kind, wall_id: wallId, user_id: userId, session_id: sessionId } = row;
  if (kind === 'session' && userId !== null && sessionId !== null) return { kind, userId, key: sessionKey(sessionId) };
  if (kind === 'user' && userId !== null) return { kind, userId };
  if (kind === 'wall' && wallId !== null) return { kind, wallId };
  if (kind === 'member' && wallId !== null && userId !== null) return { kind, wallId, userId };
  return undefined;
}
