/**
 * On PostgreSQL, the messages the LISTEN connection was told of
 * (`storage/message-notices.ts`), kept so that a woken poll or stream is
 * answered without reading them back: one post, however many waiters, costs
 * no read at all.
 *
 * Notifications arrive in commit order, which is id order, and every one
 * committed after LISTEN arrives. So once the listener has read each wall's
 * newest id after LISTEN (`base`), this holds, for every wall, every message
 * above a per-wall mark (`coveredFrom`): a cursor at or above the mark is
 * answered from here, one below it from the database. The mark only rises —
 * when a notice carries an id only (a message too big for NOTIFY), when
 * content is dropped (a user or wall deleted: their messages may be gone) and
 * when the oldest messages are evicted (at most MAX_MESSAGES and MAX_BYTES in
 * all). While the LISTEN connection is down nothing is answered from here.
 *
 * An answer from here with nothing in it is never given: the board can move
 * before the notification arrives (a post relayed from another process, a
 * shared board slot), and only the database can say such a move brought
 * nothing. History floors are applied as a read would: nothing at or below a
 * wall's floor (`storage/history-floors.ts`) is answered.
 */
import type { Message } from '../shared/types.js';
import type { AsyncMessageSource } from './board-waiter.js';

export const MAX_MESSAGES = 10_000;
export const MAX_BYTES = 8 * 1024 * 1024;

interface Entry {
  message: Message;
  /** What it counts against MAX_BYTES; 0 once dropped from its wall. */
  bytes: number;
}

interface WallRecent {
  /** Every message of the wall above this id is in `entries`. */
  coveredFrom: number;
  /** Ascending ids. */
  entries: Entry[];
}

const newestOf = (wall: WallRecent): number => wall.entries.at(-1)?.message.id ?? wall.coveredFrom;

export class NotifiedMessages {
  readonly #walls = new Map<number, WallRecent>();
  /**
   * Every entry in the order kept, for eviction: id order within each wall
   * (a post kept early can precede another wall's lower id); dropped ones stay
   * until their turn.
   */
  #queue: Entry[] = [];
  #head = 0;
  #bytes = 0;
  /**
   * Every message up to this id, on any wall, has been announced (or was in
   * the base read): what a stream over several walls may be answered up to.
   * A wall holds more only through `addPosted`.
   */
  #notifiedThrough = 0;
  /** Entries still in their wall. */
  #held = 0;
  #based = false;
  /** Notices that arrived before the base read was in: applied after it. */
  #pending: Array<Message | { wallId: number; newest: number }> = [];
  #answered = 0;
  #missed = 0;
  #generation = 0;

  /** The LISTEN connection is down: nothing is known until the next `base`. */
  suspend(): void {
    this.#generation++;
    this.#based = false;
    this.#pending = [];
    this.#clear();
  }

