/**
 * Identical waits share one pool task. Ten thousand clients that
 * saw the same last message on the same walls ask the same question; one task
 * asks it, and its one answer — one result message from the thread, cut to
 * size once — goes to every request riding on it.
 *
 * Each request still behaves as if it had a task of its own:
 * - it counts toward admission (503 past capacity + MAX_QUEUE) and
 *   `waiting_polls` (TaskRunner.ride), and its fair share is taken by the
 *   caller as before;
 * - its timeout is its own: a request whose deadline comes before the shared
 *   task's answers `timeout` on a timer of its own, and one whose deadline is
 *   later waits again when the shared task times out;
 * - a request whose client leaves is answered `cancelled` and leaves; the
 *   task is cancelled once the last request on it has left.
 */
import { createCancelCell } from '../shared/board.js';
import type { PollOutcome, PollTask } from '../shared/types.js';
import type { CancelSignal } from './departure.js';
import type { TaskRunner } from './task-runner.js';
import type { Release } from './wait-limits.js';

interface SharedWait {
  key: string;
  deadline: number;
  members: Set<Member>;
  /** Aborting it tells the runner that nobody wants the answer any more. */
  stop: AbortController;
  /** Take `member` off this wait (one function per shared wait, not per request). */
  leave: (member: Member) => void;
}

/**
 * What a shared answer becomes before it is handed out, once for all: data
 * cut to size, or (PostgreSQL) a board-only task's `moved` turned into the
 * messages, read once for everyone on the wait.
 */
export type Shape = (outcome: PollOutcome, task: PollTask) => PollOutcome | Promise<PollOutcome>;

const CANCELLED: PollOutcome = { outcome: 'cancelled' };

/**
 * One request on a shared wait, from its start to its answer, across
 * shared tasks when it outlives one. It is its own abort listener, its timer
 * gets it as an argument, and it settles the request's one promise, so a
 * held request costs this object rather than a suspended async function and
 * a handful of closures (memory per held poll).
 */
class Member {
  wait: SharedWait | undefined;
  timer: NodeJS.Timeout | undefined;

  constructor(
    readonly key: string,
    readonly task: PollTask,
    readonly signal: CancelSignal,
    readonly shape: Shape,
    /** The request's fair share, given back with its answer. */
    readonly release: Release | undefined,
    readonly resolve: (outcome: PollOutcome) => void,
    readonly reject: (error: unknown) => void,
  ) {}

  settle(outcome: PollOutcome): void {
    this.detach();
    this.release?.();
    this.resolve(outcome);
  }

  fail(error: unknown): void {
    this.detach();
    this.release?.();
    this.reject(error);
  }

  /** The request's signal aborted: its client left (or logged out). */
  handleEvent(): void {
    this.wait!.leave(this);
    this.settle(CANCELLED);
  }

  detach(): void {
    clearTimeout(this.timer);
    this.timer = undefined;
    this.signal.removeEventListener('abort', this);
  }
}

/** A request whose deadline comes before its shared task's answers on its own. */
function timedOut(member: Member): void {
  member.wait!.leave(member);
  member.settle({ outcome: 'timeout' });
}

/**
 * Answers on one shared wait are settled a slice at a time. Settling a
 * request queues its route's continuation, which writes its answer; with all
 * ten thousand settled first, the first answer waited for the last settle.
 * The next slice is a microtask queued behind the continuations the last one
 * queued, so the writes follow each slice. It all runs in one microtask
 * checkpoint, where no socket event or timer can come in between: a request
 * cannot leave (and be settled a second time) while it waits for its slice.
 */
const HAND_OUT_SLICE = 64;

function handOut(members: Member[], answer: (member: Member) => void, from: number): void {
  const end = Math.min(from + HAND_OUT_SLICE, members.length);
  for (let i = from; i < end; i++) answer(members[i]!);
  if (end < members.length) queueMicrotask(() => handOut(members, answer, end));
}

/** Waits with the same key get the same answer: walls and cursors, and everything else the task reads by. */
export function waitKey(task: PollTask): string {
  const walls = task.walls.map(([wallId, after]) => `${wallId}:${after}`).sort();
  // A board-only wait (PostgreSQL) also answers by its thresholds.
  const seen = task.boardOnly
    ? `|b|${(task.seen ?? [])
        .map(([wallId, newest]) => `${wallId}:${newest}`)
        .sort()
        .join(',')}`
    : '';
  return `${task.singleCursor ? 's' : 'w'}|${task.limit}|${task.wake}|${task.intervalMs}|${walls.join(',')}${seen}`;
}

