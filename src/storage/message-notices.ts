/**
 * What PostgreSQL's `pollster_messages` channel carries for each new message
 * (the `messages_notify_row` and `messages_notify_overflow` triggers,
 * `pg-schema.ts`), in commit order, which is id order:
 *
 * - the message itself, as JSON (`{"id":…,"wall_id":…,"user":…,"content":…,
 *   "created_at":…}`), for each of a transaction's first NOTICE_ROWS_MAX
 *   messages that fits in NOTIFY's 8,000 bytes; every process can then
 *   answer its polls without reading the row back;
 * - otherwise `wall_id:id`: a message of 2,000 four-byte characters by its
 *   own id, the rest of a bulk INSERT by each wall's newest id. Those rows
 *   are read from the table.
 *
 * Any role that can connect to the database may NOTIFY on any channel, so
 * each notice is signed: 64 hex digits of
 * `sha256(key ‖ sha256(key ‖ body))` (nested, so no length extension; what
 * PostgreSQL 11+ computes without an extension), then the body. The key is
 * in `pollster_notice_key`, readable by Pollster's role only. A notice that
 * fails the check is ignored: unchecked, a forged message would reach every
 * client, and a forged `wall_id:9007199254740991` would leave that wall's
 * waiters asleep for good.
 */
import { createHash, randomBytes, timingSafeEqual } from 'node:crypto';
import type { Message } from './model.js';

/** Past this many messages in one transaction, each wall's newest id is announced instead. */
export const NOTICE_ROWS_MAX = 100;
const DIGEST_CHARS = 64;
/** NOTIFY takes under 8,000 bytes; the digest comes first. */
export const NOTICE_BODY_MAX = 8000 - 1 - DIGEST_CHARS;

/** A new signing key, as the migration stores it. */
export function newNoticeKey(): string {
  return randomBytes(32).toString('hex');
}

const sha256 = (...parts: Array<string | Buffer>): Buffer => {
  const hash = createHash('sha256');
  for (const part of parts) hash.update(part);
  return hash.digest();
};

/** A body as the triggers send it. */
export function signNotice(key: string, body: string): string {
  return sha256(key, sha256(key, body)).toString('hex') + body;
}

/** The body of a notice signed with `key`, or undefined. */
function verified(key: string, payload: string): string | undefined {
  if (payload.length <= DIGEST_CHARS) return undefined;
  const given = Buffer.from(payload.slice(0, DIGEST_CHARS), 'utf8');
  const body = payload.slice(DIGEST_CHARS);
  const expected = Buffer.from(sha256(key, sha256(key, body)).toString('hex'), 'utf8');
  return given.length === expected.length && timingSafeEqual(given, expected) ? body : undefined;
}

export type MessageNotice =
  /** The whole message: no read needed. */
  | { kind: 'message'; message: Message }
  /** Only the newest id of a wall: whatever came up to it must be read. */
  | { kind: 'newest'; wallId: number; newest: number };

const isId = (value: unknown): value is number => Number.isSafeInteger(value) && (value as number) > 0;

/** A payload as a notice, or undefined for one not signed with `key` or of a shape this version does not know. */
export function parseMessageNotice(payload: string | undefined, key: string): MessageNotice | undefined {
  const body = payload ? verified(key, payload) : undefined;
  if (!body) return undefined;
  if (body.startsWith('{')) {
    let parsed: Partial<Record<keyof Message, unknown>>;
    try {
      parsed = JSON.parse(body);
    } catch {
      return undefined;
    }
    const { id, wall_id, user, content, created_at } = parsed;
    if (!isId(id) || !isId(wall_id) || typeof user !== 'string' || typeof content !== 'string' || typeof created_at !== 'string') {
      return undefined;
    }
    return { kind: 'message', message: { id, wall_id, user, content, created_at } };
  }
  const match = /^(\d{1,16}):(\d{1,16})$/.exec(body);
  if (!match) return undefined;
  const wallId = Number(match[1]);
  const newest = Number(match[2]);
  return isId(wallId) && isId(newest) ? { kind: 'newest', wallId, newest } : undefined;
}
