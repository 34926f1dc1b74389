/**
 * The better-sqlite3 build that runs on this Node line.
 *
 * better-sqlite3 12 aborts the process on Node 24.19+ when V8 collects a
 * statement after its worker thread is gone (`node::ObjectWrap` changed).
 * Version 13 moved to node-addon-api and fixes that, but it requires Node 22
 * and crashes on load on Node 20, the line some machines still ship. Both are
 * installed (12 under the npm alias `better-sqlite3-node20`) and each process
 * loads the one that fits it. Drop the alias when Node 20 leaves `engines`.
 */
import { createRequire } from 'node:module';
import type BetterSqlite3 from 'better-sqlite3';

const nodeMajor = Number(process.versions.node.split('.', 1)[0]);

/** Which package this process loads (test/node-lines.test.ts checks the choice). */
export const sqlitePackage = nodeMajor >= 22 ? 'better-sqlite3' : 'better-sqlite3-node20';

// The two versions share one JavaScript API; @types/better-sqlite3 types both.
const Database = createRequire(import.meta.url)(sqlitePackage) as typeof BetterSqlite3;
export default Database;

export type SqliteDatabase = BetterSqlite3.Database;
export type SqliteStatement<
  Params extends unknown[] | {} = unknown[],
  Row = unknown,
> = BetterSqlite3.Statement<Params, Row>;
