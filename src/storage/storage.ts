/**
 * What the HTTP side needs from storage, whichever backend holds the data.
 * Methods may answer directly (SQLite: synchronous, microseconds) or with a
 * promise (PostgreSQL: a network round trip that must never block the main
 * thread); callers always `await`, so both fit.
 */
import type { AdminStorage } from './admin.js';
import type { HistoryFloor, HistoryPolicy, WallHistory } from './history-sql.js';
import type { Message, SessionUser, TokenGrant, User, WallSummary } from './model.js';

export type MaybePromise<T> = T | Promise<T>;

export interface Storage {
  readonly backend: 'sqlite' | 'postgres';
  /** Walls, users, memberships and revocation, for the `/api/` routes and `npm run admin` (`admin.ts`). */
  readonly admin: AdminStorage;
  /** True when this open created the schema and wrote the demo data. */
  readonly seeded: boolean;
  userByName(name: string): MaybePromise<User | undefined>;
  /** The user named `name`, created the first time a token names it (with no memberships). */
  ensureUser(name: string): MaybePromise<User>;
  /** The walls `userId` is a member of, and those of `granted` (a token's) that exist. */
  wallsOf(userId: number, granted?: readonly number[]): MaybePromise<WallSummary[]>;
  /** The walls anyone may read without a session. */
  publicWalls(): MaybePromise<WallSummary[]>;
  /** Every wall `userId` may read: its own, the public ones and those of `granted` that exist (`null`: public only). */
  readableWalls(userId: number | null, granted?: readonly number[]): MaybePromise<WallSummary[]>;
  wallExists(wallId: number): MaybePromise<boolean>;
  /** Members read a wall; so does anyone, `null` (no session) included, if it is public. */
  canRead(userId: number | null, wallId: number): MaybePromise<boolean>;
  /** Those of `wallIds` that `userId` (`null`: no session) may read, with `granted` (a token's) readable when they exist: one query. */
  readableAmong(userId: number | null, wallIds: readonly number[], granted?: readonly number[]): MaybePromise<number[]>;
  /** Only members post, public wall or not. */
  canPost(userId: number, wallId: number): MaybePromise<boolean>;
  /**
   * A new session. With a token's `grant` it keeps the granted walls and
   * never lives past `grant.endsAt`, however its expiry slides.
   */
  createSession(userId: number, now?: number, grant?: TokenGrant): MaybePromise<string>;
  /** The user of a live session; each use slides its expiry (SESSION_TTL_S), never past a token's end. */
  sessionUser(sessionId: string, now?: number): MaybePromise<SessionUser | undefined>;
  /** Log out: true when the session existed. */
  deleteSession(sessionId: string): MaybePromise<boolean>;
  /** Delete up to `limit` expired sessions; resolves with how many went. */
  pruneSessions(limit: number): MaybePromise<number>;
  /** Messages of `wallId` with id greater than `after`, oldest first. */
  messagesAfter(wallId: number, after: number, limit: number): MaybePromise<Message[]>;
  /** Messages of any of `wallIds` with id greater than `after`, oldest first, from one snapshot. */
  messagesAfterOnWalls(wallIds: readonly number[], after: number, limit: number): MaybePromise<Message[]>;
  /** Store a message by `author` (a member of the wall: the caller checked) and resolve with it as stored. */
  postMessage(wallId: number, author: User, content: string): MaybePromise<Message>;
  /**
   * Store a message by `author` if it may post there — a member, or `granted` (a token's wall) and the wall exists —
   * and resolve with it as stored; undefined when it may not. One statement on PostgreSQL.
   */
  postIfAllowed(wallId: number, author: User, content: string, granted: boolean): MaybePromise<Message | undefined>;
  /** Walls with a history floor (HISTORY_MAX_PER_WALL, HISTORY_MAX_AGE_S): their messages up to it may be gone. */
  historyFloors(): MaybePromise<HistoryFloor[]>;
  /** Every wall's floor, newest and oldest ids, and the age of its oldest message above the floor: what the pruner decides on. */
  historyOverview(): MaybePromise<WallHistory[]>;
  /** Raise `wallId`'s floor (now `floor`) as far as `policy` lets its messages go; resolves with the new floor, or null. */
  raiseHistoryFloor(wallId: number, floor: number, policy: HistoryPolicy): MaybePromise<number | null>;
  /** Delete up to `limit` of `wallId`'s messages at or below `floor`, oldest first; resolves with how many went. */
  pruneHistory(wallId: number, floor: number, limit: number): MaybePromise<number>;
  /** Resolves when the database answers a trivial query; DatabaseUnavailableError when it cannot. */
  ping(): MaybePromise<void>;
  close(): MaybePromise<void>;
}

/**
 * The database cannot be reached right now (down, restarting, connection
 * lost, or no connection free within the timeout). The HTTP side answers
 * `503 Database unavailable` with Retry-After; waiting polls keep waiting.
 */
export class DatabaseUnavailableError extends Error {
  override name = 'DatabaseUnavailableError';
}
