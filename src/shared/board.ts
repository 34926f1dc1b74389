/**
 * The "global hash" of the original Sinatra design — the newest message id per
 * wall — kept in a SharedArrayBuffer that every worker thread sees. A writer
 * raises a wall's id, bumps that wall's wake counter and the generation, and
 * `Atomics.notify`s them, which wakes the waiting polls at once instead of
 * after a 0.5 s sleep.
 *
 * Layout (Int32Array):
 *   [0]                    generation: bumped on every change
 *   [1]                    worker threads that have loaded the task module (ever)
 *   [2 + 2s]               newest message id of the walls hashed to slot s
 *   [2 + 2s + 1]           wake counter of slot s
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
const CELLS = FIRST_SLOT + 2 * WALL_SLOTS;

function newestCell(wallId: number): number {
  return FIRST_SLOT + 2 * (wallId % WALL_SLOTS);
}

function wakeCell(wallId: number): number {
  return newestCell(wallId) + 1;
}

export class Board {
  readonly cells: Int32Array;

  constructor(buffer: SharedArrayBuffer = new SharedArrayBuffer(CELLS * Int32Array.BYTES_PER_ELEMENT)) {
    if (buffer.byteLength !== CELLS * Int32Array.BYTES_PER_ELEMENT) {
      throw new RangeError(`board buffer must be ${CELLS * Int32Array.BYTES_PER_ELEMENT} bytes`);
    }
    this.cells = new Int32Array(buffer);
  }

  get buffer(): SharedArrayBuffer {
    return this.cells.buffer as SharedArrayBuffer;
  }

  /** The highest message id known for this wall (or a wall sharing its slot). */
  newest(wallId: number): number {
    return Atomics.load(this.cells, newestCell(wallId));
  }

  /**
   * Record a new message id and wake the polls waiting on this wall alone;
   * follow with `notifyChange()` to wake the polls that watch several walls.
   */
  raise(wallId: number, messageId: number): boolean {
    const cell = newestCell(wallId);
    for (;;) {
      const current = Atomics.load(this.cells, cell);
      if (messageId <= current) return false;
      if (Atomics.compareExchange(this.cells, cell, current, messageId) === current) {
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
