/**
 * How an HTTP handler waits for messages: one look at the shared board on the
 * main thread first — a short poll, or a client that is behind, is answered
 * without a trip to a thread — and only a real wait goes to the task runner.
 */
import type { Config } from '../config.js';
import { createCancelCell, type Board } from '../shared/board.js';
import { waitForMessagesSync, type MessageSource } from '../shared/poll-wait.js';
import type { Message, PollOutcome, PollTask } from '../shared/types.js';
import { DatabaseUnavailableError } from '../storage/storage.js';
import type { CancelSignal } from './departure.js';
import type { TaskRunner } from './task-runner.js';
import type { WaitCoalescer } from './wait-coalescer.js';
import type { Release } from './wait-limits.js';

/** Most messages one answer (poll reply or SSE batch) carries per wall; the client asks again for more. */
export const BATCH_LIMIT = 100;

/**
 * Most bytes of messages one answer carries (at least one message always
 * goes): a catch-up of large messages is sent in slices the client asks for
 * again, so neither a read nor a write holds more than this (issue 14).
 */
export const BATCH_BYTES = 256 * 1024;

/**
 * The cancel cell of a task that is never cancelled through it: the main
 * thread's quick look, and a rider's task (the shared task it joins gets a
 * cell of its own when it starts). One cell, never raised.
 */
const NEVER_CANCELLED = createCancelCell();

/**
 * Wait until any of `walls` (`[wallId, lastSeenId]`) has news, `deadline`
 * (epoch ms) passes, or `signal` aborts. `singleCursor`: see PollTask.
 * `admit` is called only when the request must really wait (the quick look
 * found nothing): it takes a fair share or throws 429, and its release runs
 * when the wait ends.
 */