  /**
   * Each wall's newest id, read after LISTEN: from here on every message is
   * notified. Notices that came in meanwhile (the driver may hand one over
   * before the read's result) are applied after it.
   */
  base(newest: Iterable<{ wall_id: number; newest: number }>): void {
    this.#generation++;
    this.#clear();
    for (const { wall_id, newest: id } of newest) {
      this.#walls.set(wall_id, { coveredFrom: id, entries: [] });
      if (id > this.#notifiedThrough) this.#notifiedThrough = id;
    }
    this.#based = true;
    const pending = this.#pending;
    this.#pending = [];
    for (const notice of pending) 'id' in notice ? this.add(notice) : this.skipTo(notice.wallId, notice.newest);
  }

  /**
   * A message this process stored, with the wall's message before it (read
   * under the numbering lock): kept at once if this holds the wall up to
   * exactly that one, so its waiters, woken now, need no read. Otherwise its
   * notification brings it.
   */
  addPosted(message: Message, previousOnWall: number): void {
    if (!this.#based) return;
    const wall = this.#walls.get(message.wall_id) ?? { coveredFrom: 0, entries: [] };
    if (newestOf(wall) !== previousOnWall) return;
    this.#walls.set(message.wall_id, wall);
    this.#keep(wall, message);
  }

  /** A message the database announced. */
  add(message: Message): void {
    if (!this.#based) {
      // Past the bound, only its id is kept: the base read then sends those walls' polls to the database.
      this.#pending.push(this.#pending.length < MAX_MESSAGES ? message : { wallId: message.wall_id, newest: message.id });
      return;
    }
    if (message.id > this.#notifiedThrough) this.#notifiedThrough = message.id;
    const wall = this.#wall(message.wall_id);
    // Announced before the base read saw it, or a repeat (or kept when it was posted here).
    if (message.id <= newestOf(wall)) return;
    this.#keep(wall, message);
  }

  #keep(wall: WallRecent, message: Message): void {
    const entry: Entry = { message, bytes: sizeOf(message) };
    wall.entries.push(entry);
    this.#queue.push(entry);
    this.#bytes += entry.bytes;
    this.#held++;
    while (this.#queue.length - this.#head > MAX_MESSAGES || this.#bytes > MAX_BYTES) this.#evictOldest();
  }

  /** Only the newest id was announced: what is at or below it must be read. */
  skipTo(wallId: number, newest: number): void {
    if (!this.#based) {
      this.#pending.push({ wallId, newest });
      return;
    }
    if (newest > this.#notifiedThrough) this.#notifiedThrough = newest;
    const wall = this.#wall(wallId);
    if (newest <= newestOf(wall)) return;
    this.#generation++;
    this.#drop(wall, newest);
  }

  /** Messages may have been deleted (their author or wall): keep the marks, drop the content. */
  dropContent(): void {
    this.#generation++;
    for (const wall of this.#walls.values()) this.#drop(wall, newestOf(wall));
    this.#queue = [];
    this.#head = 0;
  }

  /** Messages after `after` on the wall, oldest first; null when the database must answer. */
  after(wallId: number, after: number, limit: number, floor: number): Message[] | null {
    const from = Math.max(after, floor);
    const wall = this.#walls.get(wallId);
    if (!this.#based || from < (wall?.coveredFrom ?? 0)) return this.#miss();
    const found = wall ? above(wall.entries, from, limit) : [];
    return found.length > 0 ? this.#hit(found) : this.#miss();
  }

  /** Messages after `after` on any of the walls, in id order: one cursor for them all (a stream). */
  afterOnWalls(wallIds: readonly number[], after: number, limit: number, floorOf: (wallId: number) => number): Message[] | null {
    if (!this.#based) return this.#miss();
    const found: Message[] = [];
    // One cursor for all: nothing past what every wall is known to be whole up to.
    let wholeThrough = Number.POSITIVE_INFINITY;
    for (const wallId of wallIds) {
      const from = Math.max(after, floorOf(wallId));
      const wall = this.#walls.get(wallId);
      if (from < (wall?.coveredFrom ?? 0)) return this.#miss();
      wholeThrough = Math.min(wholeThrough, Math.max(this.#notifiedThrough, wall ? newestOf(wall) : 0));
      if (wall) found.push(...above(wall.entries, from, limit));
    }
    // Past that point (a post kept here, another host's notice still on its
    // way) the database answers, in one snapshot, rather than half a batch.
    if (found.length === 0 || found.some((message) => message.id > wholeThrough)) return this.#miss();
    if (wallIds.length > 1) found.sort((a, b) => a.id - b.id);
    return this.#hit(found.length > limit ? found.slice(0, limit) : found);
  }

  /**
   * Bumped whenever an answer given from here may no longer hold without the
   * board moving (content dropped, the connection lost or back): answers
   * shared by board ids (`coalesced-reads.ts`) are keyed by it too.
   */
  get generation(): number {
    return this.#generation;
  }

  stats(): { held: number; bytes: number; answered: number; read: number } {
    return { held: this.#held, bytes: this.#bytes, answered: this.#answered, read: this.#missed };
  }

  #hit(found: Message[]): Message[] {
    this.#answered++;
    return found;
  }

  #miss(): null {
    this.#missed++;
    return null;
  }

  #wall(wallId: number): WallRecent {
    let wall = this.#walls.get(wallId);
    // A wall not in the base read had no message then: all of its messages are announced.
    if (!wall) this.#walls.set(wallId, (wall = { coveredFrom: 0, entries: [] }));
    return wall;
  }

  #drop(wall: WallRecent, coveredFrom: number): void {
    for (const entry of wall.entries) {
      this.#bytes -= entry.bytes;
      entry.bytes = 0;
    }
    this.#held -= wall.entries.length;
    wall.entries = [];
    wall.coveredFrom = coveredFrom;
  }

  #evictOldest(): void {
    const entry = this.#queue[this.#head++]!;
    if (entry.bytes > 0) {
      const wall = this.#walls.get(entry.message.wall_id)!;
      wall.entries.shift();
      wall.coveredFrom = entry.message.id;
      this.#bytes -= entry.bytes;
      entry.bytes = 0;
      this.#held--;
    }
    // Compact now and then, not on every eviction.
    if (this.#head > 1024 && this.#head * 2 > this.#queue.length) {
      this.#queue = this.#queue.slice(this.#head);
      this.#head = 0;
    }
  }

  #clear(): void {
    this.#notifiedThrough = 0;
    this.#walls.clear();
    this.#queue = [];
    this.#head = 0;
    this.#bytes = 0;
    this.#held = 0;
  }
}

/** Up to `limit` entries above `id`; searched from the end, where a waiting poll's cursor usually is. */
function above(entries: readonly Entry[], id: number, limit: number): Message[] {
  let start = entries.length;
  while (start > 0 && entries[start - 1]!.message.id > id) start--;
  const end = Math.min(entries.length, start + limit);
  const found: Message[] = [];
  for (let index = start; index < end; index++) found.push(entries[index]!.message);
  return found;
}

/** Roughly what it holds in memory: its strings as UTF-16 plus the object. */
function sizeOf(message: Message): number {
  return 2 * (message.content.length + message.user.length + message.created_at.length) + 64;
}

/**
 * The reader of the board waiter on PostgreSQL: the notified messages first,
 * the database (`fallback`, shared reads) when they cannot answer.
 */
export class NotifiedFirstReads implements AsyncMessageSource {
  readonly #notified: NotifiedMessages;
  readonly #fallback: AsyncMessageSource;
  readonly #floorOf: (wallId: number) => number;

  constructor(notified: NotifiedMessages, fallback: AsyncMessageSource, floorOf: (wallId: number) => number) {
    this.#notified = notified;
    this.#fallback = fallback;
    this.#floorOf = floorOf;
  }

  messagesAfter(wallId: number, after: number, limit: number): Promise<Message[]> {
    const known = this.#notified.after(wallId, after, limit, this.#floorOf(wallId));
    return known ? Promise.resolve(known) : this.#fallback.messagesAfter(wallId, after, limit);
  }

  messagesAfterOnWalls(wallIds: readonly number[], after: number, limit: number): Promise<Message[]> {
    const known = this.#notified.afterOnWalls(wallIds, after, limit, this.#floorOf);
    return known ? Promise.resolve(known) : this.#fallback.messagesAfterOnWalls(wallIds, after, limit);
  }
}
