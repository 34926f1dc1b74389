/**
 * Changes of access under WEB_CONCURRENCY=2 on SQLite: the process that
 * takes the API call is not the only one holding the victim's waits (each
 * process holds some), and the other hears of the change through the
 * `changes` log its data_version watcher reads. Within 1 s, and the keeper
 * loses nothing.
 */
import { join } from 'node:path';
import { afterAll, beforeAll, describe, it } from 'vitest';
import { API_KEY, CHANGES, changeEndsWaits, startForFile } from './helpers/revocation.js';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';

describe('changes of access under WEB_CONCURRENCY=2 (SQLite)', () => {
  let server: Awaited<ReturnType<typeof startForFile>>;
  let dir: string;
  beforeAll(async () => {
    dir = mkdtempSync(join(tmpdir(), 'pollster-revocation-'));
    server = await startForFile({
      WEB_CONCURRENCY: '2',
      MAX_THREADS: '8',
      // Every wait comes from one address and the victim's from one session:
      // the fair shares (test/fair-share.test.ts) would refuse some.
      MAX_WAITS_PER_SESSION: '0',
      MAX_WAITS_PER_CLIENT: '0',
      DB_PATH: join(dir, 'p.db'),
      API_KEY,
    });
  }, 40_000);
  afterAll(async () => {
    await server?.stop();
    rmSync(dir, { recursive: true, force: true });
  });

  it.each(CHANGES)(
    '%s',
    async (change) => {
      await changeEndsWaits({ apiUrl: server.url, clientUrl: server.url, spread: true }, change);
    },
    30_000,
  );
});
