/**
 * The triggers that announce access changes (`changes.ts`), as migration
 * steps of each backend (appended to `sqlite-schema.ts` and `pg-schema.ts`).
 * Triggers rather than code in the store: a session deleted by `psql`, or a
 * membership removed by another application, reaches running servers too,
 * and the announcement commits (or rolls back) with the change itself.
 */
import { CHANGES_CHANNEL, PG_SESSION_KEY } from './changes.js';

/**
 * SQLite: a `changes` log every process reads past its last id. Rows older
 * than a minute are pruned on every 64th insert: a watcher reads the log
 * every WATCH_INTERVAL_MS while anything waits, and when nothing waits no
 * change can concern it.
 */
export const SQLITE_CHANGES_SCHEMA = `
  CREATE TABLE changes (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    kind TEXT NOT NULL,
    wall_id INTEGER,
    user_id INTEGER,
    session_id TEXT,
    at INTEGER NOT NULL DEFAULT (CAST(strftime('%s', 'now') AS INTEGER) * 1000)
  );
  CREATE TRIGGER sessions_changes AFTER DELETE ON sessions BEGIN
    INSERT INTO changes (kind, user_id, session_id) VALUES ('session', OLD.user_id, OLD.id);
  END;
  CREATE TRIGGER users_changes AFTER DELETE ON users BEGIN
    INSERT INTO changes (kind, user_id) VALUES ('user', OLD.id);
  END;
  CREATE TRIGGER memberships_changes AFTER DELETE ON memberships BEGIN
    INSERT INTO changes (kind, wall_id, user_id) VALUES ('member', OLD.wall_id, OLD.user_id);
  END;
  CREATE TRIGGER walls_deleted_changes AFTER DELETE ON walls BEGIN
    INSERT INTO changes (kind, wall_id) VALUES ('wall', OLD.id);
  END;
  CREATE TRIGGER walls_private_changes AFTER UPDATE OF public ON walls WHEN OLD.public AND NOT NEW.public BEGIN
    INSERT INTO changes (kind, wall_id) VALUES ('wall', NEW.id);
  END;
  CREATE TRIGGER changes_prune AFTER INSERT ON changes WHEN NEW.id % 64 = 0 BEGIN
    DELETE FROM changes WHERE at < NEW.at - 60000;
  END;
`;

const notifyEach = (name: string, payload: string): string => `
  CREATE OR REPLACE FUNCTION ${name}() RETURNS trigger LANGUAGE plpgsql AS $$
  BEGIN
    PERFORM pg_notify('${CHANGES_CHANNEL}', ${payload}) FROM gone;
    RETURN NULL;
  END $$;`;

/**
 * PostgreSQL: NOTIFYs on `pollster_changes`, delivered at commit to every
 * LISTENing process. Deletes notify per statement (one trigger call for the
 * thousand sessions a prune run deletes); walls per row, since a wall's
 * update notifies only when it turns private.
 */
export const PG_CHANGES_SCHEMA = `
  ${notifyEach('pollster_sessions_changed', `'session:' || user_id || ':' || ${PG_SESSION_KEY('id')}`)}
  DROP TRIGGER IF EXISTS sessions_changes ON sessions;
  CREATE TRIGGER sessions_changes AFTER DELETE ON sessions
    REFERENCING OLD TABLE AS gone FOR EACH STATEMENT EXECUTE FUNCTION pollster_sessions_changed();

  ${notifyEach('pollster_users_changed', `'user:' || id`)}
  DROP TRIGGER IF EXISTS users_changes ON users;
  CREATE TRIGGER users_changes AFTER DELETE ON users
    REFERENCING OLD TABLE AS gone FOR EACH STATEMENT EXECUTE FUNCTION pollster_users_changed();

  ${notifyEach('pollster_memberships_changed', `'member:' || wall_id || ':' || user_id`)}
  DROP TRIGGER IF EXISTS memberships_changes ON memberships;
  CREATE TRIGGER memberships_changes AFTER DELETE ON memberships
    REFERENCING OLD TABLE AS gone FOR EACH STATEMENT EXECUTE FUNCTION pollster_memberships_changed();

  CREATE OR REPLACE FUNCTION pollster_wall_changed() RETURNS trigger LANGUAGE plpgsql AS $$
  BEGIN
    PERFORM pg_notify('${CHANGES_CHANNEL}', 'wall:' || OLD.id);
    RETURN NULL;
  END $$;
  DROP TRIGGER IF EXISTS walls_deleted_changes ON walls;
  CREATE TRIGGER walls_deleted_changes AFTER DELETE ON walls
    FOR EACH ROW EXECUTE FUNCTION pollster_wall_changed();
  DROP TRIGGER IF EXISTS walls_private_changes ON walls;
  CREATE TRIGGER walls_private_changes AFTER UPDATE OF public ON walls
    FOR EACH ROW WHEN (OLD.public AND NOT NEW.public) EXECUTE FUNCTION pollster_wall_changed();
`;
