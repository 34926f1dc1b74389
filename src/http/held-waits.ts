/**
 * Every held poll and open stream of this process, by user and by wall, so
 * that a change of access ends the ones it concerns within moments, in every
 * process on every host: the database announces each change
 * (`storage/changes.ts`) and every process applies it here.
 *
 * - A session ended (logout, revocation) or a user deleted: its waits abort
 *   with LOGGED_OUT — a held poll answers 400 `Invalid user!`, a stream ends.
 * - A wall made private or deleted, or a member removed: the waits on that
 *   wall are checked against the database in one read per wall (who may
 *   still read it), and those that may not abort with ACCESS_CHANGED — a
 *   held poll answers `{"walls":{}}`, a stream ends and its browser
 *   reconnects without that wall. Waits that keep access go on untouched.
 *
 * A request whose checks ran while a change was being applied could register
 * just after it and miss it: `add` takes the epoch the request began in and
 * applies to the new wait the changes applied since (or, past the last 256,
 * checks it in full).
 */
import type { Departure } from '../poll/departure.js';
import type { AdminStorage } from '../storage/admin.js';
import { type AccessChange, sessionKey } from '../storage/changes.js';
import { LOGGED_OUT } from './session-waits.js';

/** The abort reason of a wait whose client may no longer read one of its walls. */
export const ACCESS_CHANGED = Symbol('access changed');

/** One held poll or open stream: whose it is and what it waits on. */
export interface HeldWait {
  /** The request's own Departure: aborting it ends the wait (no closure or signal of our own per wait). */
  departure: Departure;
  /** The session it was made with; undefined without one. */
  session: string | undefined;
  /** null: anonymous (public walls only). */
  user: number | null;
  walls: readonly number[];
  /** Walls a token grants on top of memberships. */
  granted?: readonly number[] | undefined;
}

type AccessChecks = Pick<AdminStorage, 'wallReaders' | 'liveSessions'>;

/** Changes remembered for `add`; a request that missed more is checked in full. */
const RECENT = 256;

/** Users whose waits on a wall to check; `all`: every wait on it. */
type Pending = Set<number> | 'all';

function addTo<K>(index: Map<K, Set<HeldWait>>, key: K, wait: HeldWait): void {
  let set = index.get(key);
  if (!set) {
    set = new Set();
    index.set(key, set);
  }
  set.add(wait);
}

function removeFrom<K>(index: Map<K, Set<HeldWait>>, key: K, wait: HeldWait): void {
  const set = index.get(key);
  if (set?.delete(wait) && set.size === 0) index.delete(key);
}

export class HeldWaits {
  readonly #byUser = new Map<number, Set<HeldWait>>();
  readonly #byWall = new Map<number, Set<HeldWait>>();
  readonly #checks: AccessChecks;
  readonly #onError: (error: unknown) => void;
  /** Wall checks gathered from the changes that arrived together: one read per wall. */
  readonly #pending = new Map<number, Pending>();
  /** The last changes applied, for a request that began before them and registers after (`add`). */
  readonly #recent: AccessChange[] = [];
  #flushing = false;
  #epoch = 0;

  constructor(checks: AccessChecks, onError: (error: unknown) => void) {
    this.#checks = checks;
    this.#onError = onError;
  }

  /** Moves with every change applied; a request takes it before its checks and hands it to `add`. */
  get epoch(): number {
    return this.#epoch;
  }

