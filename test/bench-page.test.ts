/**
 * The README's promise: open your server's page, run `npm run bench -- --url`
 * against it, and watch the pool chart fill. Debian's Chromium through
 * playwright-core, as in browser.test.ts.
 */
import { describe, expect, it } from 'vitest';
import { runBench } from './helpers/bench.js';
import { launchChromium } from './helpers/chromium.js';
import { eventually, startTestServer, tempDir } from './helpers/server.js';

/** The running-task line's values, from its SVG points (y = 100 - busy / max × 95). */
function busyValues(points: string, max: number): number[] {
  return points
    .trim()
    .split(/\s+/)
    .filter(Boolean)
    .map((point) => Math.round(((100 - Number(point.split(',')[1])) / 95) * max));
}

describe('the page during a --url bench', () => {
  it('shows the pool chart filling while the bench holds polls', async () => {
    const server = await startTestServer({ MAX_THREADS: '3' });
    const browser = await launchChromium();
    const page = await browser.newPage({ viewport: { width: 1280, height: 800 } });
    await page.goto(server.url);
    await page.locator('#stat-threads', { hasText: 'of 3' }).waitFor({ timeout: 5000 });
    const chart = async () => {
      const max = Number(await page.locator('#chart-max').textContent());
      return busyValues((await page.locator('#line-busy').getAttribute('points')) ?? '', max);
    };
    // Before anyone logs in the page follows the public walls: its own one wait.
    await eventually(() => server.pollster.stats().waiting_polls === 1, 10_000);
    const idle = server.pollster.stats().pool.busy;
    expect(idle).toBeLessThanOrEqual(1);
    expect(Math.max(...(await chart()))).toBeLessThanOrEqual(idle);

    const run = runBench(['--quick', '--url', server.url, '--scenarios', 'stuck-polls', '--out', tempDir('pollster-bench-page-')]);
    // The chart samples /stats once a second; the bench holds each level ≥ 2.5 s.
    await eventually(async () => Number(await page.locator('#chart-max').textContent()) >= 3, 30_000).catch((error: Error) => {
      throw new Error(`${error.message}; the bench printed:\n${run.stdout()}`);
    });
    const during = await chart();
    expect(Math.max(...during)).toBe(3);
    expect(await page.locator('#stat-threads').textContent()).toBe('3 of 3');

    const result = await run.finished(60_000);
    expect(result.code, result.stderr + result.stdout).toBe(0);
    // The bench's polls are gone and the line comes back down to the page's own.
    await page.locator('#stat-busy', { hasText: new RegExp(`^${idle} of`) }).waitFor({ timeout: 10_000 });
  }, 120_000);
});
