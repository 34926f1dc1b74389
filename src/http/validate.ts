/**
 * Checks for the few request shapes Pollster accepts. Each throws an
 * HttpError with a stable message; none returns an error value.
 */
import { MAX_CONTENT_LENGTH } from '../storage/model.js';
import { Errors, HttpError } from './http-error.js';

export const MAX_WALLS_PER_POLL = 100;
export const MAX_PAGE = 500;

function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

/**
 * Canonical decimals only: digits, no sign, no leading zero, no
 * exponent or hex, at most 2^53−1 — "007", "01", "1e3", "0x10", "-1", " 5"
 * and "1.0" are not numbers here. Ids may pass 2^31, so the cap is the safe
 * integer limit, not 32 bits.
 */
export function parseDecimal(text: string): number | null {
  if (!/^(?:0|[1-9]\d{0,15})$/.test(text)) return null;
  const value = Number(text);
  return Number.isSafeInteger(value) ? value : null;
}

/** A JSON number that is a safe non-negative integer, or a canonical decimal string (form bodies have only strings). */
function parseCount(value: unknown): number | null {
  if (typeof value === 'number') return Number.isSafeInteger(value) && value >= 0 ? value : null;
  return typeof value === 'string' ? parseDecimal(value) : null;
}

/** Lone surrogates are not text: SQLite would store each as a 3-byte U+FFFD. */
function isWellFormed(text: string): boolean {
  return text.isWellFormed();
}

/** Length in code points, so an emoji counts once. Assumes well-formed text. */
export function codePointLength(text: string): number {
  let pairs = 0;
  for (let i = 0; i < text.length; i++) {
    const unit = text.charCodeAt(i);
    if (unit >= 0xd800 && unit <= 0xdbff) pairs++;
  }
  return text.length - pairs;
}

export function parseWallId(raw: string | undefined): number {
  const id = raw === undefined ? null : parseDecimal(raw);
  if (id === null || id < 1) throw new HttpError(400, 'Wall id must be a positive integer');
  return id;
}

export function parseUserName(body: unknown): string {
  const user = isRecord(body) ? body.user : undefined;
  if (typeof user !== 'string' || !isWellFormed(user) || user.length === 0 || codePointLength(user) > 100) {
    throw Errors.invalidUser();
  }
  return user;
}

export function parseContent(body: unknown): string {
  const content = isRecord(body) ? body.content : undefined;
  if (typeof content !== 'string') throw new HttpError(400, 'content must be a string');
  if (!isWellFormed(content)) throw new HttpError(400, 'content must be well-formed Unicode');
  // PostgreSQL's text cannot hold U+0000; refused on both backends so they store the same messages.
  if (content.includes('\u0000')) throw new HttpError(400, 'content must not contain U+0000');
  const trimmed = content.trim();
  if (trimmed.length === 0 || codePointLength(content) > MAX_CONTENT_LENGTH) {
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

/**
 * `{"last_post_id":{"1":56,"2":77},"timeout_ms":30000}`, or the same as a form:
 * `last_post_id[1]=56&last_post_id[2]=77&timeout_ms=30000`.
 */
export function parsePollRequest(body: unknown): PollRequest {
  if (!isRecord(body) || !isRecord(body.last_post_id)) throw Errors.invalidParameters();
  const entries = Object.entries(body.last_post_id);
  if (entries.length === 0 || entries.length > MAX_WALLS_PER_POLL) throw Errors.invalidParameters();
  const lastPostIds: Array<[number, number]> = [];
  for (const [key, value] of entries) {
    const wallId = parseDecimal(key);
    const lastId = parseCount(value);
    if (wallId === null || wallId < 1 || lastId === null) throw Errors.invalidParameters();
    lastPostIds.push([wallId, lastId]);
  }
  const timeout = body.timeout_ms === undefined ? undefined : parseCount(body.timeout_ms);
  if (timeout === null) throw Errors.invalidParameters();
  return { lastPostIds, timeoutMs: timeout };
}

/** `/hello?ms=`: absent or empty means `fallback`. */
export function parseMs(raw: string | null, fallback: number): number {
  if (raw === null || raw === '') return fallback;
  const ms = parseDecimal(raw);
  if (ms === null) throw new HttpError(400, 'ms must be a non-negative integer');
  return ms;
}

export function sessionIdFromBody(body: unknown): string | undefined {
  const id = isRecord(body) ? body.session_id : undefined;
  return typeof id === 'string' ? id : undefined;
}
