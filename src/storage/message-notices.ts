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
 */
import type { Message } from './model.js';

/** Past this many messages in one transaction, each wall's newest id is announced instead. */
export const NOTICE_ROWS_MAX = 100;

export type MessageNotice =
  /** The whole message: no read needed. */
  | { kind: 'message'; message: Message }
  /** Only the newest id of a wall: whatever came up to it must be read. */
  | { kind: 'newest'; wallId: number; newest: number };

const isId = (value: unknown): value is number => Number.isSafeInteger(value) && (value as number) > 0;

/** A payload as a notice, or undefined for one this version does not know (ignored, as a hint must be). */
export function parseMessageNotice(payload: string | undefined): MessageNotice | undefined {
  if (!payload) return undefined;
  if (payload.startsWith('{')) {
    let parsed: Partial<Record<keyof Message, unknown>>;
    try {
      parsed = JSON.parse(payload);
    } catch {
      return undefined;
    }
    const { id, wall_id, user, content, created_at } = parsed;
    if (!isId(id) || !isId(wall_id) || typeof user !== 'string' || typeof content !== 'string' || typeof created_at !== 'string') {
      return undefined;
    }
    return { kind: 'message', message: { id, wall_id, user, content, created_at } };
  }
  const match = /^(\d{1,16}):(\d{1,16})$/.exec(payload);
  if (!match) return undefined;
  const wallId = Number(match[1]);
  const newest = Number(match[2]);
  return isId(wallId) && isId(newest) ? { kind: 'newest', wallId, newest } : undefined;
}
