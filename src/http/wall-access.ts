/**
 * Who may read and post where, for every route alike: memberships and public
 * walls as the store answers them, plus the walls a token grants (its `walls`
 * claim, kept with a session made from it). A granted wall that does not
 * exist stays as missing as any other: no route learns more from a grant.
 */
import type { Message, SessionUser, WallSummary } from '../storage/model.js';
import type { MaybePromise, Storage } from '../storage/storage.js';

const grants = (viewer: SessionUser | null, wallId: number): boolean => viewer?.granted?.includes(wallId) ?? false;

/** Members and grantees read a wall; anyone (`null`: no session) reads a public one. */
export function canRead(store: Storage, viewer: SessionUser | null, wallId: number): MaybePromise<boolean> {
  return grants(viewer, wallId) ? store.wallExists(wallId) : store.canRead(viewer?.id ?? null, wallId);
}

/** Those of `wallIds` the viewer may read, asked in one query whatever their number. */
export function readableAmong(store: Storage, viewer: SessionUser | null, wallIds: readonly number[]): MaybePromise<number[]> {
  return store.readableAmong(viewer?.id ?? null, wallIds, viewer?.granted);
}

/** Members and grantees post, public wall or not. */
export function canPost(store: Storage, viewer: SessionUser, wallId: number): MaybePromise<boolean> {
  return grants(viewer, wallId) ? store.wallExists(wallId) : store.canPost(viewer.id, wallId);
}

/** Post as `viewer` where it may (a member or grantee): the check and the write in one statement on PostgreSQL; undefined where it may not. */
export function postIfAllowed(store: Storage, viewer: SessionUser, wallId: number, content: string): MaybePromise<Message | undefined> {
  return store.postIfAllowed(wallId, viewer, content, grants(viewer, wallId));
}

/** The viewer's own walls: memberships and grants (`GET /walls`, a stream's default). */
export function wallsOf(store: Storage, viewer: SessionUser): MaybePromise<WallSummary[]> {
  return store.wallsOf(viewer.id, viewer.granted);
}

/** Every wall the viewer may read: its own and the public ones. */
export function readableWalls(store: Storage, viewer: SessionUser | null): MaybePromise<WallSummary[]> {
  return store.readableWalls(viewer?.id ?? null, viewer?.granted);
}

/** When what the viewer's token authorised must end (a poll answers, a stream ends); Infinity without a token. */
export function endOf(viewer: SessionUser | null): number {
  return viewer?.endsAt ?? Number.POSITIVE_INFINITY;
}
