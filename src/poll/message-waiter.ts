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
import type { TaskRunner } from './task-runner.js';

/** Most messages one answer (poll reply or SSE batch) carries per wall; the client asks again for more. */
export const BATCH_LIMIT = 100;

/**
 * Wait until any of `walls` (`[wallId, lastSeenId]`) has news, `deadline`
 * (epoch ms) passes, or `signal` aborts. `singleCursor`: see PollTask.
 */
export type MessageWaiter = (
  walls: Array<[number, number]>,
  deadline: number,
  signal: AbortSignal,
  singleCursor?: boolean,
) => Promise<PollOutcome>;

export function createMessageWaiter(config: Config, board: Board, reader: MessageSource, runner: TaskRunner): MessageWaiter {
  // The quick look below can't be cancelled mid-way, so it shares one cell
  // that is never raised; a task gets a cell of its own only if it must wait.
  const neverCancelled = createCancelCell();
  return async (walls, deadline, signal, singleCursor = false) => {
    const look: PollTask = {
      walls,
      // 0: look once, never block the main thread.
      deadline: 0,
      singleCursor,
      wake: config.wake,
      intervalMs: config.pollIntervalMs,
      limit: BATCH_LIMIT,
      cancel: neverCancelled,
    };
    const now = waitForMessagesSync(look, board, reader);
    if (now.outcome === 'data' || deadline <= Date.now()) return now;
    const task: PollTask = { ...look, deadline, cancel: createCancelCell() };
    return runner.poll(task, signal);
  };
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
): MessageWaiter {
  return async (walls, deadline, signal, singleCursor = false) => {
    const after = new Map(walls);
    const seen = new Map(walls);
    for (;;) {
      // Board ids are taken before the read: a message landing during it moves them again.
      const current = [...seen.keys()].map((wallId): [number, number] => [wallId, board.newest(wallId)]);
      const moved = current.filter(([wallId, newest]) => newest > seen.get(wallId)!);
      if (moved.length > 0) {
        let found: Record<string, { posts: Message[] }> | null;
        try {
          found = await readMoved(reader, after, moved, singleCursor);
        } catch (error) {
          if (!(error instanceof DatabaseUnavailableError)) throw error;
          if (!(await pause(Math.min(UNAVAILABLE_RETRY_MS, deadline - Date.now()), signal))) {
            return { outcome: 'cancelled' };
          }
          if (Date.now() >= deadline) return { outcome: 'timeout' };
          continue;
        }
        if (found) return { outcome: 'data', walls: found };
        // Read at these board ids and found nothing: only a further move can bring news.
        for (const [wallId, newest] of singleCursor ? current : moved) seen.set(wallId, newest);
      }
      if (signal.aborted) return { outcome: 'cancelled' };
      if (deadline <= Date.now()) return { outcome: 'timeout' };
      const task: PollTask = {
        walls,
        seen: [...seen],
        boardOnly: true,
        deadline,
        singleCursor,
        wake: config.wake,
        intervalMs: config.pollIntervalMs,
        limit: BATCH_LIMIT,
        cancel: createCancelCell(),
      };
      const outcome = await runner.poll(task, signal);
      if (outcome.outcome !== 'moved') return outcome;
    }
  };
}

async function readMoved(
  reader: AsyncMessageSource,
  after: Map<number, number>,
  moved: Array<[number, number]>,
  singleCursor: boolean,
): Promise<Record<string, { posts: Message[] }> | null> {
  if (singleCursor) {
    // One query, one snapshot, every wall of the stream: see PollTask.singleCursor.
    const posts = await reader.messagesAfterOnWalls([...after.keys()], Math.min(...after.values()), BATCH_LIMIT);
    if (posts.length === 0) return null;
    const walls: Record<string, { posts: Message[] }> = {};
    for (const post of posts) (walls[post.wall_id] ??= { posts: [] }).posts.push(post);
    return walls;
  }
  const reads = await Promise.all(moved.map(([wallId]) => reader.messagesAfter(wallId, after.get(wallId)!, BATCH_LIMIT)));
  let found: Record<string, { posts: Message[] }> | null = null;
  reads.forEach((posts, index) => {
    if (posts.length > 0) (found ??= {})[moved[index]![0]] = { posts };
  });
  return found;
}

/** Resolves true after `ms`, or false as soon as `signal` aborts. */
function pause(ms: number, signal: AbortSignal): Promise<boolean> {
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
