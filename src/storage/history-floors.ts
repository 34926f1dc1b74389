/**
 * This process's copy of every wall's history floor, and the check a poll, a
 * stream batch and a history read make against it before they read and
 * again before they answer: a cursor below its wall's floor has missed
 * messages, and the client is told so instead of silently skipping them.
 *
 * Why a copy is enough, in this process or any other of a cluster: a check
 * uses floors read at most FLOORS_MAX_AGE_MS earlier (`ensureFresh` reads
 * them again when they are older, and refuses past FLOORS_USABLE_MS), and the
 * pruner deletes a message only HISTORY_GRACE_MS after a floor covering it
 * was committed — longer than both. So any message an answer's read could
 * have missed has its floor in the copy by the time that answer is checked.
 * Intervals are measured on each process's monotonic clock; hosts' wall
 * clocks never meet.
 */
import type { HistoryGap } from '../shared/types.js';
import type { HistoryFloor } from './history-sql.js';
import { DatabaseUnavailableError, type MaybePromise, type Storage } from './storage.js';

/** Floors older than this are read again before a check uses them. */
export const FLOORS_MAX_AGE_MS = 2000;
/** Floors older than this (a read that took too long) are not used at all: the request fails as if the database were down. */
export const FLOORS_USABLE_MS = 3500;
/** How long after a floor is committed the pruner may delete below it: above FLOORS_USABLE_MS. */
export const HISTORY_GRACE_MS = 5000;

export type HistoryGaps = Record<string, HistoryGap>;

export interface HistoryFloorsHooks {
  /** Gaps told to clients (per wall), for the metrics. */
  onGaps?(count: number): void;
}

export class HistoryFloors {
  readonly #store: Pick<Storage, 'historyFloors'>;
  readonly #hooks: HistoryFloorsHooks;
  readonly #floors = new Map<number, number>();
  /** performance.now() when the newest complete read of all floors began. */
  #readAt = Number.NEGATIVE_INFINITY;
  #reading: { startedAt: number; done: Promise<void> } | null = null;

  constructor(store: Pick<Storage, 'historyFloors'>, hooks: HistoryFloorsHooks = {}) {
    this.#store = store;
    this.#hooks = hooks;
  }

  /**
   * Makes the copy fresh enough for a check: nothing to wait for in the
   * common case (undefined), a read on SQLite done at once, a promise on
   * PostgreSQL. Rejects with DatabaseUnavailableError when floors cannot be
   * had recently enough.
   */
  ensureFresh(): Promise<void> | undefined {
    const now = performance.now();
    if (now - this.#readAt <= FLOORS_MAX_AGE_MS) return undefined;
    let reading = this.#reading;
    if (!reading || now - reading.startedAt > FLOORS_MAX_AGE_MS) {
      const read = this.#read(now);
      if (!read) return undefined;
      reading = this.#reading = { startedAt: now, done: read };
      const started = reading;
      void read.then(
        () => this.#reading === started && (this.#reading = null),
        () => this.#reading === started && (this.#reading = null),
      );
    }
    return reading.done.then(() => {
      if (performance.now() - this.#readAt > FLOORS_USABLE_MS) throw new DatabaseUnavailableError('history floors unavailable');
    });
  }

  #read(startedAt: number): Promise<void> | undefined {
    const floors: MaybePromise<HistoryFloor[]> = this.#store.historyFloors();
    if (!(floors instanceof Promise)) {
      this.replace(floors, startedAt);
      return undefined;
    }
    return floors.then((read) => this.replace(read, startedAt));
  }

  /**
   * Every floor, read by a query that began at `startedAt` (performance.now()).
   * A wall missing from it has none (deleted, or never pruned).
   */
  replace(floors: readonly HistoryFloor[], startedAt: number): void {
    const previous = new Map(this.#floors);
    this.#floors.clear();
    // A raise this process committed after the read began is kept.
    for (const { wall_id, floor } of floors) this.#floors.set(wall_id, Math.max(floor, previous.get(wall_id) ?? 0));
    this.#readAt = Math.max(this.#readAt, startedAt);
  }

  /** A floor this process just raised (committed). */
  raise(wallId: number, floor: number): void {
    if (floor > (this.#floors.get(wallId) ?? 0)) this.#floors.set(wallId, floor);
  }

  floorOf(wallId: number): number {
    return this.#floors.get(wallId) ?? 0;
  }

  /** The walls of `cursors` (`[wallId, after]`) whose cursor is below the floor; undefined (no allocation) when none is. */
  gapsOf(cursors: ReadonlyArray<readonly [number, number]>): HistoryGaps | undefined {
    if (this.#floors.size === 0) return undefined;
    let gaps: HistoryGaps | undefined;
    for (const [wallId, after] of cursors) {
      const floor = this.#floors.get(wallId);
      if (floor !== undefined && after < floor) (gaps ??= {})[wallId] = { after, resumed_from: floor };
    }
    return gaps;
  }

  /**
   * The gaps of `cursors` against floors fresh enough to answer with: the
   * check after a read, which catches a floor raised while the request waited.
   */
  checked(cursors: ReadonlyArray<readonly [number, number]>): MaybePromise<HistoryGaps | undefined> {
    const fresh = this.ensureFresh();
    return fresh ? fresh.then(() => this.gapsOf(cursors)) : this.gapsOf(cursors);
  }

  /** `cursors` with each one below its wall's floor moved up to it: where a read resumes. */
  resumed(cursors: ReadonlyArray<[number, number]>): Array<[number, number]> {
    return cursors.map(([wallId, after]) => [wallId, Math.max(after, this.floorOf(wallId))]);
  }

  /**
   * A stream's gaps at its one cursor that it has not told yet at these
   * floors, against fresh floors; `told` (wall → floor told) is updated.
   * Undefined when there is none.
   */
  untold(wallIds: readonly number[], cursor: number, told: Map<number, number>): MaybePromise<HistoryGaps | undefined> {
    const fresh = this.ensureFresh();
    if (fresh) return fresh.then(() => this.#untold(wallIds, cursor, told));
    return this.#untold(wallIds, cursor, told);
  }

  #untold(wallIds: readonly number[], cursor: number, told: Map<number, number>): HistoryGaps | undefined {
    const gaps = this.gapsOf(wallIds.map((wallId) => [wallId, cursor]));
    if (!gaps) return undefined;
    let untold: HistoryGaps | undefined;
    for (const [key, gap] of Object.entries(gaps)) {
      if ((told.get(Number(key)) ?? -1) >= gap.resumed_from) continue;
      told.set(Number(key), gap.resumed_from);
      (untold ??= {})[key] = gap;
    }
    return untold;
  }

  /**
   * Where a stream's one cursor resumes: the lowest floor of its walls, when
   * every wall's floor is above it (below that, each wall's messages are in
   * its gap); else where it is, and it reads what is left of the gaps.
   */
  streamResumed(wallIds: readonly number[], cursor: number): number {
    return Math.max(cursor, Math.min(...wallIds.map((wallId) => this.floorOf(wallId))));
  }

  /** Gaps are about to be sent to a client. */
  told(gaps: HistoryGaps): void {
    this.#hooks.onGaps?.(Object.keys(gaps).length);
  }
}
