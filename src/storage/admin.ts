/**
 * What an application's backend (the `/api/` routes) and an operator (`npm
 * run admin`) change: walls, users, memberships, sessions. Both stores
 * implement it (`sqlite-admin.ts`, `pg-admin.ts`); the queries are in
 * `admin-sql.ts`. Every change that can take access away is recorded by the
 * database itself (`change-schema.ts`), so running servers hear of it
 * whoever made it.
 */
import type { User } from './model.js';

type MaybePromise<T> = T | Promise<T>;

/** A wall as the API answers it. */
export interface Wall {
  id: number;
  name: string;
  public: boolean;
}

/** What `updateWall` may change; at least one of them. */
export interface WallChange {
  name?: string;
  public?: boolean;
}

/** Who may still read a wall: it exists, is public, and which of the asked users are members. */
export interface WallReaders {
  exists: boolean;
  public: boolean;
  members: ReadonlySet<number>;
}

/** Longest wall or user name, in characters (code points). */
export const MAX_NAME_LENGTH = 100;

/** A user name that is taken already (user names are unique; wall names need not be). */
export class NameTakenError extends Error {
  override name = 'NameTakenError';
}

/**
 * Why `name` cannot name a wall or user, or null when it can: a string of 1
 * to 100 characters, well-formed, without control characters (U+0000 cannot
 * even be stored in PostgreSQL) and without white space at either end (a name is
 * matched exactly at login). `field` names the field in the message.
 */
export function nameProblem(name: unknown, field = 'name'): string | null {
  if (typeof name !== 'string') return `${field} must be a string`;
  if (!name.isWellFormed()) return `${field} must be well-formed Unicode`;
  // C0, DEL and C1: a newline or an escape in a name would forge log lines and page text.
  if (/\p{Cc}/u.test(name)) return `${field} must not contain control characters`;
  const length = [...name].length;
  if (length === 0 || length > MAX_NAME_LENGTH) return `${field} must be 1 to ${MAX_NAME_LENGTH} characters`;
  if (name.trim() !== name) return `${field} must not start or end with white space`;
  return null;
}

export interface AdminStorage {
  /** Every wall, by id. */
  listWalls(): MaybePromise<Wall[]>;
  createWall(name: string, isPublic: boolean): MaybePromise<Wall>;
  /** The wall as changed, or undefined when there is no such wall. */
  updateWall(wallId: number, change: WallChange): MaybePromise<Wall | undefined>;
  /** Deletes the wall with its messages and memberships; false when there was none. */
  deleteWall(wallId: number): MaybePromise<boolean>;
  /** Every user, by id. */
  listUsers(): MaybePromise<User[]>;
  /** NameTakenError when the name is taken. */
  createUser(name: string): MaybePromise<User>;
  /** Deletes the user with its sessions, memberships and messages; false when there was none. */
  deleteUser(userId: number): MaybePromise<boolean>;
  /** Idempotent; false when the wall or the user does not exist. */
  addMember(wallId: number, userId: number): MaybePromise<boolean>;
  /** True when a membership was removed. */
  removeMember(wallId: number, userId: number): MaybePromise<boolean>;
  /** Ends every session of the user; resolves with how many there were. */
  revokeSessions(userId: number): MaybePromise<number>;
  /** Whether `wallId` exists and is public, and which of `userIds` are its members: one read for many held waits. */
  wallReaders(wallId: number, userIds: readonly number[]): MaybePromise<WallReaders>;
  /** Which of `sessionIds` are live sessions now (without sliding their expiry). */
  liveSessions(sessionIds: readonly string[], now?: number): MaybePromise<string[]>;
}
