/**
 * `npm run bench -- --configs`: scenarios run once per env-var configuration
 * and the report sets them side by side; the bench's own environment applies
 * to every configuration; a bad variable stops the bench at once with the
 * server's own config error.
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { parseConfiguration, pollsterVariables } from '../bench/lib/sources.js';
import { runBench } from './helpers/bench.js';
import { tempDir } from './helpers/server.js';

describe('npm run bench -- --configs', () => {
  it('runs stuck polls on two configurations and reports both side by side', async () => {
    const out = tempDir('pollster-bench-configs-');
    const run = await runBench(
      ['--quick', '--configs', 'MAX_THREADS=2', 'MAX_THREADS=3 WAKE=sleep', '--scenarios', 'stuck-polls', '--out', out],
      {
        MAX_QUEUE: '50',
      },
    ).finished(100_000);
    expect(run.code, run.stderr + run.stdout).toBe(0);
    // Each child server's URL is printed while its scenario runs.
    expect(run.stdout).toMatch(/pollster at http:\/\/127\.0\.0\.1:\d+ \(.*MAX_THREADS=2\)/);
    expect(run.stdout).toMatch(/pollster at http:\/\/127\.0\.0\.1:\d+ \(.*MAX_THREADS=3 WAKE=sleep\)/);

    const report = readFileSync(join(out, 'report.md'), 'utf8');
    expect(report).toContain('Configurations, each a child server: `MAX_THREADS=2`, `MAX_THREADS=3 WAKE=sleep`');
    expect(report).toContain("From the bench's own environment, applied to every configuration: `MAX_QUEUE=50`");
    expect(report).toMatch(/^\| `MAX_THREADS=2` \| 2 \(T\) \| 2 \| 0 \|/m);
    expect(report).toMatch(/^\| `MAX_THREADS=3 WAKE=sleep` \| 6 \(2T\) \| 3 \| 3 \|/m);
    expect(report).toContain('![/ping req/s with T and 2T polls held, % of baseline, by configuration](stuck-polls-configs.svg)');
    const svg = readFileSync(join(out, 'stuck-polls-configs.svg'), 'utf8');
    expect(svg).toContain('MAX_THREADS=3');

    const results = JSON.parse(readFileSync(join(out, 'results.json'), 'utf8'));
    const [first, second] = results.results[0].data;
    expect([first.label, second.label]).toEqual(['MAX_THREADS=2', 'MAX_THREADS=3 WAKE=sleep']);
    expect([first.data.threads, second.data.threads]).toEqual([2, 3]);
    // MAX_QUEUE=50 in the bench's environment beat the scenario's own default.
    expect([first.data.maxQueue, second.data.maxQueue]).toEqual([50, 50]);
    for (const measured of [first, second]) {
      for (const row of measured.rows) expect(row[4]).toBeGreaterThan(0);
    }
  }, 120_000);

  it('a bad variable fails at once with the config error, naming the configuration', async () => {
    const run = await runBench(['--quick', '--configs', 'MAX_THREADS=4', 'POLL_MODE=fast MAX_THREADS=2']).done;
    expect(run.code).toBe(2);
    expect(run.stderr.trim()).toBe(
      'bench: configuration "POLL_MODE=fast MAX_THREADS=2": pollster: POLL_MODE must be one of pool, inline, multiplex (got "fast")',
    );
    expect(run.stdout).not.toContain('building');
  });

  it('checks names and the bench environment as the server would', () => {
    expect(parseConfiguration('  MAX_THREADS=4   MAX_QUEUE=10 ', {})).toEqual({
      label: 'MAX_THREADS=4 MAX_QUEUE=10',
      env: { MAX_THREADS: '4', MAX_QUEUE: '10' },
    });
    expect(() => parseConfiguration('MAX_THREAD=4', {})).toThrow(
      /^configuration "MAX_THREAD=4": pollster reads no variable MAX_THREAD \(it reads .*MAX_THREADS/,
    );
    expect(() => parseConfiguration('MAX_THREADS', {})).toThrow('configuration "MAX_THREADS": "MAX_THREADS" is not NAME=value');
    expect(() => parseConfiguration('DB_PATH=/tmp/x.db', {})).toThrow(/DB_PATH is set by the bench/);
    // The bench's own environment counts: MIN_THREADS=8 there makes MAX_THREADS=4 invalid.
    expect(() => parseConfiguration('MAX_THREADS=4', { MIN_THREADS: '8' })).toThrow(
      'configuration "MAX_THREADS=4": pollster: MIN_THREADS must not exceed MAX_THREADS (got 8 > 4)',
    );
    expect(pollsterVariables({ MAX_QUEUE: '50', PATH: '/usr/bin', PORT: '3000' })).toEqual({ MAX_QUEUE: '50' });
  });
});
