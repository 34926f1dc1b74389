/**
 * How PgStore's rows become Pollster's values, and how its statements are
 * named for preparation.
 */
import type { Message } from './model.js';

/** A post's row, and the wall's previous message id, read under the numbering lock (`pg-schema.ts`, step 5). */
export const POSTED_COLUMNS = "RETURNING id, wall_id, content, created_at, current_setting('pollster.prev_id')::bigint AS prev_id";

export interface PostedRow {
  id: number;
  wall_id: number;
  content: string;
  created_at: Date;
  prev_id: number;
}

export interface MessageRow {
  id: number;
  wall_id: number;
  user: string;
  content: string;
  created_at: Date;
}

export function toMessage(row: MessageRow): Message {
  return { ...row, created_at: row.created_at.toISOString() };
}

/**
 * Every statement is prepared once per connection and then only bound and
 * run: the post's INSERT (with its triggers) goes from 0.77 to 0.49 ms at
 * p50 on loopback (bench/pg-statements.ts). Statements are named by their
 * text; all of Pollster's are constants, and past MAX_PREPARED distinct
 * texts the rest run unnamed, so nothing grows without bound.
 */
const MAX_PREPARED = 200;
const statementNames = new Map<string, string>();

export function statementName(text: string): string | undefined {
  let name = statementNames.get(text);
  if (name === undefined && statementNames.size < MAX_PREPARED) statementNames.set(text, (name = `pollster_${statementNames.size + 1}`));
  return name;
}
