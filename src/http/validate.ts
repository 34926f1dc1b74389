/**
 * Checks for the few request shapes Pollster accepts. Each throws an
 * HttpError with a stable message; none returns an error value.
 */
import { MAX_CONTENT_LENGTH } from '../storage/store.js';
import { Errors, HttpError } from './http-error.js';

export const MAX_WALLS_PER_POLL = 100;
export const MAX_PAGE = 500;

function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

function isCount(value: unknown): value is number {
  return typeof value === 'number' && Number.isSafeInteger(value) && value >= 0;
}

/** Digits only: "007", "1e3", "-1" and "1.0" are not ids; ids go up to 2^53−1 (16 digits). */
export function parseDecimal(text: string): number | null {
  if (!/^\d{1,16}$/.test(text)) return null;
  const value = Number(text);
  return Number.isSafeInteger(value) ? value : null;
}

export function parseWallId(raw: string | undefined): number {
  const id = raw === undefined ? null : parseDecimal(raw);
  if (id === null || id < 1) throw new HttpError(400, 'Wall id must be a positive integer');
  return id;
}

export function parseUserName(body: unknown): string {
  const user = isRecord(body) ? body.user : undefined;
  if (typeof user !== 'string' || user.length === 0 || user.length > 100) throw Errors.invalidUser();
  return user;
}

export function parseContent(body: unknown): string {
  const content = isRecord(body) ? body.content : undefined;
  if (typeof content !== 'string') throw new HttpError(400, 'content must be a string');
  const trimmed = content.trim();
  if (trimmed.length === 0 || content.length > MAX_CONTENT_LENGTH) {
    throw new HttpError(400, `content must be 1 to ${MAX_CONTENT_LENGTH} characters`);
  }
  return trimmed;
}

/** `?after=&limit=` for history pages. */
export function parsePage(query: URLSearchParams): { after: number; limit: number } {
  const afterText = query.get('after');
  const limitText = query.get('limit');
  const after = afterText === null || afterText === '' ? 0 : parseDecimal(afterText);
  if (after === null) throw new HttpError(400, 'after must be a non-negative integer');
  const limit = limitText === null || limitText === '' ? 100 : parseDecimal(limitText);
  if (limit === null || limit < 1 || limit > MAX_PAGE) {
    throw new HttpError(400, `limit must be an integer from 1 to ${MAX_PAGE}`);
  }
  return { after, limit };
}

export interface PollRequest {
  /** `[wallId, lastSeenMessageId]` as the client sent them, before permission checks. */
  lastPostIds: Array<[number, number]>;
  /** Undefined when the client did not ask for a timeout. */
  timeoutMs: number | undefined;
}

/** `{"last_post_id":{"1":56,"2":77},"timeout_ms":30000}` */
export function parsePollRequest(body: unknown): PollRequest {
  if (!isRecord(body) || !isRecord(body.last_post_id)) throw Errors.invalidParameters();
  const entries = Object.entries(body.last_post_id);
  if (entries.length === 0 || entries.length > MAX_WALLS_PER_POLL) throw Errors.invalidParameters();
  const lastPostIds: Array<[number, number]> = [];
  for (const [key, value] of entries) {
    const wallId = parseDecimal(key);
    if (wallId === null || wallId < 1 || !isCount(value)) throw Errors.invalidParameters();
    lastPostIds.push([wallId, value]);
  }
  const timeout = body.timeout_ms;
  if (timeout !== undefined && !isCount(timeout)) throw Errors.invalidParameters();
  return { lastPostIds, timeoutMs: timeout };
}

export function sessionIdFromBody(body: unknown): string | undefined {
  const id = isRecord(body) ? body.session_id : undefined;
  return typeof id === 'string' ? id : undefined;
}
