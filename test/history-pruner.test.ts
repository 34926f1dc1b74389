/**
 * The pruner and the floors copy on their own, over a real SQLite store:
 * deletes wait out the grace, go in bounded batches, and stop when asked;
 * the copy is read again when stale and refused when it cannot be had in time.
 */
import { join } from 'node:path';
import { afterEach, describe, expect, it, onTestFinished, vi } from 'vitest';
import { FLOORS_MAX_AGE_MS, FLOORS_USABLE_MS, HISTORY_GRACE_MS, HistoryFloors } from '../src/storage/history-floors.js';
import { HISTORY_BATCH, HistoryPruner } from '../src/storage/history-pruner.js';
import type { HistoryFloor } from '../src/storage/history-sql.js';
import { SqliteStore } from '../src/storage/sqlite-store.js';
import { DatabaseUnavailableError } from '../src/storage/storage.js';
import { tempDir } from './helpers/server.js';

function openStore(): SqliteStore {
  const store = new SqliteStore(join(tempDir(), 'pollster.db'));
  onTestFinished(() => store.close());
  return store;
}

function pruner(store: SqliteStore, maxPerWall: number): { pruner: HistoryPruner; floors: HistoryFloors; pruned: number[] } {
  const floors = new HistoryFloors(store);
  const pruned: number[] = [];
  const made = new HistoryPruner(
    store,
    floors,
    { maxPerWall, maxAgeMs: null },
    {
      onPruned: (n) => pruned.push(n),
      onError: (e) => {
        throw e;
      },
    },
  );
  onTestFinished(() => made.stop());
  return { pruner: made, floors, pruned };
}

function postMany(store: SqliteStore, wallId: number, count: number): number[] {
  const demo = store.userByName('demo')!;
  return Array.from({ length: count }, (_, i) => store.postMessage(wallId, demo, `m${i}`).id);
}

afterEach(() => {
  vi.useRealTimers();
});

describe('HistoryPruner', () => {
  it('raises the floor at once but deletes under it only once the grace has passed', async () => {
    const store = openStore();
    const { pruner: history, floors } = pruner(store, 2);
    const posted = postMany(store, 3, 6);
    expect(await history.runOnce({ graceMs: 200 })).toEqual({ raised: 1, deleted: 0 });
    // Every process's copy may be up to FLOORS_MAX_AGE_MS old: the messages must outlive that.
    expect(floors.floorOf(3)).toBe(posted[3]);
    expect(await history.runOnce({ graceMs: 200 })).toEqual({ raised: 0, deleted: 0 });
    expect(store.messagesAfter(3, 0, 100).length).toBe(7);
    await new Promise((resolve) => setTimeout(resolve, 250));
    expect(await history.runOnce({ graceMs: 200 })).toEqual({ raised: 0, deleted: 5 });
    expect(store.messagesAfter(3, 0, 100).map((m) => m.id)).toEqual(posted.slice(4));
    expect(HISTORY_GRACE_MS).toBeGreaterThan(FLOORS_USABLE_MS);
  });

  it('deletes a backlog in batches of HISTORY_BATCH and leaves the kept window whole', async () => {
    const store = openStore();
    const { pruner: history, pruned } = pruner(store, 10);
    const posted = postMany(store, 3, 1200);
    await history.runOnce();
    const runs = [];
    for (let run = 0; run < 4; run++) runs.push((await history.runOnce({ graceMs: 0 })).deleted);
    // 1191 to go: the demo message and 1190 of these.
    expect(runs).toEqual([HISTORY_BATCH, HISTORY_BATCH, 191, 0]);
    expect(pruned.reduce((sum, n) => sum + n, 0)).toBe(1191);
    expect(store.messagesAfter(3, 0, 100).map((m) => m.id)).toEqual(posted.slice(-10));
    expect(store.messagesAfter(2, 0, 100).length).toBe(1);
  });

  it('runs in the background once started, and stop() leaves no run behind', async () => {
    const store = openStore();
    const { pruner: history, floors } = pruner(store, 2);
    const posted = postMany(store, 3, 5);
    history.start();
    await vi.waitFor(() => expect(floors.floorOf(3)).toBe(posted[2]), { timeout: 3000 });
    await history.stop();
    postMany(store, 3, 5);
    await new Promise((resolve) => setTimeout(resolve, 1200));
    expect(floors.floorOf(3)).toBe(posted[2]);
  });
});

describe('HistoryFloors', () => {
  it('reads the floors again only when they are older than FLOORS_MAX_AGE_MS', () => {
    vi.useFakeTimers({ toFake: ['performance'] });
    let reads = 0;
    const floors = new HistoryFloors({
      historyFloors: () => {
        reads++;
        return [{ wall_id: 2, floor: 7 }];
      },
    });
    expect(floors.ensureFresh()).toBeUndefined();
    expect(floors.ensureFresh()).toBeUndefined();
    expect(reads).toBe(1);
    expect(
      floors.gapsOf([
        [2, 5],
        [2, 7],
        [3, 0],
      ]),
    ).toEqual({ 2: { after: 5, resumed_from: 7 } });
    expect(floors.gapsOf([[2, 7]])).toBeUndefined();
    vi.advanceTimersByTime(FLOORS_MAX_AGE_MS + 1);
    floors.ensureFresh();
    expect(reads).toBe(2);
  });

  it('refuses floors that could not be read in time, as an unavailable database', async () => {
    vi.useFakeTimers({ toFake: ['performance', 'setTimeout'] });
    const slow = (): Promise<HistoryFloor[]> => new Promise((resolve) => setTimeout(() => resolve([]), FLOORS_USABLE_MS + 1));
    const floors = new HistoryFloors({ historyFloors: slow });
    const fresh = floors.ensureFresh()!;
    const failed = expect(fresh).rejects.toBeInstanceOf(DatabaseUnavailableError);
    await vi.advanceTimersByTimeAsync(FLOORS_USABLE_MS + 1);
    await failed;
  });

  it('tells a stream each gap once per floor, and resumes its one cursor only when every wall is behind', () => {
    const floors = new HistoryFloors({ historyFloors: () => [] });
    floors.ensureFresh();
    floors.raise(1, 10);
    floors.raise(2, 20);
    const told = new Map<number, number>();
    expect(floors.untold([1, 2], 5, told)).toEqual({ 1: { after: 5, resumed_from: 10 }, 2: { after: 5, resumed_from: 20 } });
    expect(floors.untold([1, 2], 5, told)).toBeUndefined();
    floors.raise(2, 30);
    expect(floors.untold([1, 2], 5, told)).toEqual({ 2: { after: 5, resumed_from: 30 } });
    expect(floors.streamResumed([1, 2], 5)).toBe(10);
    expect(floors.streamResumed([1, 2, 3], 5)).toBe(5);
  });
});
