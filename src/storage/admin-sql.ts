/**
 * The SQL of the admin operations (`admin.ts`), written once for both
 * dialects as `sql.ts` writes the rest. Deletes that take dependent rows
 * with them are separate statements run in one transaction by each store:
 * the tables' foreign keys have no ON DELETE CASCADE, and SQLite cannot add
 * one without rebuilding its tables.
 */
import type { Dialect } from './sql.js';

/** Query text by purpose; the comment on each names its parameters in order. */
export function adminQueries({ param: $, wallIn }: Dialect) {
  // A list of session ids: a JSON array in SQLite, a text[] in PostgreSQL.
  const textIn = (n: number): string => ($(n) === '?' ? 'IN (SELECT value FROM json_each(?))' : `= ANY(${$(n)}::text[])`);
  const wall = 'id, name, public';
  return {
    listWalls: `SELECT ${wall} FROM walls ORDER BY id`,
    /** name, public */
    insertWall: `INSERT INTO walls (name, public) VALUES (${$(1)}, ${$(2)}) RETURNING ${wall}`,
    /** name (or NULL: unchanged), public (or NULL), wallId */
    updateWall: `UPDATE walls SET name = COALESCE(${$(1)}, name), public = COALESCE(${$(2)}, public) WHERE id = ${$(3)} RETURNING ${wall}`,
    /** wallId */
    deleteWallMessages: `DELETE FROM messages WHERE wall_id = ${$(1)}`,
    /** wallId */
    deleteWallMemberships: `DELETE FROM memberships WHERE wall_id = ${$(1)}`,
    /** wallId */
    deleteWall: `DELETE FROM walls WHERE id = ${$(1)} RETURNING id`,
    listUsers: 'SELECT id, name FROM users ORDER BY id',
    /** name */
    insertUser: `INSERT INTO users (name) VALUES (${$(1)}) RETURNING id, name`,
    /** userId */
    deleteUserSessions: `DELETE FROM sessions WHERE user_id = ${$(1)} RETURNING 1 AS ok`,
    /** userId */
    deleteUserMemberships: `DELETE FROM memberships WHERE user_id = ${$(1)}`,
    /** userId */
    deleteUserMessages: `DELETE FROM messages WHERE user_id = ${$(1)}`,
    /** userId */
    deleteUser: `DELETE FROM users WHERE id = ${$(1)} RETURNING id`,
    /** userId, wallId. Nothing when either is missing (no foreign-key error), nor when already a member. */
    addMember: `INSERT INTO memberships (user_id, wall_id)
      SELECT u.id, w.id FROM users u, walls w WHERE u.id = ${$(1)} AND w.id = ${$(2)} ON CONFLICT DO NOTHING`,
    /** wallId, userId */
    removeMember: `DELETE FROM memberships WHERE wall_id = ${$(1)} AND user_id = ${$(2)} RETURNING 1 AS ok`,
    /** wallId */
    wallPublic: `SELECT public FROM walls WHERE id = ${$(1)}`,
    /** wallId, userIds. (`wallIn` is the dialect's "is one of these ids", for any bigint column.) */
    membersAmong: `SELECT user_id FROM memberships WHERE wall_id = ${$(1)} AND user_id ${wallIn(2)}`,
    /** sessionIds, now */
    liveSessions: `SELECT id FROM sessions WHERE id ${textIn(1)} AND expires_at > ${$(2)}`,
    /** afterId (SQLite only: PostgreSQL notifies instead) */
    changesSince: `SELECT id, kind, wall_id, user_id, session_id FROM changes WHERE id > ${$(1)} ORDER BY id`,
    lastChangeId: 'SELECT COALESCE(MAX(id), 0) AS id FROM changes',
  };
}
