/**
 * SQLite's schema history (the shape in `migrations.ts`); the version is
 * SQLite's own `user_version`.
 */
import { SQLITE_CHANGES_SCHEMA } from './change-schema.js';
import type { MigrationStep } from './migrations.js';
import { SEED_MEMBERSHIPS, SEED_MESSAGES, SEED_USERS, SEED_WALLS } from './seed.js';
import type { SqliteDatabase } from './sqlite-driver.js';

/** Step 1 creates the tables and writes the demo data: it reports that it seeded. */
export const SQLITE_MIGRATIONS: ReadonlyArray<MigrationStep<SqliteDatabase>> = [
  // 1: the original schema and the demo data.
  (db) => {
    db.exec(`
      CREATE TABLE IF NOT EXISTS users (id INTEGER PRIMARY KEY, name TEXT NOT NULL UNIQUE);
      CREATE TABLE IF NOT EXISTS walls (id INTEGER PRIMARY KEY, name TEXT NOT NULL);
      CREATE TABLE IF NOT EXISTS memberships (
        user_id INTEGER NOT NULL REFERENCES users(id),
        wall_id INTEGER NOT NULL REFERENCES walls(id),
        PRIMARY KEY (user_id, wall_id)
      );
      CREATE TABLE IF NOT EXISTS sessions (
        id TEXT PRIMARY KEY,
        user_id INTEGER NOT NULL REFERENCES users(id),
        created_at INTEGER NOT NULL
      );
      -- AUTOINCREMENT: ids are never reused, so a client's cursor stays valid.
      CREATE TABLE IF NOT EXISTS messages (
        id INTEGER PRIMARY KEY AUTOINCREMENT,
        wall_id INTEGER NOT NULL REFERENCES walls(id),
        user_id INTEGER NOT NULL REFERENCES users(id),
        content TEXT NOT NULL,
        created_at INTEGER NOT NULL
      );
      CREATE INDEX IF NOT EXISTS messages_wall_id ON messages (wall_id, id);
    `);
    seed(db);
  },
  // 2: public walls, readable without a session; the demo's General is one.
  (db) => {
    db.exec('ALTER TABLE walls ADD COLUMN public INTEGER NOT NULL DEFAULT 0');
    const markPublic = db.prepare('UPDATE walls SET public = 1 WHERE id = ? AND name = ?');
    for (const wall of SEED_WALLS) if (wall.public) markPublic.run(wall.id, wall.name);
  },
  // 3: sessions expire. `expires_at` is epoch ms; sessions made before this
  // step get created_at + SESSION_TTL_S. The index serves pruning.
  (db, { sessionTtlMs }) => {
    db.exec('ALTER TABLE sessions ADD COLUMN expires_at INTEGER');
    db.prepare('UPDATE sessions SET expires_at = created_at + ?').run(sessionTtlMs);
    db.exec('CREATE INDEX sessions_expires_at ON sessions (expires_at)');
  },
  // 4: sessions made from a token (AUTH=jwt) keep its walls claim (a JSON
  // array) and its end: `hard_expires_at`, epoch ms, caps the sliding expiry.
  // NULL in both for every other session.
  (db) => {
    db.exec('ALTER TABLE sessions ADD COLUMN hard_expires_at INTEGER');
    db.exec('ALTER TABLE sessions ADD COLUMN granted_walls TEXT');
  },
  // Bounded history: each wall's watermark, the highest message id pruned
  // (or about to be) on it; 0 while nothing was (storage/history-sql.ts).
  (db) => {
    db.exec('ALTER TABLE walls ADD COLUMN history_floor INTEGER NOT NULL DEFAULT 0');
  },
  // Access changes (a session ended, a user deleted, a wall made private or
  // deleted, a member removed) logged by triggers for every process sharing
  // the file (storage/change-schema.ts).
  (db) => {
    db.exec(SQLITE_CHANGES_SCHEMA);
  },
];

function seed(db: SqliteDatabase): void {
  const insertWall = db.prepare('INSERT INTO walls (id, name) VALUES (?, ?)');
  for (const wall of SEED_WALLS) insertWall.run(wall.id, wall.name);
  const insertUser = db.prepare('INSERT INTO users (id, name) VALUES (?, ?)');
  for (const user of SEED_USERS) insertUser.run(user.id, user.name);
  const insertMembership = db.prepare('INSERT INTO memberships (user_id, wall_id) VALUES (?, ?)');
  for (const [userId, wallId] of SEED_MEMBERSHIPS) insertMembership.run(userId, wallId);
  const insertMessage = db.prepare('INSERT INTO messages (wall_id, user_id, content, created_at) VALUES (?, ?, ?, ?)');
  const now = Date.now();
  for (const message of SEED_MESSAGES) insertMessage.run(message.wallId, message.userId, message.content, now);
}
