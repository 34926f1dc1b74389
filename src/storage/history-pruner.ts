/**
 * Keeps each wall's history bounded (HISTORY_MAX_PER_WALL, HISTORY_MAX_AGE_S)
 * in the background, beside the session pruner. Each run:
 *
 * 1. reads every wall's floor, newest and oldest ids (`historyOverview`: a few
 *    index probes per wall) and hands the floors to this process's copy;
 * 2. at most once per tick, raises the floor of each wall whose policy lets
 *    messages go: one small UPDATE, never lowering it;
 * 3. deletes, in one bounded batch, messages at or below floors this process
 *    read at least HISTORY_GRACE_MS ago (`history-floors.ts` says why the
 *    grace makes every gap visible to every process before it exists).
 *
 * While batches come back full it goes on after a short pause, otherwise it
 * waits a tick. Every process of a cluster prunes: a raise only raises, and
 * a delete below a committed floor removes what is not there any more at
 * worst, so running it twice, or in two processes at once, is harmless.
 */
import type { Config } from '../config.js';
import { HISTORY_GRACE_MS, HistoryFloors, type HistoryFloorsHooks } from './history-floors.js';
import type { WallHistory } from './history-sql.js';
import type { Storage } from './storage.js';

/** Rows one run deletes at most: one short write lock on SQLite, one small statement on PostgreSQL. */
export const HISTORY_BATCH = 500;
/** Messages past a wall's floor one age check looks at; a longer backlog moves on at the next tick. */
const AGE_SCAN = 10_000;
const TICK_MS = 1000;
/** Pause between full batches, so a backlog never holds the main thread or the table for long. */
const BACKLOG_PAUSE_MS = 100;

/** What a wall may keep; both off means no pruner runs. */
export interface HistoryLimits {
  /** Newest messages kept per wall; 0: no cap. */
  maxPerWall: number;
  /** Oldest message kept, by age; null: no age limit. */
  maxAgeMs: number | null;
}

export interface HistoryPrunerHooks {
  onPruned(count: number): void;
  onError(error: unknown): void;
}

export interface HistoryRun {
  /** Walls whose floor this run raised. */
  raised: number;
  deleted: number;
}

type HistoryStore = Pick<Storage, 'historyFloors' | 'historyOverview' | 'raiseHistoryFloor' | 'pruneHistory'>;

export class HistoryPruner {
  readonly #store: HistoryStore;
  readonly #floors: HistoryFloors;
  readonly #limits: HistoryLimits;
  readonly #hooks: HistoryPrunerHooks;
  /** Floors as read, oldest first, with when (performance.now()) the read that saw them finished. */
  readonly #seen: Array<{ at: number; floors: Map<number, number> }> = [];
  /** Per wall, the newest id at its last cap check: a wall with no new message needs none. */
  readonly #capChecked = new Map<number, number>();
  #raisedAt = Number.NEGATIVE_INFINITY;
  #timer: NodeJS.Timeout | null = null;
  #running: Promise<unknown> | null = null;
  #stopped = false;

  constructor(store: HistoryStore, floors: HistoryFloors, limits: HistoryLimits, hooks: HistoryPrunerHooks) {
    this.#store = store;
    this.#floors = floors;
    this.#limits = limits;
    this.#hooks = hooks;
  }

  /** Whether the limits prune anything at all. */
  static wanted(limits: HistoryLimits): boolean {
    return limits.maxPerWall > 0 || limits.maxAgeMs !== null;
  }

  start(): void {
    this.#schedule(0);
  }