export type MessageWaiter = (
  walls: Array<[number, number]>,
  deadline: number,
  signal: CancelSignal,
  singleCursor?: boolean,
  admit?: () => Release,
) => Promise<PollOutcome>;

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
  // one Member object, with no suspended frame here (issue 15, memory per held poll).
  return (walls, deadline, signal, singleCursor = false, admit) => {
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

/** How long a poll waits before reading again when the database is unavailable. */
export const UNAVAILABLE_RETRY_MS = 500;

/** Asynchronous reads, from a database the main thread must not block on (PostgreSQL). */
export interface AsyncMessageSource {
  messagesAfter(wallId: number, after: number, limit: number): Promise<Message[]>;
  messagesAfterOnWalls(wallIds: readonly number[], after: number, limit: number): Promise<Message[]>;
}

/**
 * The waiter for PostgreSQL. The blocking wait still runs on the pool — a
 * thread (or a multiplexed slot) waits on the board with a `boardOnly` task
 * and reports which walls moved — but the messages are read here, on the
 * main thread, asynchronously from the process's one bounded pool: worker
 * threads open no connections of their own. A wall that moved without news
 * for this poll (a board slot shared with another wall) is not reported
 * again until it moves further.
 *
 * While the database is unavailable a poll keeps waiting — reading again
 * every UNAVAILABLE_RETRY_MS — and answers empty at its deadline.
 */
export function createBoardMessageWaiter(
  config: Config,
  board: Board,
  reader: AsyncMessageSource,
  runner: TaskRunner,
  coalescer?: WaitCoalescer,
): MessageWaiter {
  const deps: BoardWaitDeps = { config, board, reader, runner, coalescer };
  return (walls, deadline, signal, singleCursor = false, admit) => waitOnBoard(deps, walls, deadline, signal, singleCursor, admit);
}

interface BoardWaitDeps {
  config: Config;
  board: Board;
  reader: AsyncMessageSource;
  runner: TaskRunner;
  coalescer: WaitCoalescer | undefined;
}

/**
 * `walls` holds each wall's cursor (what the client has seen); `seen` each
 * wall's board id already read without news for this request. Plain pairs,
 * not Maps: a request waits on a few walls, and a Map costs every held poll
 * its hash table (issue 15, memory per held poll).
 */
async function waitOnBoard(
  { config, board, reader, runner, coalescer }: BoardWaitDeps,
  walls: Array<[number, number]>,
  deadline: number,
  signal: CancelSignal,
  singleCursor: boolean,
  admit: (() => Release) | undefined,
): Promise<PollOutcome> {
  const seen = walls.map(([wallId, after]): [number, number] => [wallId, after]);
  let release: Release | undefined;
  try {
    for (;;) {
      // Board ids are taken before the read: a message landing during it moves them again.
      const current = seen.map(([wallId]): [number, number] => [wallId, board.newest(wallId)]);
      const moved = current.filter(([, newest], index) => newest > seen[index]![1]);
      if (moved.length > 0) {
        let found: Record<string, { posts: Message[] }> | null;
        try {
          found = await readMoved(reader, walls, moved, singleCursor);
        } catch (error) {
          if (!(error instanceof DatabaseUnavailableError)) throw error;
          if (!(await pause(Math.min(UNAVAILABLE_RETRY_MS, deadline - Date.now()), signal))) return { outcome: 'cancelled' };
          if (Date.now() >= deadline) return { outcome: 'timeout' };
          continue;
        }
        if (found) return boundBytes({ outcome: 'data', walls: found }, singleCursor);
        // Read at these board ids and found nothing: only a further move can bring news.
        current.forEach(([, newest], index) => {
          if (singleCursor || newest > seen[index]![1]) seen[index]![1] = newest;
        });
      }
      if (signal.aborted) return { outcome: 'cancelled' };
      if (deadline <= Date.now()) return { outcome: 'timeout' };
      const task: PollTask = {
        walls,
        seen: seen.map(([wallId, newest]): [number, number] => [wallId, newest]),
        boardOnly: true,
        deadline,
        singleCursor,
        wake: config.wake,
        intervalMs: config.pollIntervalMs,
        limit: BATCH_LIMIT,
        cancel: coalescer ? NEVER_CANCELLED : createCancelCell(),
      };
      // A real wait takes a fair share, once (a full pool answers 503 before any share is counted).
      if (!release && admit && runner.hasRoom()) release = admit();
      // Identical board waits (same walls, cursors and thresholds) share one task too.
      const outcome = coalescer ? await coalescer.poll(task, signal, keepShape) : await runner.poll(task, signal);
      if (outcome.outcome !== 'moved') return outcome;
    }
  } finally {
    release?.();
  }
}

const keepShape = (outcome: PollOutcome): PollOutcome => outcome;

async function readMoved(
  reader: AsyncMessageSource,
  walls: Array<[number, number]>,
  moved: Array<[number, number]>,
  singleCursor: boolean,
): Promise<Record<string, { posts: Message[] }> | null> {
  if (singleCursor) {
    // One query, one snapshot, every wall of the stream: see PollTask.singleCursor.
    const posts = await reader.messagesAfterOnWalls(
      walls.map(([wallId]) => wallId),
      Math.min(...walls.map(([, after]) => after)),
      BATCH_LIMIT,
    );
    if (posts.length === 0) return null;
    const byWall: Record<string, { posts: Message[] }> = {};
    for (const post of posts) (byWall[post.wall_id] ??= { posts: [] }).posts.push(post);
    return byWall;
  }
  const cursorOf = (wallId: number): number => walls.find(([id]) => id === wallId)![1];
  const reads = await Promise.all(moved.map(([wallId]) => reader.messagesAfter(wallId, cursorOf(wallId), BATCH_LIMIT)));
  let found: Record<string, { posts: Message[] }> | null = null;
  reads.forEach((posts, index) => {
    if (posts.length > 0) (found ??= {})[moved[index]![0]] = { posts };
  });
  return found;
}

/** Resolves true after `ms`, or false as soon as `signal` aborts. */
function pause(ms: number, signal: CancelSignal): Promise<boolean> {
  if (signal.aborted) return Promise.resolve(false);
  return new Promise((resolve) => {
    const timer = setTimeout(() => {
      signal.removeEventListener('abort', onAbort);
      resolve(true);
    }, Math.max(0, ms));
    const onAbort = (): void => {
      clearTimeout(timer);
      resolve(false);
    };
    signal.addEventListener('abort', onAbort, { once: true });
  });
}
