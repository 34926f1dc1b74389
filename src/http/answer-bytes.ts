/**
 * An answer's bytes, made once per answer object. Requests that shared a pool
 * task (WaitCoalescer) get the very same outcome object, so ten thousand polls
 * woken by one post are serialised once, not ten thousand times.
 * Keyed weakly: the bytes go when the answer does.
 */
import type { HistoryGap, Message } from '../shared/types.js';

type Walls = Record<string, { posts: Message[] }>;

const pollBodies = new WeakMap<Walls, Buffer>();
const refreshEvents = new WeakMap<Walls, { cursor: number; bytes: Buffer }>();
const EMPTY_POLL = Buffer.from(JSON.stringify({ walls: {} }));

/** The body of a long poll's 200: `{"walls":{…}}`. */
export function pollBody(walls: Walls | undefined): Buffer {
  if (!walls) return EMPTY_POLL;
  let bytes = pollBodies.get(walls);
  if (!bytes) {
    bytes = Buffer.from(JSON.stringify({ walls }));
    pollBodies.set(walls, bytes);
  }
  return bytes;
}

/**
 * A long poll's 200 when a cursor was behind its wall's kept history:
 * `{"walls":{…},"gaps":{…}}`. Rare, so made per answer; every other answer
 * keeps `pollBody`'s bytes exactly.
 */
export function pollBodyWithGaps(walls: Walls | undefined, gaps: Record<string, HistoryGap>): Buffer {
  return Buffer.from(JSON.stringify({ walls: walls ?? {}, gaps }));
}

/** An SSE `gap` event: no id, so the stream's Last-Event-ID stays the last refresh's. */
export function gapEvent(gaps: Record<string, HistoryGap>): string {
  return `event: gap\ndata: ${JSON.stringify({ walls: gaps })}\n\n`;
}

/** One poll answer as a single batch in id order (message ids are global). */
export function mergeBatch(walls: Walls): Message[] {
  return Object.values(walls)
    .flatMap((wall) => wall.posts)
    .sort((a, b) => a.id - b.id);
}

/** An SSE `refresh` event carrying the answer, and the cursor it moves the stream to. */
export function refreshEvent(walls: Walls): { cursor: number; bytes: Buffer } {
  let event = refreshEvents.get(walls);
  if (!event) {
    const messages = mergeBatch(walls);
    const cursor = messages[messages.length - 1]!.id;
    event = { cursor, bytes: Buffer.from(`id: ${cursor}\nevent: refresh\ndata: ${JSON.stringify({ messages })}\n\n`) };
    refreshEvents.set(walls, event);
  }
  return event;
}