  /** No further run starts; resolves once the one under way (if any) has finished. */
  async stop(): Promise<void> {
    this.#stopped = true;
    if (this.#timer) clearTimeout(this.#timer);
    this.#timer = null;
    await this.#running?.catch(() => {});
  }

  /**
   * One run. `now` (epoch ms) dates the age limit; `graceMs` is how old a
   * floor must be before messages under it go (tests shorten it); `raise`
   * false skips the floors (the backlog's quick runs between ticks).
   */
  async runOnce({ now = Date.now(), graceMs = HISTORY_GRACE_MS, raise = true } = {}): Promise<HistoryRun> {
    const startedAt = performance.now();
    const walls = await this.#store.historyOverview();
    const readAt = performance.now();
    this.#floors.replace(walls, startedAt);
    this.#seen.push({ at: readAt, floors: new Map(walls.map((wall) => [wall.wall_id, wall.floor])) });
    let raised = 0;
    if (raise) {
      this.#raisedAt = readAt;
      raised = await this.#raise(walls, now);
    }
    const deleted = await this.#prune(walls, readAt - graceMs);
    this.#hooks.onPruned(deleted);
    return { raised, deleted };
  }

  async #raise(walls: readonly WallHistory[], now: number): Promise<number> {
    const { maxPerWall, maxAgeMs } = this.#limits;
    const cutoffMs = maxAgeMs === null ? null : now - maxAgeMs;
    let raised = 0;
    for (const wall of walls) {
      // Ids are global, so fewer ids than the cap between floor and newest means fewer messages too.
      const overCap = maxPerWall > 0 && wall.newest - wall.floor > maxPerWall && this.#capChecked.get(wall.wall_id) !== wall.newest;
      const tooOld = cutoffMs !== null && wall.oldest_kept_at !== null && wall.oldest_kept_at < cutoffMs;
      if (!overCap && !tooOld) continue;
      const policy = { maxPerWall: overCap ? maxPerWall : 0, cutoffMs: tooOld ? cutoffMs : null, scan: AGE_SCAN };
      const floor = await this.#store.raiseHistoryFloor(wall.wall_id, wall.floor, policy);
      if (overCap) this.#capChecked.set(wall.wall_id, wall.newest);
      if (floor === null) continue;
      this.#floors.raise(wall.wall_id, floor);
      raised++;
    }
    return raised;
  }

  /** One batch under the newest floors read at or before `before`; older readings are dropped. */
  async #prune(walls: readonly WallHistory[], before: number): Promise<number> {
    let settled: { at: number; floors: Map<number, number> } | undefined;
    while (this.#seen.length > 0 && this.#seen[0]!.at <= before) settled = this.#seen.shift();
    if (!settled) return 0;
    // Kept for the next run, which may still find rows under it.
    this.#seen.unshift(settled);
    let budget = HISTORY_BATCH;
    for (const wall of walls) {
      const floor = settled.floors.get(wall.wall_id) ?? 0;
      if (wall.oldest === null || wall.oldest > floor || budget === 0) continue;
      budget -= await this.#store.pruneHistory(wall.wall_id, floor, budget);
    }
    return HISTORY_BATCH - budget;
  }

  #schedule(ms: number): void {
    if (this.#stopped) return;
    this.#timer = setTimeout(async () => {
      let full = false;
      try {
        // Floors move once a tick; the quick runs of a backlog only delete.
        const run = this.runOnce({ raise: performance.now() - this.#raisedAt >= TICK_MS - BACKLOG_PAUSE_MS });
        this.#running = run;
        full = (await run).deleted === HISTORY_BATCH;
      } catch (error) {
        this.#hooks.onError(error);
      } finally {
        this.#running = null;
      }
      this.#schedule(full ? BACKLOG_PAUSE_MS : TICK_MS);
    }, ms);
    // Never the reason a process stays alive.
    this.#timer.unref();
  }
}

/** A process's bounded history: its copy of the floors, and its pruner when HISTORY_* limits are set. */
export interface History {
  floors: HistoryFloors;
  pruner: HistoryPruner | null;
  stop(): Promise<void>;
}

/**
 * Reads the floors before the process serves (a database pruned by an
 * earlier run, or by another process, has them), then starts the pruner if
 * the config asks for one. Without one the floors are still read again when
 * a check finds them stale: other processes may prune.
 */
export async function startHistory(
  store: HistoryStore,
  config: Pick<Config, 'historyMaxPerWall' | 'historyMaxAgeS'>,
  hooks: HistoryPrunerHooks & HistoryFloorsHooks,
): Promise<History> {
  const floors = new HistoryFloors(store, hooks);
  await floors.ensureFresh();
  const limits = { maxPerWall: config.historyMaxPerWall, maxAgeMs: config.historyMaxAgeS > 0 ? config.historyMaxAgeS * 1000 : null };
  const pruner = HistoryPruner.wanted(limits) ? new HistoryPruner(store, floors, limits, hooks) : null;
  pruner?.start();
  return { floors, pruner, stop: async () => pruner?.stop() };
}
