/**
 * The SQL both backends run, written once. The dialects differ only in how a
 * parameter is written (`?` in SQLite, `$1` in PostgreSQL) and how a list
 * of wall ids is passed (a JSON array in SQLite, an array in PostgreSQL).
 * better-sqlite3 binds an array only to anonymous `?`s, so every query here
 * names its parameters in order, each once.
 * `public` is 0/1 in SQLite and boolean in PostgreSQL; both read it as a
 * condition.
 */

export interface Dialect {
  /** The n-th parameter (1-based). */
  param(n: number): string;
  /** `wall_id` is one of the ids in parameter n. */
  wallIn(n: number): string;
}

export const SQLITE: Dialect = {
  param: () => '?',
  wallIn: () => 'IN (SELECT value FROM json_each(?))',
};

export const POSTGRES: Dialect = {
  param: (n) => `$${n}`,
  wallIn: (n) => `= ANY($${n}::bigint[])`,
};

/** Query text by purpose; the comment on each names its parameters in order. */
export function queries({ param: $, wallIn }: Dialect) {
  const wallColumns = `w.id, w.name, COALESCE((SELECT max(id) FROM messages WHERE wall_id = w.id), 0) AS latest_message_id, w.public`;
  const messageColumns = `m.id, m.wall_id, u.name AS "user", m.content, m.created_at`;
  const isMemberOf = (wall: string, user: string): string =>
    `EXISTS (SELECT 1 FROM memberships WHERE wall_id = ${wall} AND user_id = ${user})`;
  return {
    /** name */
    userByName: `SELECT id, name FROM users WHERE name = ${$(1)}`,
    /** name. Two first sightings at once: one row, the other insert does nothing. */
    insertUser: `INSERT INTO users (name) VALUES (${$(1)}) ON CONFLICT (name) DO NOTHING`,
    /** userId */
    wallsOf: `SELECT ${wallColumns} FROM walls w JOIN memberships ms ON ms.wall_id = w.id WHERE ms.user_id = ${$(1)} ORDER BY w.id`,
    /** userId, wallIds (a token's granted walls) */
    wallsOfGranted: `SELECT ${wallColumns} FROM walls w
      WHERE w.id IN (SELECT wall_id FROM memberships WHERE user_id = ${$(1)}) OR w.id ${wallIn(2)} ORDER BY w.id`,
    publicWalls: `SELECT ${wallColumns} FROM walls w WHERE w.public ORDER BY w.id`,
    /** userId (a user id that never exists, or NULL, for public walls only) */
    readableWalls: `SELECT ${wallColumns} FROM walls w WHERE w.public OR ${isMemberOf('w.id', $(1))} ORDER BY w.id`,
    /** userId (or NULL), wallIds (a token's granted walls) */
    readableWallsGranted: `SELECT ${wallColumns} FROM walls w
      WHERE w.public OR ${isMemberOf('w.id', $(1))} OR w.id ${wallIn(2)} ORDER BY w.id`,
    /** wallId */
    wallExists: `SELECT 1 AS ok FROM walls WHERE id = ${$(1)}`,
    /** userId, wallId */
    isMember: `SELECT 1 AS ok FROM memberships WHERE user_id = ${$(1)} AND wall_id = ${$(2)}`,
    /**
     * wallIds (asked), wallIds (a token's granted walls), userId (or NULL).
     * Those of the asked walls the user may read, in one statement whatever
     * their number: a poll names up to 100 walls, and a check per wall let an
     * anonymous client hold a connection per wall of every poll.
     */
    readableAmong: `SELECT w.id FROM walls w WHERE w.id ${wallIn(1)}
      AND (w.public OR w.id ${wallIn(2)} OR ${isMemberOf('w.id', $(3))})`,
    /** wallId, userId */
    canRead: `SELECT 1 AS ok FROM walls w WHERE w.id = ${$(1)} AND (w.public OR ${isMemberOf('w.id', $(2))})`,
    /** id, userId, createdAt, expiresAt (epoch ms) */
    insertSession: `INSERT INTO sessions (id, user_id, created_at, expires_at) VALUES (${$(1)}, ${$(2)}, ${$(3)}, ${$(4)})`,
    /** id, userId, createdAt, expiresAt, hardExpiresAt (epoch ms), grantedWalls (a JSON array) */
    insertTokenSession: `INSERT INTO sessions (id, user_id, created_at, expires_at, hard_expires_at, granted_walls)
      VALUES (${$(1)}, ${$(2)}, ${$(3)}, ${$(4)}, ${$(5)}, ${$(6)})`,
    /** sessionId, now. expires_at never passes hard_expires_at, so it alone says whether the session lives. */
    sessionUser: `SELECT u.id, u.name, s.expires_at, s.hard_expires_at, s.granted_walls
      FROM sessions s JOIN users u ON u.id = s.user_id WHERE s.id = ${$(1)} AND s.expires_at > ${$(2)}`,
    /** expiresAt, sessionId */
    extendSession: `UPDATE sessions SET expires_at = ${$(1)} WHERE id = ${$(2)}`,
    /** sessionId */
    deleteSession: `DELETE FROM sessions WHERE id = ${$(1)} RETURNING 1 AS ok`,
    /** now, limit. Bounded: one call never holds many rows locked, however many expired. */
    pruneSessions: `DELETE FROM sessions WHERE id IN (SELECT id FROM sessions WHERE expires_at <= ${$(1)} LIMIT ${$(2)}) RETURNING 1 AS ok`,
    /** wallId, after, limit */
    messagesAfter: `SELECT ${messageColumns} FROM messages m JOIN users u ON u.id = m.user_id
      WHERE m.wall_id = ${$(1)} AND m.id > ${$(2)} ORDER BY m.id LIMIT ${$(3)}`,
    /**
     * wallIds, after, limit. One statement reads one snapshot: with the newest
     * id it returns as the cursor, nothing older on these walls is left behind.
     */
    messagesAfterOnWalls: `SELECT ${messageColumns} FROM messages m JOIN users u ON u.id = m.user_id
      WHERE m.wall_id ${wallIn(1)} AND m.id > ${$(2)} ORDER BY m.id LIMIT ${$(3)}`,
  };
}
