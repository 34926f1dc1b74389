/**
 * What the PostgreSQL listener keeps of notified messages, and when it may
 * answer from them instead of the database: only above each wall's mark,
 * never an empty answer, never across a gap it cannot vouch for.
 */
import { createHash } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { MAX_MESSAGES, NotifiedFirstReads, NotifiedMessages } from '../src/poll/notified-messages.js';
import type { Message } from '../src/shared/types.js';
import { parseMessageNotice, signNotice } from '../src/storage/message-notices.js';

const message = (id: number, wallId = 1, content = `m${id}`): Message => ({
  id,
  wall_id: wallId,
  user: 'demo',
  content,
  created_at: '2026-12-05T15:00:00.000Z',
});
const ids = (found: Message[] | null): number[] | null => found?.map((m) => m.id) ?? null;
const noFloor = (): number => 0;

const KEY = 'k'.repeat(64);
/** Signed by hand, as the trigger does: sha256(key ‖ sha256(key ‖ body)) in hex, then the body. */
const signed = (body: string, key = KEY): string => {
  const inner = createHash('sha256')
    .update(key + body, 'utf8')
    .digest();
  return (
    createHash('sha256')
      .update(Buffer.concat([Buffer.from(key, 'utf8'), inner]))
      .digest('hex') + body
  );
};

describe('parseMessageNotice', () => {
  it('reads a signed whole message and a signed newest-id notice', () => {
    const text = JSON.stringify(message(7, 3, 'a "quoted" \u0001 ☃'));
    expect(parseMessageNotice(signed(text), KEY)).toEqual({ kind: 'message', message: message(7, 3, 'a "quoted" \u0001 ☃') });
    expect(parseMessageNotice(signed('3:9007199254740991'), KEY)).toEqual({ kind: 'newest', wallId: 3, newest: 9007199254740991 });
    expect(signNotice(KEY, text)).toBe(signed(text));
  });

  it('refuses what is not signed with the key: unsigned, another key, a changed body or digest', () => {
    const text = JSON.stringify(message(7, 3));
    expect(parseMessageNotice(text, KEY)).toBeUndefined();
    expect(parseMessageNotice('3:4', KEY)).toBeUndefined();
    expect(parseMessageNotice(signed(text, 'x'.repeat(64)), KEY)).toBeUndefined();
    expect(parseMessageNotice(signed(text).replace('m7', 'm8'), KEY)).toBeUndefined();
    const digest = signed(text).slice(0, 64);
    const flipped = (digest[0] === 'a' ? 'b' : 'a') + digest.slice(1);
    expect(parseMessageNotice(flipped + text, KEY)).toBeUndefined();
    expect(parseMessageNotice(digest, KEY)).toBeUndefined();
    expect(parseMessageNotice(undefined, KEY)).toBeUndefined();
  });

  it.each([
    '',
    '3:',
    '3:4:5',
    '-1:2',
    '0:4',
    '3:99999999999999999',
    '{',
    '{"id":"7","wall_id":3,"user":"a","content":"b","created_at":"c"}',
    '{"id":7,"wall_id":3,"user":"a","created_at":"c"}',
    '{"id":1.5,"wall_id":3,"user":"a","content":"b","created_at":"c"}',
  ])('ignores %j, even signed', (body) => {
    expect(parseMessageNotice(signed(body), KEY)).toBeUndefined();
  });
});

