/**
 * Notices messages written by other connections — `npm run post`, or another
 * Pollster process — and puts them on the board. SQLite's `data_version`
 * changes only when another connection commits, so an idle check is one
 * cheap pragma. Like the original once-a-second job that refreshed the global
 * hash, it runs only while some poll is waiting.
 *
 * The same look reads the `changes` log past its last row — sessions ended,
 * walls made private or deleted, members removed, by any process or the
 * admin CLI — and hands each change on (to `http/held-waits.ts`).
 */
import type { Board } from '../shared/board.js';
import { type AccessChange, changeOfRow } from '../storage/changes.js';
import type { SqliteStore } from '../storage/sqlite-store.js';

export class ChangeWatcher {
  readonly #store: SqliteStore;
  readonly #board: Board;
  readonly #intervalMs: number;
  #timer: NodeJS.Timeout | null = null;
  #dataVersion = -1;
  #highestSeen = 0;
  #lastChange: number;
  #onChange: (change: AccessChange) => void = () => {};

  constructor(store: SqliteStore, board: Board, intervalMs: number) {
    this.#store = store;
    this.#board = board;
    this.#intervalMs = intervalMs;
    // Changes logged before this process started concern no wait of its own.
    this.#lastChange = store.admin.lastChangeId();
  }

  /** Where the changes of access go. */
  onChange(handler: (change: AccessChange) => void): void {
    this.#onChange = handler;
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
    this.readChanges();
  }

  /**
   * Hand on every change logged since the last look: after another
   * connection committed (`check`), or right after this process's own write,
   * which `data_version` does not show it.
   */
  readChanges(): void {
    for (const row of this.#store.admin.changesSince(this.#lastChange)) {
      this.#lastChange = row.id;
      const change = changeOfRow(row);
      if (change) this.#onChange(change);
    }
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
