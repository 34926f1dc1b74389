/**
 * What every PostgreSQL connection of Pollster shares, the pool's and the
 * listener's: timeouts, type parsing, which errors mean "unavailable", how a
 * URL is named in messages, and the listener's catch-up read.
 */
import pg from 'pg';

/** Waiting longer than this for a free or new connection counts as "unavailable". */
export const CONNECT_TIMEOUT_MS = 2000;

/** `bigint` (and `count(*)`) as JS numbers rather than strings. */
export const pgTypes = {
  getTypeParser(oid: number, format?: 'text' | 'binary') {
    if (oid === pg.types.builtins.INT8) return (value: string) => Number(value);
    return pg.types.getTypeParser(oid, format);
  },
} as pg.CustomTypesConfig;

/** `host:port/database` of a URL, without credentials, for error messages and the start-up line. */
export function describeUrl(url: string): string {
  try {
    const parsed = new URL(url);
    return `${parsed.hostname || 'localhost'}:${parsed.port || 5432}${parsed.pathname}`;
  } catch {
    return 'DATABASE_URL';
  }
}

/**
 * A PostgreSQL error with a SQLSTATE outside the connection classes is a
 * real error (a bug, a constraint); everything else — refused, reset, timed
 * out, terminated by a restart (57P01..57P03), class 08 — means "try later".
 */
export function isUnavailable(error: unknown): boolean {
  const code = (error as { code?: unknown } | null)?.code;
  if (typeof code === 'string' && /^[0-9A-Z]{5}$/.test(code)) return code.startsWith('08') || code.startsWith('57P');
  return true;
}

/** The newest message id of every wall, read on `client` (the listener's own connection). */
export async function newestPerWall(client: pg.ClientBase): Promise<Array<{ wall_id: number; newest: number }>> {
  // One index probe per wall, however long the messages table grows.
  const { rows } = await client.query<{ wall_id: number; newest: number | null }>(
    'SELECT w.id AS wall_id, (SELECT max(id) FROM messages WHERE wall_id = w.id) AS newest FROM walls w',
  );
  return rows.filter((row): row is { wall_id: number; newest: number } => row.newest !== null);
}
