/**
 * How an HTTP handler waits for messages: one look at the shared board on the
 * main thread first — a short poll, or a client that is behind, is answered
 * without a trip to a thread — and only a real wait goes to the task runner.
 */
import type { Config } from '../config.js';
import { createCancelCell, type Board } from '../shared/board.js';
import { waitForMessagesSync, type MessageSource } from '../shared/poll-wait.js';
import type { Message, PollOutcome, PollTask } from '../shared/types.js';
import type { CancelSignal } from './departure.js';
import type { TaskRunner } from './task-runner.js';
import type { WaitCoalescer } from './wait-coalescer.js';
import type { Release } from './wait-limits.js';

/** Most messages one answer (poll reply or SSE batch) carries per wall; the client asks again for more. */
export const BATCH_LIMIT = 100;

/**
 * Most bytes of messages one answer carries (at least one message always
 * goes): a catch-up of large messages is sent in slices the client asks for
 * again, so neither a read nor a write holds more than this.
 */
export const BATCH_BYTES = 256 * 1024;

/**
 * The cancel cell of a task that is never cancelled through it: the main
 * thread's quick look, and a rider's task (the shared task it joins gets a
 * cell of its own when it starts). One cell, never raised.
 */
export const NEVER_CANCELLED = createCancelCell();

/** How one request waits: until when, for whom, and in which shape. */
export interface WaitOptions {
  /** Epoch ms: the wait answers empty once this passes. */
  deadline: number;
  /** Aborts when the client leaves (or logs out). */
  signal: CancelSignal;
  /**
   * `poll`: a cursor per wall, each wall answers its own prefix. `stream`: one
   * cursor across the walls (SSE's Last-Event-ID), so the answer is a prefix
   * in id order across walls (PollTask's `singleCursor`).
   */
  kind: 'poll' | 'stream';
  /**
   * Called only when the request must really wait (the quick look found
   * nothing): it takes a fair share or throws WaitCapError, and its release
   * runs when the wait ends.
   */
  admit?: () => Release;
}

/** Wait until any of `walls` (`[wallId, lastSeenId]`) has news, the deadline passes, or the signal aborts. */
export type MessageWaiter = (walls: Array<[number, number]>, options: WaitOptions) => Promise<PollOutcome>;

/**
 * `coalescer`: identical waits share one pool task (pool and multiplex modes).
 * Without it each wait is a task of its own — inline mode, the deliberately
 * blocking control, keeps that.
 */
export function createMessageWaiter(
  config: Config,
  board: Board,
  reader: MessageSource,
  runner: TaskRunner,
  coalescer?: WaitCoalescer,
): MessageWaiter {
  // Not async: a held request's promise is the coalescer's, settled by its
  // one Member object, with no suspended frame here (memory per held poll).
  return (walls, { deadline, signal, kind, admit }) => {
    const singleCursor = kind === 'stream';
    const task: PollTask = {
      walls,
      // 0: look once, never block the main thread.
      deadline: 0,
      singleCursor,
      wake: config.wake,
      intervalMs: config.pollIntervalMs,
      limit: BATCH_LIMIT,
      // The quick look can't be cancelled mid-way, and a rider's task gets its
      // shared task's cell: a cell of its own only if it waits alone (inline).
      cancel: NEVER_CANCELLED,
    };
    const now = waitForMessagesSync(task, board, reader);
    if (now.outcome === 'data') return Promise.resolve(boundBytes(now, singleCursor));
    if (deadline <= Date.now()) return Promise.resolve(now);
    // A full pool answers 503 before any share is counted.
    const release = admit && runner.hasRoom() ? admit() : undefined;
    task.deadline = deadline;
    const shape = singleCursor ? shapeStream : shapePoll;
    // A rider never needs a cancel cell: the shared task gets one when it starts.
    if (coalescer) return coalescer.poll(task, signal, shape, release);
    return pollAlone(runner, { ...task, cancel: createCancelCell() }, signal, shape, release);
  };
}

/** Inline mode: a task of its own per wait. */
async function pollAlone(
  runner: TaskRunner,
  task: PollTask,
  signal: CancelSignal,
  shape: (outcome: PollOutcome) => PollOutcome,
  release: Release | undefined,
): Promise<PollOutcome> {
  try {
    return shape(await runner.poll(task, signal));
  } finally {
    release?.();
  }
}

const shapePoll = (outcome: PollOutcome): PollOutcome => (outcome.outcome === 'data' ? boundBytes(outcome, false) : outcome);
const shapeStream = (outcome: PollOutcome): PollOutcome => (outcome.outcome === 'data' ? boundBytes(outcome, true) : outcome);

const size = (message: Message): number => Buffer.byteLength(JSON.stringify(message));

/** No message's JSON is larger than this: 6 bytes per escaped UTF-16 unit, plus the fixed fields. */
const ceiling = (message: Message): number => 6 * (message.content.length + message.user.length) + 200;

/**
 * Cut an answer at BATCH_BYTES. The client resumes from the newest id it got:
 * a long poll per wall (so each wall keeps a prefix), an SSE stream from one
 * cursor (so the answer keeps a prefix in id order across walls).
 */
export function boundBytes(outcome: PollOutcome & { outcome: 'data' }, singleCursor: boolean): PollOutcome {
  const walls = Object.entries(outcome.walls);
  // Most answers are a few small messages: skip measuring when even the worst case fits.
  let worst = 0;
  for (const [, wall] of walls) for (const message of wall.posts) worst += ceiling(message);
  if (worst <= BATCH_BYTES) return outcome;

  const kept: Record<string, { posts: Message[] }> = {};
  let budget = BATCH_BYTES;
  let first = true;
  const keep = (key: string, message: Message): boolean => {
    budget -= size(message);
    if (budget < 0 && !first) return false;
    first = false;
    (kept[key] ??= { posts: [] }).posts.push(message);
    return true;
  };
  if (singleCursor) {
    const merged = walls.flatMap(([, wall]) => wall.posts).sort((a, b) => a.id - b.id);
    for (const message of merged) if (!keep(String(message.wall_id), message)) break;
  } else {
    outer: for (const [key, wall] of walls) {
      for (const message of wall.posts) if (!keep(key, message)) break outer;
    }
  }
  return { outcome: 'data', walls: kept };
}
