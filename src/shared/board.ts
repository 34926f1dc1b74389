/**
 * The "global hash" of the original Sinatra design — the newest message id per
 * wall — kept in a SharedArrayBuffer that every worker thread sees. A writer
 * raises a wall's id, bumps the generation counter and `Atomics.notify`s it,
 * which wakes every waiting poll at once instead of after a 0.5 s sleep.
 *
 * Layout (Int32Array):
 *   [0]                 generation: bumped on every change, the cell waiters block on
 *   [1]                 worker threads that have loaded the task module (ever)
 *   [2 .. 2 + SLOTS)    newest message id of the walls hashed to each slot
 *
 * Walls share a slot when `wallId % SLOTS` collides; a shared slot holds the
 * highest id of its walls, so a collision can only cause an extra database
 * check, never a missed message.
 *
 * A poll on one wall waits on that wall's slot, so posts to other walls do not
 * wake it; a poll on several walls waits on the generation, which every change
 * bumps (Atomics.wait watches a single cell).
 */

export const GENERATION = 0;
const LOADED_WORKERS = 1;
const FIRST_SLOT = 2;
export const WALL_SLOTS = 4096;
const CELLS = FIRST_SLOT + WALL_SLOTS;

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
    return Atomics.load(this.cells, slotOf(wallId));
  }

  /**
   * Record a new message id and wake the polls waiting on this wall alone;
   * follow with `notifyChange()` to wake the polls that watch several walls.
   */
  raise(wallId: number, messageId: number): boolean {
    const slot = slotOf(wallId);
    for (;;) {
      const current = Atomics.load(this.cells, slot);
      if (messageId <= current) return false;
      if (Atomics.compareExchange(this.cells, slot, current, messageId) === current) {
        Atomics.notify(this.cells, slot);
        return true;
      }
    }
  }

  /** The cell a poll on `wallIds` blocks on: its wall's slot, or the generation. */
  waitCell(wallIds: readonly number[]): number {
    return wallIds.length === 1 ? slotOf(wallIds[0]!) : GENERATION;
  }

  notifyChange(): void {
    Atomics.add(this.cells, GENERATION, 1);
    Atomics.notify(this.cells, GENERATION);
  }

  publish(wallId: number, messageId: number): void {
    if (this.raise(wallId, messageId)) this.notifyChange();
  }

  /** A worker thread calls this once its module (and database) is ready. */
  markWorkerLoaded(): void {
    Atomics.add(this.cells, LOADED_WORKERS, 1);
  }

  loadedWorkers(): number {
    return Atomics.load(this.cells, LOADED_WORKERS);
  }

  /** Wake the polls on these walls without a change, so each re-reads its cancel flag. */
  wake(wallIds: readonly number[]): void {
    Atomics.notify(this.cells, this.waitCell(wallIds));
  }
}

function slotOf(wallId: number): number {
  return FIRST_SLOT + (wallId % WALL_SLOTS);
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