export interface CoalescerStats {
  /** Shared tasks now waiting (queued or running). */
  shared_waits: number;
  /** Requests now riding on a task another request started. */
  riders: number;
  /** Requests ever answered from a task another request started. */
  coalesced: number;
}

export class WaitCoalescer {
  readonly #runner: TaskRunner;
  readonly #waits = new Map<string, SharedWait>();
  #riders = 0;
  #coalesced = 0;

  constructor(runner: TaskRunner) {
    this.#runner = runner;
  }

  /**
   * Resolves as `runner.poll(task, signal)` would, through a shared task.
   * `shape` runs once per shared answer (with data) before it is handed out.
   * `release` (the request's fair share) runs when its answer is settled.
   * `task.cancel` is not used: a shared task gets a cell of its own.
   */
  poll(task: PollTask, signal: CancelSignal, shape: Shape, release?: Release): Promise<PollOutcome> {
    if (signal.aborted) {
      release?.();
      return Promise.resolve(CANCELLED);
    }
    return new Promise<PollOutcome>((resolve, reject) => {
      this.#join(new Member(waitKey(task), task, signal, shape, release, resolve, reject));
    });
  }

  stats(): CoalescerStats {
    return { shared_waits: this.#waits.size, riders: this.#riders, coalesced: this.#coalesced };
  }

  /** Put `member` on the shared wait for its key, starting one if there is none. */
  #join(member: Member): void {
    let wait = this.#waits.get(member.key);
    try {
      // Throws 503 (or "shutting down") exactly where a task of its own would be refused.
      if (wait) {
        this.#runner.ride();
        this.#riders++;
        this.#coalesced++;
      } else {
        wait = this.#start(member.key, { ...member.task, cancel: createCancelCell() }, member.shape);
      }
    } catch (error) {
      member.fail(error);
      return;
    }
    member.wait = wait;
    wait.members.add(member);
    member.signal.addEventListener('abort', member, { once: true });
    if (member.task.deadline < wait.deadline) member.timer = setTimeout(timedOut, member.task.deadline - Date.now(), member);
  }

  #start(key: string, task: PollTask, shape: Shape): SharedWait {
    const wait: SharedWait = {
      key,
      deadline: task.deadline,
      members: new Set(),
      stop: new AbortController(),
      leave: (member) => this.#leave(wait, member),
    };
    this.#waits.set(key, wait);
    this.#runner.poll(task, wait.stop.signal).then(
      (outcome) => this.#shapeAndEnd(wait, task, shape, outcome),
      (error: unknown) => this.#end(wait, (member) => member.fail(error)),
    );
    return wait;
  }

  /** Shaped once, for everyone: the same object, so its bytes can be shared too. */
  #shapeAndEnd(wait: SharedWait, task: PollTask, shape: Shape, outcome: PollOutcome): void {
    if (outcome.outcome !== 'data' && outcome.outcome !== 'moved') {
      this.#end(wait, (member) => this.#answer(member, outcome));
      return;
    }
    let shaped: PollOutcome | Promise<PollOutcome>;
    try {
      shaped = shape(outcome, task);
    } catch (error) {
      this.#end(wait, (member) => member.fail(error));
      return;
    }
    if (!(shaped instanceof Promise)) {
      this.#end(wait, (member) => this.#answer(member, shaped));
      return;
    }
    // Requests that join meanwhile ask the same question: they get this answer too.
    shaped.then(
      (shared) => this.#end(wait, (member) => this.#answer(member, shared)),
      (error: unknown) => this.#end(wait, (member) => member.fail(error)),
    );
  }

  #end(wait: SharedWait, answer: (member: Member) => void): void {
    if (this.#waits.get(wait.key) === wait) this.#waits.delete(wait.key);
    if (wait.stop.signal.aborted) return;
    // The task's own count went with it; the riders' go now, before anyone is answered.
    const members = [...wait.members];
    wait.members.clear();
    this.#unride(members.length - 1);
    handOut(members, answer, 0);
  }

  #answer(member: Member, outcome: PollOutcome): void {
    // The shared task's deadline came first: this request waits on, as it would have.
    if (outcome.outcome === 'timeout' && Date.now() < member.task.deadline && !member.signal.aborted) {
      member.detach();
      this.#join(member);
      return;
    }
    member.settle(outcome);
  }

  #leave(wait: SharedWait, member: Member): void {
    if (!wait.members.delete(member)) return;
    if (wait.members.size > 0) {
      // Someone else still wants the answer: one count fewer, the task goes on.
      this.#unride(1);
      return;
    }
    if (this.#waits.get(wait.key) === wait) this.#waits.delete(wait.key);
    wait.stop.abort();
  }

  #unride(count: number): void {
    if (count === 0) return;
    this.#runner.unride(count);
    this.#riders -= count;
  }
}
