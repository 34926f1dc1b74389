/**
 * Deletes expired sessions so the table cannot grow without bound. Each run
 * deletes at most `BATCH` rows (a short write lock); while runs come back
 * full it goes on after a short pause, otherwise it sleeps a while. Every
 * process of a cluster prunes; the deletes are idempotent.
 */
import type { MaybePromise, Storage } from './storage.js';

/** Rows one run deletes at most. */
export const PRUNE_BATCH = 1000;
/** Pause between full batches, so a backlog never holds the main thread for long. */
const BACKLOG_PAUSE_MS = 100;
/** Longest sleep between runs; shorter TTLs prune more often (a quarter of the TTL, at least 1 s). */
const MAX_INTERVAL_MS = 10 * 60_000;

export interface PrunerHooks {
  onPruned(count: number): void;
  onError(error: unknown): void;
}

export class SessionPruner {
  readonly #store: Pick<Storage, 'pruneSessions'>;
  readonly #intervalMs: number;
  readonly #hooks: PrunerHooks;
  #timer: NodeJS.Timeout | null = null;
  #stopped = false;

  constructor(store: Pick<Storage, 'pruneSessions'>, sessionTtlS: number, hooks: PrunerHooks) {
    this.#store = store;
    this.#intervalMs = Math.min(MAX_INTERVAL_MS, Math.max(1000, (sessionTtlS * 1000) / 4));
    this.#hooks = hooks;
  }

  start(): void {
    this.#schedule(this.#intervalMs);
  }

  stop(): void {
    this.#stopped = true;
    if (this.#timer) clearTimeout(this.#timer);
    this.#timer = null;
  }

  /** One bounded run; returns how many sessions it deleted (SQLite at once, PostgreSQL as a promise). */
  runOnce(): MaybePromise<number> {
    const pruned = this.#store.pruneSessions(PRUNE_BATCH);
    if (typeof pruned !== 'number') {
      return pruned.then((count) => {
        this.#hooks.onPruned(count);
        return count;
      });
    }
    this.#hooks.onPruned(pruned);
    return pruned;
  }

  #schedule(ms: number): void {
    if (this.#stopped) return;
    this.#timer = setTimeout(async () => {
      let count = 0;
      try {
        count = await this.runOnce();
      } catch (error) {
        this.#hooks.onError(error);
      }
      this.#schedule(count === PRUNE_BATCH ? BACKLOG_PAUSE_MS : this.#intervalMs);
    }, ms);
    // Never the reason a process stays alive.
    this.#timer.unref();
  }
}
