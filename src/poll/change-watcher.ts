/**
 * Notices messages written by other connections — `npm run post`, or another
 * Pollster process — and puts them on the board. SQLite's `data_version`
 * changes only when another connection commits, so an idle check is one
 * cheap pragma. Like the original once-a-second job that refreshed the global
 * hash, it runs only while some poll is waiting.
 */
import type { Board } from '../shared/board.js';
import type { SqliteStore } from '../storage/sqlite-store.js';

export class ChangeWatcher {
  readonly #store: SqliteStore;
  readonly #board: Board;
  readonly #intervalMs: number;
  #timer: NodeJS.Timeout | null = null;
  #dataVersion = -1;
  #highestSeen = 0;

  constructor(store: SqliteStore, board: Board, intervalMs: number) {
    this.#store = store;
    this.#board = board;
    this.#intervalMs = intervalMs;
  }

  get active(): boolean {
    return this.#timer !== null;
  }

  /** Start or stop the periodic check; a start checks at once. */
  setActive(active: boolean): void {
    if (active && !this.#timer) {
      this.check();
      this.#timer = setInterval(() => this.check(), this.#intervalMs);
    } else if (!active && this.#timer) {
      clearInterval(this.#timer);
      this.#timer = null;
    }
  }

  /** Put every message committed since the last look on the board. */
  check(): void {
    const version = this.#store.dataVersion();
    if (version === this.#dataVersion) return;
    this.#dataVersion = version;
    this.refresh();
  }

  /** Read the newest id of each wall that moved, without looking at data_version. */
  refresh(): void {
    let raised = false;
    for (const { wall_id, newest } of this.#store.newestPerWallSince(this.#highestSeen)) {
      if (this.#board.raise(wall_id, newest)) raised = true;
      if (newest > this.#highestSeen) this.#highestSeen = newest;
    }
    if (raised) this.#board.notifyChange();
  }
}
