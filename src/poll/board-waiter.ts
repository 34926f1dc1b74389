/**
 * The waiter for PostgreSQL: the pool waits on the board, the main thread
 * reads the messages.
 */
import type { Config } from '../config.js';
import { type Board, createCancelCell } from '../shared/board.js';
import type { Message, PollOutcome, PollTask } from '../shared/types.js';
import { DatabaseUnavailableError } from '../storage/storage.js';
import type { CancelSignal } from './departure.js';
import { BATCH_LIMIT, boundBytes, type MessageWaiter, NEVER_CANCELLED } from './message-waiter.js';
import type { TaskRunner } from './task-runner.js';
import type { Shape, WaitCoalescer } from './wait-coalescer.js';
import type { Release } from './wait-limits.js';

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
  const deps: BoardWaitDeps = { config, board, reader, runner, coalescer, shape: readOnceForAll(board, reader) };
  return (walls, { deadline, signal, kind, admit }) => waitOnBoard(deps, walls, deadline, signal, kind === 'stream', admit);
}

interface BoardWaitDeps {
  config: Config;
  board: Board;
  reader: AsyncMessageSource;
  runner: TaskRunner;
  coalescer: WaitCoalescer | undefined;
  shape: Shape;
}

/**
 * `walls` holds each wall's cursor (what the client has seen); `seen` each
 * wall's board id already read without news for this request. Plain pairs,
 * not Maps: a request waits on a few walls, and a Map costs every held poll
 * its hash table (memory per held poll).
 */
async function waitOnBoard(
  { config, board, reader, runner, coalescer, shape }: BoardWaitDeps,
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
      const outcome = coalescer ? await coalescer.poll(task, signal, shape) : await runner.poll(task, signal);
      if (outcome.outcome !== 'moved') return outcome;
    }
  } finally {
    release?.();
  }
}

/**
 * A shared board wait's `moved`, read once for everyone on it: they share its
 * key — walls, cursors and thresholds — so they would all read the same
 * thing, and the coalescer hands the answer out a slice at a time, the first
 * answers written before the rest are settled (as SQLite's shared tasks do).
 * Nothing new (a shared board slot) or the database unavailable: `moved`
 * goes to each request, which reads or retries in its own loop above.
 */
function readOnceForAll(board: Board, reader: AsyncMessageSource): Shape {
  return async (outcome, task) => {
    if (outcome.outcome !== 'moved') return outcome;
    const moved = (task.seen ?? []).filter(([wallId, threshold]) => board.newest(wallId) > threshold);
    if (moved.length === 0) return outcome;
    try {
      const found = await readMoved(reader, task.walls, moved, task.singleCursor ?? false);
      return found ? boundBytes({ outcome: 'data', walls: found }, task.singleCursor ?? false) : outcome;
    } catch (error) {
      if (error instanceof DatabaseUnavailableError) return outcome;
      throw error;
    }
  };
}

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
    return sharedAnswer(posts, () => {
      const byWall: Record<string, { posts: Message[] }> = {};
      for (const post of posts) (byWall[post.wall_id] ??= { posts: [] }).posts.push(post);
      return byWall;
    });
  }
  const cursorOf = (wallId: number): number => walls.find(([id]) => id === wallId)![1];
  if (moved.length === 1) {
    const [wallId] = moved[0]!;
    const posts = await reader.messagesAfter(wallId, cursorOf(wallId), BATCH_LIMIT);
    return posts.length === 0 ? null : sharedAnswer(posts, () => ({ [wallId]: { posts } }));
  }
  const reads = await Promise.all(moved.map(([wallId]) => reader.messagesAfter(wallId, cursorOf(wallId), BATCH_LIMIT)));
  let found: Record<string, { posts: Message[] }> | null = null;
  reads.forEach((posts, index) => {
    if (posts.length > 0) (found ??= {})[moved[index]![0]] = { posts };
  });
  return found;
}

/**
 * Polls woken together get the same array from the shared reads
 * (`coalesced-reads.ts`); built once per array, their answer is one object,
 * whose bytes the HTTP layer makes once (`http/answer-bytes.ts`).
 */
const answersByPosts = new WeakMap<Message[], Record<string, { posts: Message[] }>>();

function sharedAnswer(posts: Message[], build: () => Record<string, { posts: Message[] }>): Record<string, { posts: Message[] }> {
  let answer = answersByPosts.get(posts);
  if (!answer) answersByPosts.set(posts, (answer = build()));
  return answer;
}

/** Resolves true after `ms`, or false as soon as `signal` aborts. */
function pause(ms: number, signal: CancelSignal): Promise<boolean> {
  if (signal.aborted) return Promise.resolve(false);
  return new Promise((resolve) => {
    const timer = setTimeout(
      () => {
        signal.removeEventListener('abort', onAbort);
        resolve(true);
      },
      Math.max(0, ms),
    );
    const onAbort = (): void => {
      clearTimeout(timer);
      resolve(false);
    };
    signal.addEventListener('abort', onAbort, { once: true });
  });
}
