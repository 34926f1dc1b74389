/**
 * The better-sqlite3 build that runs on this Node line.
 *
 * better-sqlite3 12 aborts the process on Node 24.19+ when V8 collects a
 * statement after its worker thread is gone (`node::ObjectWrap` changed).
 * Version 13 moved to node-addon-api and fixes that, but it requires Node 22
 * and crashes on load on Node 20, the line some machines still ship. Both are
 * installed (12 under the npm alias `better-sqlite3-node20`, an optional
 * dependency) and each process loads the one that fits it. Drop the alias
 * when Node 20 leaves `engines`.
 */
import { createRequire } from 'node:module';
import type BetterSqlite3 from 'better-sqlite3';

const nodeMajor = Number(process.versions.node.split('.', 1)[0]);

/** Which package this process loads (test/node-lines.test.ts checks the choice). */
export const sqlitePackage = nodeMajor >= 22 ? 'better-sqlite3' : 'better-sqlite3-node20';

function load(): typeof BetterSqlite3 {
  try {
    // The two versions share one JavaScript API; @types/better-sqlite3 types both.
    return createRequire(import.meta.url)(sqlitePackage) as typeof BetterSqlite3;
  } catch (error) {
    // The Node 20 build is an optional dependency, so that a line it does
    // not compile on still installs; on Node 20 its absence must be plain.
    if (sqlitePackage === 'better-sqlite3') throw error;
    throw new Error(
      `Node ${process.versions.node} needs better-sqlite3 12 (the optional dependency better-sqlite3-node20), which did not install or build: ` +
        'run npm install again (it compiles with python3, make and a C++ compiler), or use Node 22 or newer',
      { cause: error },
    );
  }
}

const Database = load();
export default Database;

export type SqliteDatabase = BetterSqlite3.Database;
export type SqliteStatement<Params extends unknown[] | Record<string, unknown> = unknown[], Row = unknown> = BetterSqlite3.Statement<
  Params,
  Row
>;
