/**
 * `application/x-www-form-urlencoded` with Rack-style nested keys, as the
 * Sinatra original's jQuery client sends it:
 * `session_id=abc&last_post_id%5B1%5D=56` → `{session_id: 'abc', last_post_id: {'1': '56'}}`.
 *
 * Deliberately small and bounded (hostile form bodies must never
 * slow the server): one pass over at most MAX_BODY_BYTES, a fixed number of
 * fields, shallow nesting, and every ambiguity — a repeated key, a key that is
 * both a value and a hash, `a[]` arrays, bad percent-encoding, bytes that are
 * not UTF-8 — is refused rather than guessed at. Values are always strings.
 */
import { HttpError } from './http-error.js';

/** A poll names at most 100 walls, plus `session_id` and `timeout_ms`. */
export const MAX_FORM_FIELDS = 200;
/** `last_post_id[1]` is depth 1; nothing Pollster reads goes deeper. */
export const MAX_FORM_DEPTH = 2;
export const MAX_FORM_KEY_LENGTH = 200;

export type FormValue = string | FormHash;
export interface FormHash {
  [key: string]: FormValue;
}

export const malformedForm = (): HttpError => new HttpError(400, 'Malformed form body');

const utf8 = new TextDecoder('utf-8', { fatal: true, ignoreBOM: true });

function hexValue(code: number): number {
  if (code >= 0x30 && code <= 0x39) return code - 0x30;
  const lower = code | 0x20;
  if (lower >= 0x61 && lower <= 0x66) return lower - 0x61 + 10;
  return -1;
}

/** Percent- and `+`-decode `bytes[start, end)` and read it as strict UTF-8. */
function decode(bytes: Uint8Array, start: number, end: number): string {
  const out = new Uint8Array(end - start);
  let length = 0;
  for (let i = start; i < end; i++) {
    const byte = bytes[i]!;
    if (byte === 0x2b) {
      out[length++] = 0x20;
    } else if (byte === 0x25) {
      const high = i + 2 < end ? hexValue(bytes[i + 1]!) : -1;
      const low = i + 2 < end ? hexValue(bytes[i + 2]!) : -1;
      if (high < 0 || low < 0) throw malformedForm();
      out[length++] = high * 16 + low;
      i += 2;
    } else {
      out[length++] = byte;
    }
  }
  try {
    return utf8.decode(out.subarray(0, length));
  } catch {
    throw malformedForm();
  }
}

/** `a[b][c]` → `['a', 'b', 'c']`; anything else bracketed is refused. */
function splitKey(key: string): string[] {
  if (key.length === 0 || key.length > MAX_FORM_KEY_LENGTH) throw malformedForm();
  const open = key.indexOf('[');
  if (open === -1) {
    if (key.includes(']')) throw malformedForm();
    return [key];
  }
  const path = [key.slice(0, open)];
  const rest = key.slice(open);
  const segment = /\[([^[\]]+)\]/y;
  let at = 0;
  while (at < rest.length) {
    segment.lastIndex = at;
    const match = segment.exec(rest);
    if (!match) throw malformedForm();
    path.push(match[1]!);
    at = segment.lastIndex;
    if (path.length - 1 > MAX_FORM_DEPTH) throw malformedForm();
  }
  if (path[0] === '' || path[0]!.includes(']')) throw malformedForm();
  return path;
}

function assign(root: FormHash, path: string[], value: string): void {
  let hash = root;
  for (const name of path.slice(0, -1)) {
    const next = hash[name];
    if (next === undefined) hash = hash[name] = Object.create(null) as FormHash;
    else if (typeof next === 'string') throw malformedForm();
    else hash = next;
  }
  const last = path[path.length - 1]!;
  // A repeated key or one that is also a hash: Rack would silently keep one; we refuse.
  if (hash[last] !== undefined) throw malformedForm();
  hash[last] = value;
}

export function parseForm(bytes: Uint8Array): FormHash {
  const root = Object.create(null) as FormHash;
  let fields = 0;
  let start = 0;
  while (start <= bytes.length) {
    let end = bytes.indexOf(0x26, start);
    if (end === -1) end = bytes.length;
    if (end > start) {
      if (++fields > MAX_FORM_FIELDS) throw malformedForm();
      let equals = bytes.indexOf(0x3d, start);
      if (equals === -1 || equals > end) equals = end;
      const key = decode(bytes, start, equals);
      const value = equals < end ? decode(bytes, equals + 1, end) : '';
      assign(root, splitKey(key), value);
    }
    start = end + 1;
  }
  return root;
}
