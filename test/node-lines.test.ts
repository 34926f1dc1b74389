/**
 * The supported Node.js lines. `engines`, the lines `.ci/run`
 * tests and the README agree, and each line loads the better-sqlite3 build
 * that runs on it (src/storage/sqlite-driver.ts).
 */
import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { describe, expect, it } from 'vitest';
import Database, { sqlitePackage } from '../src/storage/sqlite-driver.js';

const root = new URL('../', import.meta.url);
const read = (path: string) => readFileSync(new URL(path, root), 'utf8');
const nodeMajor = Number(process.versions.node.split('.', 1)[0]);

describe('supported Node.js lines', () => {
  const engines: string = JSON.parse(read('package.json')).engines.node;
  const engineMajors = [...engines.matchAll(/\^(\d+)\./g)].map((match) => Number(match[1]));

  it('engines names the running line', () => {
    expect(engineMajors).toContain(nodeMajor);
  });

  it('.ci/run tests every line in engines: the machine’s, then each other one', () => {
    const ciLines = read('.ci/run')
      .match(/^for line in ([\d ]+); do$/m)?.[1]
      ?.split(' ')
      .map(Number);
    expect(ciLines).toBeDefined();
    // The machine's own line (20) runs first, outside the loop.
    expect([20, ...ciLines!].sort((a, b) => a - b)).toEqual([...engineMajors].sort((a, b) => a - b));
  });

  it('the README names them', () => {
    const section = read('README.md').split('### Supported Node.js versions')[1]!.split('\n\n')[1]!;
    for (const major of engineMajors) expect(section).toContain(String(major));
  });
});

describe('the SQLite driver', () => {
  it('is better-sqlite3 13 on Node 22 and newer, 12 on Node 20', () => {
    const { version } = createRequire(import.meta.url)(`${sqlitePackage}/package.json`) as { version: string };
    expect(Number(version.split('.', 1)[0])).toBe(nodeMajor >= 22 ? 13 : 12);
  });

  it('opens, writes and reads', () => {
    const db = new Database(':memory:');
    try {
      db.exec('CREATE TABLE t (x INTEGER)');
      db.prepare('INSERT INTO t VALUES (?)').run(2 ** 53 - 1);
      expect(db.prepare('SELECT x FROM t').safeIntegers(true).get()).toEqual({ x: 2n ** 53n - 1n });
    } finally {
      db.close();
    }
  });
});
