/**
 * Bounded history (HISTORY_MAX_PER_WALL, HISTORY_MAX_AGE_S): the shapes the
 * stores answer with and the SQL both backends run, written once as in
 * `sql.ts`. The dialects differ only in parameters and in how `created_at`
 * is kept (epoch ms in SQLite, `timestamptz` in PostgreSQL).
 *
 * The watermark is `walls.history_floor`: every message of the wall with an
 * id at or below it is gone, or will be once the pruner's grace has passed
 * (`history-pruner.ts`). Pruning only ever removes a prefix of a wall (its
 * oldest messages), so everything above the floor is still there.
 */
import { type Dialect, POSTGRES, SQLITE } from './sql.js';

/** A wall's watermark: messages of `wall_id` with id ≤ `floor` may be gone. */
export interface HistoryFloor {
  wall_id: number;
  floor: number;
}

/** What the pruner reads of every wall each run: cheap index probes, whatever the table's size. */
export interface WallHistory extends HistoryFloor {
  /** Newest message id (0 without messages). */
  newest: number;
  /** Oldest message id still stored, at or below the floor while deletes are pending (null without messages). */
  oldest: number | null;
  /** created_at, epoch ms, of the oldest message above the floor (null when there is none). */
  oldest_kept_at: number | null;
}

/** What a wall may keep: `maxPerWall` newest messages (0: no cap), none older than `cutoffMs` (epoch ms; null: no age limit). */
export interface HistoryPolicy {
  maxPerWall: number;
  cutoffMs: number | null;
  /** Most messages one age check looks at past the floor. */
  scan: number;
}

/** Above every id a client may send (2^53−1): "no young message in the window". */
const BEYOND_IDS = '9007199254740992';

interface HistoryDialect extends Dialect {
  /** `created_at` as epoch ms. */
  epochMs(column: string): string;
  /** Parameter n (epoch ms) in `created_at`'s type. */
  fromEpochMs(n: number): string;
}

export const SQLITE_HISTORY: HistoryDialect = { ...SQLITE, epochMs: (column) => column, fromEpochMs: () => '?' };

export const POSTGRES_HISTORY: HistoryDialect = {
  ...POSTGRES,
  epochMs: (column) => `(extract(epoch FROM ${column}) * 1000)::bigint`,
  fromEpochMs: (n) => `to_timestamp($${n}::bigint / 1000.0)`,
};

/** Query text by purpose; the comment on each names its parameters in order. */
export function historyQueries({ param: $, epochMs, fromEpochMs }: HistoryDialect) {
  return {
    floors: 'SELECT id AS wall_id, history_floor AS floor FROM walls WHERE history_floor > 0 ORDER BY id',
    /** One row per wall, three index probes each. */
    overview: `SELECT w.id AS wall_id, w.history_floor AS floor,
        COALESCE((SELECT max(id) FROM messages WHERE wall_id = w.id), 0) AS newest,
        (SELECT min(id) FROM messages WHERE wall_id = w.id) AS oldest,
        (SELECT ${epochMs('created_at')} FROM messages WHERE wall_id = w.id AND id > w.history_floor ORDER BY id LIMIT 1) AS oldest_kept_at
      FROM walls w ORDER BY w.id`,
    /** wallId, keep. The newest id past the `keep` newest: it and everything older may go. */
    capTarget: `SELECT id AS target FROM messages WHERE wall_id = ${$(1)} ORDER BY id DESC LIMIT 1 OFFSET ${$(2)}`,
    /**
     * wallId, floor, scan, cutoff. Of the `scan` oldest messages above the
     * floor, the newest id before the first one young enough to keep: a
     * prefix, so a message stamped out of order (another host's clock) stops
     * the age limit rather than being skipped over.
     */
    ageTarget: `WITH win AS (SELECT id, created_at FROM messages WHERE wall_id = ${$(1)} AND id > ${$(2)} ORDER BY id LIMIT ${$(3)})
      SELECT max(id) AS target FROM win
      WHERE id < COALESCE((SELECT min(id) FROM win WHERE created_at >= ${fromEpochMs(4)}), ${BEYOND_IDS})`,
    /** floor, wallId, floor. Only ever raises it: idempotent, whichever process runs it first. */
    raiseFloor: `UPDATE walls SET history_floor = ${$(1)} WHERE id = ${$(2)} AND history_floor < ${$(3)} RETURNING history_floor AS floor`,
    /** wallId, floor, limit. Bounded: one statement holds few rows (a short write lock), oldest first. */
    prune: `DELETE FROM messages WHERE id IN (SELECT id FROM messages WHERE wall_id = ${$(1)} AND id <= ${$(2)} ORDER BY id LIMIT ${$(3)})`,
  };
}

/** The floor a wall's policy allows, from its two candidate targets; null when it does not move. */
export function raisedFloor(floor: number, cap: number | null | undefined, age: number | null | undefined): number | null {
  const target = Math.max(cap ?? 0, age ?? 0);
  return target > floor ? target : null;
}
