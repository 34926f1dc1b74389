/**
 * The demo data a new, empty database starts with, in both backends. Ids are
 * explicit so that the walls a demo client names (1–4) are the same on SQLite
 * and PostgreSQL.
 */

export interface SeedWall {
  id: number;
  name: string;
  /** Readable without a session. */
  public: boolean;
}

export const SEED_WALLS: readonly SeedWall[] = [
  { id: 1, name: 'General', public: true },
  { id: 2, name: 'Ruby', public: false },
  { id: 3, name: 'Node', public: false },
  { id: 4, name: 'Random', public: false },
];

export const SEED_USERS: ReadonlyArray<{ id: number; name: string; walls: readonly number[] }> = [
  { id: 1, name: 'demo', walls: [1, 2, 3, 4] },
  { id: 2, name: 'alice', walls: [1] },
  { id: 3, name: 'bob', walls: [2, 3] },
];

export const SEED_MESSAGES: ReadonlyArray<{ wallId: number; userId: number; content: string }> = [
  { wallId: 1, userId: 2, content: 'Welcome to Pollster! Every wall is long-polled on a worker thread.' },
  { wallId: 1, userId: 1, content: 'Post from another tab, or run: npm run post -- --wall 1 --user demo "hi"' },
  { wallId: 2, userId: 3, content: 'Puma threads and EM.defer did this in Ruby; Piscina does it here.' },
  { wallId: 3, userId: 3, content: 'Node wall: try MAX_THREADS=4 npm start and compare.' },
  { wallId: 4, userId: 1, content: 'Anything goes on the Random wall.' },
];

/** `[userId, wallId]` for every seeded membership. */
export const SEED_MEMBERSHIPS: ReadonlyArray<readonly [number, number]> = SEED_USERS.flatMap((user) =>
  user.walls.map((wallId) => [user.id, wallId] as const),
);