describe('NotifiedMessages', () => {
  it('answers nothing until the base read, then only above each wall’s mark', () => {
    const notified = new NotifiedMessages();
    expect(notified.after(1, 0, 10, 0)).toBeNull();
    notified.base([{ wall_id: 1, newest: 5 }]);
    notified.add(message(6));
    notified.add(message(8));
    expect(ids(notified.after(1, 5, 10, 0))).toEqual([6, 8]);
    expect(ids(notified.after(1, 6, 10, 0))).toEqual([8]);
    expect(ids(notified.after(1, 5, 1, 0))).toEqual([6]);
    // Below the mark the database must answer: message 3 may exist.
    expect(notified.after(1, 4, 10, 0)).toBeNull();
    // Nothing newer is no answer: the board may have moved before the notice came.
    expect(notified.after(1, 8, 10, 0)).toBeNull();
    // A wall the base read did not list had no message: everything it gets is notified.
    notified.add(message(9, 2));
    expect(ids(notified.after(2, 0, 10, 0))).toEqual([9]);
    expect(notified.stats()).toMatchObject({ held: 3, answered: 4, read: 3 });
  });

  it('applies notices that came before the base read after it, without repeats', () => {
    const notified = new NotifiedMessages();
    // 5 was committed before the base read's snapshot, 6 after it: the driver handed both over first.
    notified.add(message(5));
    notified.add(message(6));
    notified.base([{ wall_id: 1, newest: 5 }]);
    notified.add(message(7));
    expect(ids(notified.after(1, 5, 10, 0))).toEqual([6, 7]);
    expect(notified.after(1, 4, 10, 0)).toBeNull();
  });

  it('reads from the database below a message that came as an id only', () => {
    const notified = new NotifiedMessages();
    notified.base([]);
    notified.add(message(1));
    notified.skipTo(1, 2);
    notified.add(message(3));
    expect(notified.after(1, 0, 10, 0)).toBeNull();
    expect(notified.after(1, 1, 10, 0)).toBeNull();
    expect(ids(notified.after(1, 2, 10, 0))).toEqual([3]);
  });

  it('drops content, not marks, when messages may have been deleted, and everything when suspended', () => {
    const notified = new NotifiedMessages();
    notified.base([]);
    notified.add(message(1));
    notified.add(message(2));
    notified.dropContent();
    expect(notified.after(1, 0, 10, 0)).toBeNull();
    notified.add(message(3));
    expect(ids(notified.after(1, 2, 10, 0))).toEqual([3]);
    notified.suspend();
    notified.add(message(4));
    expect(notified.after(1, 3, 10, 0)).toBeNull();
    expect(notified.stats()).toMatchObject({ held: 0, bytes: 0 });
  });

  it('evicts the oldest messages past its bound and raises their wall’s mark', () => {
    const notified = new NotifiedMessages();
    notified.base([]);
    for (let id = 1; id <= MAX_MESSAGES + 2; id++) notified.add(message(id, (id % 2) + 1));
    expect(notified.stats().held).toBe(MAX_MESSAGES);
    // 1 and 2 are gone: wall 2 (odd ids) is covered from 1, wall 1 (even ids) from 2.
    expect(notified.after(2, 0, 1, 0)).toBeNull();
    expect(ids(notified.after(2, 1, 1, 0))).toEqual([3]);
    expect(notified.after(1, 0, 1, 0)).toBeNull();
    expect(ids(notified.after(1, 2, 1, 0))).toEqual([4]);
  });

  it('bounds the bytes it holds', () => {
    const notified = new NotifiedMessages();
    notified.base([]);
    const big = 'x'.repeat(2000);
    for (let id = 1; id <= 5000; id++) notified.add(message(id, 1, big));
    const { held, bytes } = notified.stats();
    expect(bytes).toBeLessThanOrEqual(8 * 1024 * 1024);
    expect(held).toBeLessThan(5000);
    expect(held).toBeGreaterThan(1000);
  });

  it('answers nothing at or below a wall’s history floor', () => {
    const notified = new NotifiedMessages();
    notified.base([]);
    for (let id = 1; id <= 4; id++) notified.add(message(id));
    expect(ids(notified.after(1, 0, 10, 2))).toEqual([3, 4]);
    expect(ids(notified.afterOnWalls([1], 0, 10, () => 3))).toEqual([4]);
  });

  it('answers a stream over several walls in id order, or not at all when one wall is not covered', () => {
    const notified = new NotifiedMessages();
    notified.base([{ wall_id: 3, newest: 2 }]);
    notified.add(message(3, 1));
    notified.add(message(4, 2));
    notified.add(message(5, 1));
    notified.add(message(6, 3));
    expect(ids(notified.afterOnWalls([1, 2, 3], 2, 10, noFloor))).toEqual([3, 4, 5, 6]);
    expect(ids(notified.afterOnWalls([2, 1], 3, 2, noFloor))).toEqual([4, 5]);
    // Wall 3 is covered from 2 only.
    expect(notified.afterOnWalls([1, 3], 1, 10, noFloor)).toBeNull();
  });

  it('keeps a message posted here at once only when it holds the wall up to the one before it', () => {
    const notified = new NotifiedMessages();
    notified.base([{ wall_id: 1, newest: 5 }]);
    notified.addPosted(message(7), 5);
    expect(ids(notified.after(1, 5, 10, 0))).toEqual([7]);
    // 8 came from another host and is not announced yet: 9 waits for its own notice.
    notified.addPosted(message(9), 8);
    expect(ids(notified.after(1, 7, 10, 0))).toBeNull();
    notified.add(message(8));
    notified.add(message(9));
    expect(ids(notified.after(1, 7, 10, 0))).toEqual([8, 9]);
    // The notice of a message kept when posted is not kept twice.
    notified.add(message(7));
    expect(ids(notified.after(1, 5, 10, 0))).toEqual([7, 8, 9]);
    // A wall's first message ever.
    notified.addPosted(message(10, 2), 0);
    expect(ids(notified.after(2, 0, 10, 0))).toEqual([10]);
  });

  it('answers a stream over several walls only when every message found is within what all its walls are whole up to', () => {
    const notified = new NotifiedMessages();
    notified.base([{ wall_id: 1, newest: 5 }]);
    // Posted here: wall 1 is whole up to 7, but another host's 6 on wall 2 may be on its way.
    notified.addPosted(message(7, 1), 5);
    expect(notified.afterOnWalls([1, 2], 5, 10, noFloor)).toBeNull();
    expect(ids(notified.afterOnWalls([1], 5, 10, noFloor))).toEqual([7]);
    // 6 is announced, but 7 is still past what wall 2 is known whole up to: the database answers both.
    notified.add(message(6, 2));
    expect(notified.afterOnWalls([1, 2], 5, 10, noFloor)).toBeNull();
    notified.add(message(7, 1));
    expect(ids(notified.afterOnWalls([1, 2], 5, 10, noFloor))).toEqual([6, 7]);
  });

  it('leaves to the database what it cannot answer', async () => {
    const notified = new NotifiedMessages();
    notified.base([]);
    notified.add(message(1));
    const asked: string[] = [];
    const database = {
      messagesAfter: async (wallId: number, after: number) => {
        asked.push(`${wallId}>${after}`);
        return [];
      },
      messagesAfterOnWalls: async (wallIds: readonly number[], after: number) => {
        asked.push(`${wallIds}>${after}`);
        return [];
      },
    };
    const reads = new NotifiedFirstReads(notified, database, noFloor);
    expect(ids(await reads.messagesAfter(1, 0, 10))).toEqual([1]);
    expect(await reads.messagesAfter(1, 1, 10)).toEqual([]);
    expect(ids(await reads.messagesAfterOnWalls([1, 2], 0, 10))).toEqual([1]);
    expect(await reads.messagesAfterOnWalls([1, 2], 1, 10)).toEqual([]);
    expect(asked).toEqual(['1>1', '1,2>1']);
  });
});
