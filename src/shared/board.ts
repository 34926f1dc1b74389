/**
 * The "global hash" of the original Sinatra design — the newest message id per
 * wall — kept in a SharedArrayBuffer that every worker thread sees. A writer
 * raises a wall's id, bumps that wall's wake counter and the generation, and
 * `Atomics.notify`s them, which wakes the waiting polls at once instead of
 * after a 0.5 s sleep.
 *
 * Layout, one SharedArrayBuffer in two views:
 *   cells (Int32Array), from byte 0:
 *     [0]                  generation: bumped on every change
 *     [1]                  worker threads that have loaded the task module (ever)
 *     [2 + s]              wake counter of slot s
 *   newestIds (BigInt64Array), after the counters (8-byte aligned):
 *     [s]                  newest message id of the walls hashed to slot s
 *
 * Ids are 64-bit (PostgreSQL's `bigint`, SQLite's INTEGER) and leave the board
 * as JS numbers, exact up to 2^53−1; counters stay 32-bit because they only
 * need to change, and wrapping around is harmless.
 *
 * Walls share a slot when `wallId % SLOTS` collides; a shared slot holds the
 * highest id of its walls, so a collision can only cause an extra database
 * check, never a missed message.
 *
 * A poll blocks on one cell (Atomics.wait watches only one): a poll on a single
 * wall on that wall's wake counter, so posts to other walls don't wake it; a
 * poll on several walls on the generation. Waking always *changes* the cell
 * before notifying, so a waiter that reads the cell, checks its walls and its
 * cancel flag, and only then blocks can never miss a wake-up in between.
 */

const GENERATION = 0;
const LOADED_WORKERS = 1;
const FIRST_SLOT = 2;
export const WALL_SLOTS = 4096;
const COUNTER_CELLS = FIRST_SLOT + WALL_SLOTS;
/** Counters padded to a multiple of 8 bytes, so the 64-bit view is aligned. */
const COUNTER_BYTES = Math.ceil((COUNTER_CELLS * Int32Array.BYTES_PER_ELEMENT) / 8) * 8;
export const BOARD_BYTES = COUNTER_BYTES + WALL_SLOTS * BigInt64Array.BYTES_PER_ELEMENT;

function slot(wallId: number): number {
  return wallId % WALL_SLOTS;
}

function wakeCell(wallId: number): number {
  return FIRST_SLOT + slot(wallId);
}

export class Board {
  /** The 32-bit counters polls block on (see the layout above). */
  readonly cells: Int32Array;
  readonly #newestIds: BigInt64Array;

  constructor(buffer: SharedArrayBuffer = new SharedArrayBuffer(BOARD_BYTES)) {
    if (buffer.byteLength !== BOARD_BYTES) {
      throw new RangeError(`board buffer must be ${BOARD_BYTES} bytes`);
    }
    this.cells = new Int32Array(buffer, 0, COUNTER_CELLS);
    this.#newestIds = new BigInt64Array(buffer, COUNTER_BYTES, WALL_SLOTS);
  }

  get buffer(): SharedArrayBuffer {
    return this.cells.buffer as SharedArrayBuffer;
  }

  /** The highest message id known for this wall (or a wall sharing its slot). */
  newest(wallId: number): number {
    return Number(Atomics.load(this.#newestIds, slot(wallId)));
  }

  /**
   * Record a new message id and wake the polls waiting on this wall alone;
   * follow with `notifyChange()` to wake the polls that watch several walls.
   */
  raise(wallId: number, messageId: number): boolean {
    const cell = slot(wallId);
    const id = BigInt(messageId);
    for (;;) {
      const current = Atomics.load(this.#newestIds, cell);
      if (id <= current) return false;
      if (Atomics.compareExchange(this.#newestIds, cell, current, id) === current) {
        this.#bumpAndNotify(wakeCell(wallId));
        return true;
      }
    }
  }

  /** Wake the polls that watch several walls. */
  notifyChange(): void {
    this.#bumpAndNotify(GENERATION);
  }

  publish(wallId: number, messageId: number): void {
    if (this.raise(wallId, messageId)) this.notifyChange();
  }

  /** The cell a poll on `wallIds` blocks on. */
  waitCell(wallIds: readonly number[]): number {
    return wallIds.length === 1 ? wakeCell(wallIds[0]!) : GENERATION;
  }

  /** Wake the polls on these walls without news, so each re-reads its cancel flag. */
  wake(wallIds: readonly number[]): void {
    this.#bumpAndNotify(this.waitCell(wallIds));
  }

  /** A worker thread calls this once its module (and database) is ready. */
  markWorkerLoaded(): void {
    Atomics.add(this.cells, LOADED_WORKERS, 1);
  }

  loadedWorkers(): number {
    return Atomics.load(this.cells, LOADED_WORKERS);
  }

  #bumpAndNotify(cell: number): void {
    Atomics.add(this.cells, cell, 1);
    Atomics.notify(this.cells, cell);
  }
}

/** A per-task cancellation cell, shared (not copied) when sent to a worker. */
export function createCancelCell(): Int32Array {
  return new Int32Array(new SharedArrayBuffer(Int32Array.BYTES_PER_ELEMENT));
}

export function isCancelled(cell: Int32Array): boolean {
  return Atomics.load(cell, 0) !== 0;
}

export function cancel(cell: Int32Array): void {
  Atomics.store(cell, 0, 1);
  Atomics.notify(cell, 0);
}
