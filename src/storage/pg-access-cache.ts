/**
 * What PostgreSQL answered about sessions and read permissions, kept for at
 * most a second so that a returning long poll (or a member's next post)
 * does not ask again: on PostgreSQL each question is a network round trip,
 * and with 20 clients per post they were most of a post's 22–28
 * transactions. A revocation ends an entry at once when its announcement
 * arrives (`pollster_changes`, the same NOTIFY that ends held waits, see
 * `changes.ts`); TTL_MS bounds it when the announcement is late or the
 * LISTEN connection is down. Only grants of access are kept: a refusal is
 * asked afresh, since gaining access (a new member, a wall made public) is
 * not announced.
 */
import { type AccessChange, sessionKey } from './changes.js';
import type { SessionUser } from './model.js';

/** A revoked session or membership never outlives its revocation by more than this. */
export const TTL_MS = 1000;
/** Entries kept at most, per kind; past it the kind starts over (a flood of sessions must not grow memory). */
const MAX_ENTRIES = 50_000;

export interface SessionEntry {
  user: SessionUser;
  userId: number;
  key: string;
  /** The session row's expiry as read (or as just slid): an entry never outlives it either. */
  expiresAt: number;
  hardExpiresAt: number | null;
  until: number;
}

export class PgAccessCache {
  readonly #sessions = new Map<string, SessionEntry>();
  /** wall id → reader key (`user id`, 0 for no session) → until */
  readonly #readers = new Map<number, Map<number, number>>();
  #readerCount = 0;
  /**
   * Bumped by every change: an answer whose query began before a change must
   * not be kept, as it may predate the revocation the change announced.
   */
  #generation = 0;

  get generation(): number {
    return this.#generation;
  }

  /** The session as last read, while fresh and live; the caller still slides its expiry when due. */
  session(sessionId: string, now: number): SessionEntry | undefined {
    const entry = this.#sessions.get(sessionId);
    if (!entry) return undefined;
    if (entry.until > performance.now() && entry.expiresAt > now) return entry;
    this.#sessions.delete(sessionId);
    return undefined;
  }

  keepSession(sessionId: string, user: SessionUser, expiresAt: number, hardExpiresAt: number | null, generation: number): void {
    if (generation !== this.#generation) return;
    if (this.#sessions.size >= MAX_ENTRIES) this.#sessions.clear();
    const until = performance.now() + TTL_MS;
    const entry = { user, userId: user.id, key: sessionKey(sessionId), expiresAt, hardExpiresAt, until };
    this.#sessions.set(sessionId, entry);
  }

  dropSession(sessionId: string): void {
    this.#generation++;
    this.#sessions.delete(sessionId);
  }

  /** True when `reader` (a user id, or null) was recently allowed to read `wallId` as a member or because it is public. */
  mayRead(reader: number | null, wallId: number): boolean {
    const until = this.#readers.get(wallId)?.get(reader ?? 0);
    return until !== undefined && until > performance.now();
  }

  keepReadable(reader: number | null, wallIds: readonly number[], generation: number): void {
    if (generation !== this.#generation) return;
    if (this.#readerCount + wallIds.length > MAX_ENTRIES) this.#clearReaders();
    const until = performance.now() + TTL_MS;
    for (const wallId of wallIds) {
      let readers = this.#readers.get(wallId);
      if (!readers) this.#readers.set(wallId, (readers = new Map()));
      if (!readers.has(reader ?? 0)) this.#readerCount++;
      readers.set(reader ?? 0, until);
    }
  }

  /** A change of access announced by the database (or `all`: some may have been missed). */
  forget(change: AccessChange): void {
    this.#generation++;
    switch (change.kind) {
      case 'session':
        for (const [id, entry] of this.#sessions) if (entry.key === change.key) this.#sessions.delete(id);
        break;
      case 'user':
        for (const [id, entry] of this.#sessions) if (entry.userId === change.userId) this.#sessions.delete(id);
        this.#clearReaders();
        break;
      case 'wall':
        this.#readerCount -= this.#readers.get(change.wallId)?.size ?? 0;
        this.#readers.delete(change.wallId);
        break;
      case 'member':
        if (this.#readers.get(change.wallId)?.delete(change.userId)) this.#readerCount--;
        break;
      case 'all':
        this.#sessions.clear();
        this.#clearReaders();
        break;
    }
  }

  #clearReaders(): void {
    this.#readers.clear();
    this.#readerCount = 0;
  }
}
