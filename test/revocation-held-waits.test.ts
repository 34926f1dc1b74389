/**
 * The registry every process keeps of its held polls and streams
 * (src/http/held-waits.ts), on its own: which waits a change ends, that it
 * asks the database once per wall, and the race a request can lose — its
 * checks passed, a change was applied, and only then did it register.
 */
import { describe, expect, it } from 'vitest';
import { ACCESS_CHANGED, type HeldWait, HeldWaits, heldWait } from '../src/http/held-waits.js';
import { LOGGED_OUT } from '../src/http/session-waits.js';
import { Departure } from '../src/poll/departure.js';
import type { WallReaders } from '../src/storage/admin.js';
import { sessionKey } from '../src/storage/changes.js';

const settle = (): Promise<void> => new Promise((resolve) => setImmediate(resolve));

/** A database where wall 1 is public with member 2, wall 2 private with members 1 and 2 unless `removed`; every read is counted. */
function database() {
  const reads: string[] = [];
  const removed = new Set<number>();
  let wall1Public = true;
  const checks = {
    wallReaders(wallId: number, userIds: readonly number[]): WallReaders {
      reads.push(`wall ${wallId}: ${userIds.join(',')}`);
      const members = new Set((wallId === 2 ? [1, 2] : [2]).filter((id) => userIds.includes(id) && !removed.has(id)));
      return { exists: wallId <= 2, public: wallId === 1 && wall1Public, members };
    },
    liveSessions(ids: readonly string[]): string[] {
      reads.push(`sessions: ${ids.join(',')}`);
      return ids.filter((id) => id.startsWith('live'));
    },
  };
  return { checks, reads, removed, makePrivate: () => (wall1Public = false) };
}

function wait(session: string | undefined, user: number | null, walls: number[], granted?: number[]): HeldWait {
  return heldWait(new Departure(), session, user === null ? null : { id: user, granted }, walls);
}

describe('held waits', () => {
  it('ends the waits of an ended session or a deleted user at once, and only those', () => {
    const db = database();
    const waits = new HeldWaits(db.checks, (error) => {
      throw error;
    });
    const [mine, otherSession, otherUser] = [wait('live-a', 1, [2]), wait('live-b', 1, [2]), wait('live-c', 2, [2])];
    for (const w of [mine, otherSession, otherUser]) waits.add(w, waits.epoch);
    waits.apply({ kind: 'session', userId: 1, key: sessionKey('live-a') });
    expect([mine, otherSession, otherUser].map((w) => w.departure.reason)).toEqual([LOGGED_OUT, undefined, undefined]);
    waits.apply({ kind: 'user', userId: 2 });
    expect(otherUser.departure.reason).toBe(LOGGED_OUT);
    expect(otherSession.departure.aborted).toBe(false);
    expect(db.reads).toEqual([]);
  });

  it('asks once per wall who may still read it, and ends only the others (members, grants and other walls stay)', async () => {
    const db = database();
    const waits = new HeldWaits(db.checks, (error) => {
      throw error;
    });
    const reader = wait('live-a', 3, [1]);
    const anonymous = wait(undefined, null, [1]);
    const member = wait('live-b', 2, [1, 2]);
    const granted = wait(undefined, 4, [1], [1]);
    const elsewhere = wait('live-c', 3, [2]);
    for (const w of [reader, anonymous, member, granted, elsewhere]) waits.add(w, waits.epoch);
    db.makePrivate();
    // Arriving together, as a wall's deletion arrives with its memberships: one read for wall 1.
    waits.apply({ kind: 'wall', wallId: 1 });
    waits.apply({ kind: 'member', wallId: 1, userId: 3 });
    await settle();
    await settle();
    expect(db.reads).toEqual(['wall 1: 3,2,4']);
    expect([reader, anonymous, member, granted, elsewhere].map((w) => w.departure.reason)).toEqual([
      ACCESS_CHANGED,
      ACCESS_CHANGED,
      undefined,
      undefined,
      undefined,
    ]);
  });

  it('a member removed: only her waits on that wall are checked', async () => {
    const db = database();
    const waits = new HeldWaits(db.checks, (error) => {
      throw error;
    });
    const hers = wait('live-a', 1, [2]);
    const his = wait('live-b', 2, [2]);
    waits.add(hers, waits.epoch);
    waits.add(his, waits.epoch);
    db.removed.add(1);
    waits.apply({ kind: 'member', wallId: 2, userId: 1 });
    waits.apply({ kind: 'member', wallId: 2, userId: 9 });
    await settle();
    await settle();
    expect(db.reads).toEqual(['wall 2: 1']);
    expect([hers.departure.reason, his.departure.reason]).toEqual([ACCESS_CHANGED, undefined]);
  });

  it('a wait that registers after a change applied during its checks gets that change, and no other', async () => {
    const db = database();
    const waits = new HeldWaits(db.checks, (error) => {
      throw error;
    });
    // Both requests began (took the epoch) before the changes, and register after them.
    const since = waits.epoch;
    waits.apply({ kind: 'session', userId: 1, key: sessionKey('live-a') });
    waits.apply({ kind: 'member', wallId: 2, userId: 7 });
    const late = wait('live-a', 1, [2]);
    const unconcerned = wait('live-b', 1, [2]);
    waits.add(late, since);
    waits.add(unconcerned, since);
    await settle();
    expect(late.departure.reason).toBe(LOGGED_OUT);
    expect(unconcerned.departure.aborted).toBe(false);
    expect(db.reads).toEqual([]);
    // After a lost LISTEN connection ('all'), everything is checked again: sessions, then each wall.
    const dead = wait('dead-session', 1, [2]);
    waits.add(dead, waits.epoch);
    db.removed.add(2);
    const stranger = wait('live-d', 2, [2]);
    waits.add(stranger, waits.epoch);
    waits.apply({ kind: 'all' });
    await settle();
    await settle();
    expect(dead.departure.reason).toBe(LOGGED_OUT);
    expect(stranger.departure.reason).toBe(ACCESS_CHANGED);
    expect(unconcerned.departure.aborted).toBe(false);
  });
});
