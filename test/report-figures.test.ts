/**
 * Figures docs/benchmarks.md quotes from the committed benchmark report must
 * be the report's own: the RSS one thread costs, and how long `npm run bench`
 * took. A new run that moves them fails here until the docs follow. Both
 * name what they measure, never "issue N".
 * "About 13 minutes", "≈ 8.7 MiB", "9 MiB" all pass when they round from the
 * report's figure; a figure the report does not support fails.
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { ROOT } from './helpers/process.js';

const results = JSON.parse(readFileSync(join(ROOT, 'bench', 'results', 'results.json'), 'utf8')) as {
  environment: { command: string; durationS?: number };
  results: Array<{ id: string; data: any; tables: Array<{ title: string }> }>;
};
const report = readFileSync(join(ROOT, 'bench', 'results', 'report.md'), 'utf8');
const docs = readFileSync(join(ROOT, 'docs', 'benchmarks.md'), 'utf8');

interface Quote {
  value: number;
  /** Half a unit of the last digit written: "8.7" may stand for 8.65–8.75, "9" for 8.5–9.5. */
  slack: number;
  text: string;
}

/** Every number written just before `unit` ("≈ 8.7 MiB per thread", "about 9 MiB each"). */
function quotes(text: string, unit: RegExp): Quote[] {
  const pattern = new RegExp(String.raw`(\d+(?:\.(\d+))?)\s*${unit.source}`, 'g');
  return [...text.matchAll(pattern)].map((m) => ({
    value: Number(m[1]),
    slack: 0.5 * 10 ** -(m[2]?.length ?? 0) + 1e-9,
    text: m[0].replace(/\s+/g, ' '),
  }));
}

function expectQuotesOf(quoted: Quote[], actual: number, what: string): void {
  for (const quote of quoted) {
    expect(
      Math.abs(quote.value - actual),
      `docs/benchmarks.md says "${quote.text}"; the report's ${what} is ${actual.toFixed(3)}`,
    ).toBeLessThanOrEqual(quote.slack);
  }
}

describe('the benchmark report and docs/benchmarks.md', () => {
  it('name what is measured, not an issue by number', () => {
    for (const [name, text] of [
      ['bench/results/report.md', report],
      ['docs/benchmarks.md', docs],
    ]) {
      expect(text!.match(/.{0,30}\bissues? #?\d+.{0,30}/gi) ?? [], name).toEqual([]);
    }
  });
});

describe('figures docs/benchmarks.md quotes from bench/results/', () => {
  const capacity = results.results.find((r) => r.id === 'pool-capacity');

  it('the RSS of one thread, and of one step of MIN_THREADS = MAX_THREADS', () => {
    expect(capacity, 'the committed report has a pool-capacity result').toBeDefined();
    const perThread: number = capacity!.data.mibPerThread;
    const perStep: number = capacity!.data.mibPerStep;
    expect(perThread).toBeGreaterThan(0);
    // report.md says what results.json says.
    expectQuotesOf(quotes(capacity!.tables.map((t) => t.title).join('\n'), /MiB per thread/), perThread, 'RSS per thread');
    expect(quotes(report, /MiB per thread/).length).toBeGreaterThan(0);
    expectQuotesOf(quotes(report, /MiB per thread/), perThread, 'RSS per thread');
    // The docs quote it, and every quote rounds from it.
    const perThreadQuotes = quotes(docs, /MiB per thread/);
    expect(perThreadQuotes.length, 'docs/benchmarks.md quotes the RSS per thread').toBeGreaterThan(0);
    expectQuotesOf(perThreadQuotes, perThread, 'RSS per thread');
    expectQuotesOf(quotes(docs, /MiB per step/), perStep, 'RSS per step of T');
  });

  it('how long the full run takes', () => {
    // The command block: "npm run bench   # the standard suite, about 13 minutes …".
    const full = [...docs.matchAll(/^npm run bench\s+#[^\n]*?about (\d+) minutes/gm)].map((m) => Number(m[1]));
    const quick = [...docs.matchAll(/^npm run bench -- --quick\s+#[^\n]*?about (\d+) minutes/gm)].map((m) => Number(m[1]));
    expect(full, 'docs/benchmarks.md says how long `npm run bench` takes').toHaveLength(1);
    expect(quick, 'docs/benchmarks.md says how long `--quick` takes').toHaveLength(1);
    // Elsewhere in the text, the same figures or none.
    for (const m of docs.matchAll(/full (?:run|bench|suite)[^.]*?about (\d+) minutes/g)) expect(Number(m[1]), m[0]).toBe(full[0]);
    const recorded = results.environment.durationS;
    if (recorded === undefined) {
      // Reports written before the bench timed itself carry no duration; the next full run records one.
      expect(report).not.toMatch(/^- Duration:/m);
      return;
    }
    expect(results.environment.command).toBe('npm run bench');
    expect(report).toMatch(/^- Duration: \d+ min \d+ s/m);
    expect(
      Math.abs(full[0]! - recorded / 60),
      `docs say about ${full[0]} minutes; the report took ${(recorded / 60).toFixed(1)}`,
    ).toBeLessThan(1);
  });
});
