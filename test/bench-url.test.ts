/**
 * `npm run bench -- --url`: the bench measures a server it did not start,
 * reads its configuration from /stats, holds T then 2T polls, posts to one
 * wall only, lists what it skipped, and refuses addresses off this machine.
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { runBench } from './helpers/bench.js';
import { startTestServer, tempDir } from './helpers/server.js';

describe('npm run bench -- --url', () => {
  it('benchmarks a running MAX_THREADS=3 server: its configuration in the header, stuck polls at 3 and 6', async () => {
    const server = await startTestServer({ MAX_THREADS: '3' });
    const session = await server.login();
    const before = (await server.call('GET', '/walls/1/messages', { session })).json.messages.length;
    const out = tempDir('pollster-bench-url-');
    const run = await runBench(['--quick', '--url', server.url, '--scenarios', 'stuck-polls,pool-capacity', '--out', out]).finished(60_000);
    expect(run.code, run.stderr + run.stdout).toBe(0);

    const report = readFileSync(join(out, 'report.md'), 'utf8');
    expect(report).toContain(`Server: ${server.url}, already running`);
    expect(report).toMatch(/Server configuration \(from \/stats\): mode pool, .*max_threads 3/);
    expect(report).toContain('Posts only to wall 4 (Random), as user demo');
    expect(report).toMatch(/\| Pool capacity and memory per thread \| .*503/);

    const results = JSON.parse(readFileSync(join(out, 'results.json'), 'utf8'));
    const stuck = results.results.find((r: { id: string }) => r.id === 'stuck-polls');
    const [measured] = stuck.data;
    expect(measured.data.threads).toBe(3);
    // held polls, running, queued, refused: T polls run; 2T fill the pool and queue T.
    expect(measured.rows.map((row: unknown[]) => row.slice(0, 4))).toEqual([
      ['none (baseline)', 0, 0, 0],
      ['3 (T)', 3, 0, 0],
      ['6 (2T)', 3, 3, 0],
    ]);
    expect(server.pollster.stats().waiting_polls).toBe(0);
    // Stuck polls load /ping only: no message written to any wall.
    expect((await server.call('GET', '/walls/1/messages', { session })).json.messages.length).toBe(before);
  }, 90_000);

  it('refuses an address that is not loopback unless --allow-remote is given', async () => {
    const run = await runBench(['--quick', '--url', 'http://192.0.2.1:3000']).done;
    expect(run.code).toBe(2);
    expect(run.stderr.trim()).toBe(
      'bench: --url http://192.0.2.1:3000: 192.0.2.1 is not a loopback address; the bench loads the server hard, so pass --allow-remote if it is yours',
    );
  });
});