  add(wait: HeldWait, since: number): void {
    if (wait.user !== null) addTo(this.#byUser, wait.user, wait);
    for (const wallId of wait.walls) addTo(this.#byWall, wallId, wait);
    const missed = this.#epoch - since;
    if (missed === 0) return;
    // Changes applied while this request ran its checks: those that concern it, to it alone.
    if (missed > this.#recent.length) this.#run(this.#recheck([wait]));
    else for (const change of this.#recent.slice(-missed)) this.#applyTo(change, [wait]);
  }

  delete(wait: HeldWait): void {
    if (wait.user !== null) removeFrom(this.#byUser, wait.user, wait);
    for (const wallId of wait.walls) removeFrom(this.#byWall, wallId, wait);
  }

  apply(change: AccessChange): void {
    this.#epoch++;
    this.#recent.push(change);
    if (this.#recent.length > RECENT) this.#recent.shift();
    this.#applyTo(change);
  }

  /** Apply `change` to `among`, or to every held wait it may concern. */
  #applyTo(change: AccessChange, among?: readonly HeldWait[]): void {
    switch (change.kind) {
      case 'session':
        for (const wait of among ?? this.#ofUser(change.userId)) {
          const mine = wait.user === change.userId && wait.session !== undefined && sessionKey(wait.session) === change.key;
          if (mine) wait.departure.abort(LOGGED_OUT);
        }
        return;
      case 'user':
        for (const wait of among ?? this.#ofUser(change.userId)) if (wait.user === change.userId) wait.departure.abort(LOGGED_OUT);
        return;
      case 'wall':
        if (!among) {
          if (this.#byWall.has(change.wallId)) this.#queue(change.wallId, 'all');
        } else {
          const concerned = among.filter((wait) => wait.walls.includes(change.wallId));
          if (concerned.length > 0) this.#run(this.#checkWall(change.wallId, 'all', concerned));
        }
        return;
      case 'member': {
        const concerned = (among ?? this.#ofUser(change.userId)).filter(
          (wait) => wait.user === change.userId && wait.walls.includes(change.wallId),
        );
        if (concerned.length === 0) return;
        if (among) this.#run(this.#checkWall(change.wallId, new Set([change.userId]), concerned));
        else this.#queue(change.wallId, change.userId);
        return;
      }
      case 'all':
        this.#run(this.#recheck(among ?? [...new Set([...this.#byWall.values()].flatMap((set) => [...set]))]));
    }
  }

  #ofUser(userId: number): HeldWait[] {
    return [...(this.#byUser.get(userId) ?? [])];
  }

  #queue(wallId: number, who: number | 'all'): void {
    const pending = this.#pending.get(wallId);
    if (who === 'all' || pending === 'all') this.#pending.set(wallId, 'all');
    else if (pending) pending.add(who);
    else this.#pending.set(wallId, new Set([who]));
    if (this.#flushing) return;
    this.#flushing = true;
    // Notifications that arrive together (a wall deleted with its memberships) are checked together.
    setImmediate(() => {
      this.#flushing = false;
      const walls = [...this.#pending];
      this.#pending.clear();
      for (const [id, pendingWho] of walls) this.#run(this.#checkWall(id, pendingWho));
    });
  }

  #run(check: Promise<void>): void {
    check.catch(this.#onError);
  }

  /** Ends the waits on `wallId` (of the `who` users) whose client may no longer read it. */
  async #checkWall(wallId: number, who: Pending, among?: readonly HeldWait[]): Promise<void> {
    const waits = (among ?? [...(this.#byWall.get(wallId) ?? [])]).filter(
      (wait) => who === 'all' || (wait.user !== null && who.has(wait.user)),
    );
    if (waits.length === 0) return;
    const users = [...new Set(waits.flatMap((wait) => (wait.user === null ? [] : [wait.user])))];
    const readers = await this.#checks.wallReaders(wallId, users);
    for (const wait of waits) {
      const mayRead =
        readers.exists &&
        (readers.public || (wait.user !== null && readers.members.has(wait.user)) || (wait.granted?.includes(wallId) ?? false));
      if (!mayRead) wait.departure.abort(ACCESS_CHANGED);
    }
  }

  /** Everything about `waits` again: their sessions live, every wall still readable. */
  async #recheck(waits: readonly HeldWait[]): Promise<void> {
    const sessions = [...new Set(waits.flatMap((wait) => (wait.session === undefined ? [] : [wait.session])))];
    const live = new Set(sessions.length === 0 ? [] : await this.#checks.liveSessions(sessions));
    const left = waits.filter((wait) => {
      if (wait.session === undefined || live.has(wait.session)) return true;
      wait.departure.abort(LOGGED_OUT);
      return false;
    });
    const walls = new Set(left.flatMap((wait) => wait.walls));
    await Promise.all(
      [...walls].map((wallId) =>
        this.#checkWall(
          wallId,
          'all',
          left.filter((wait) => wait.walls.includes(wallId)),
        ),
      ),
    );
  }
}

/** The wait of a request by `user` (null: anonymous) on `walls`, made with `session`. */
export function heldWait(
  departure: Departure,
  session: string | undefined,
  user: { id: number; granted?: readonly number[] | undefined } | null,
  walls: readonly number[],
): HeldWait {
  return { departure, session, user: user?.id ?? null, walls, granted: user?.granted };
}
