/**
 * `npx tsx bench/redraw.ts [dir]`: draw a report's charts again from its
 * results.json (default bench/results/), after the drawing code changed,
 * without measuring anything again. Each scenario's `draw` turns the `data`
 * it recorded into charts; the SVG files, results.json and report.md are
 * written again from the same results. Scenarios without `draw` and runs of
 * `--configs` or `--url` (whose charts compare.ts draws) are left as they were.
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { writeReport, type Environment, type ReportExtras } from './lib/report.js';
import type { BenchSettings, ScenarioResult } from './lib/scenario.js';
import { ROOT } from './lib/server.js';
import { scenarios } from './scenarios/index.js';

const dir = process.argv[2] ?? join(ROOT, 'bench', 'results');
const saved = JSON.parse(readFileSync(join(dir, 'results.json'), 'utf8')) as {
  environment: Environment;
  settings: BenchSettings;
  results: ScenarioResult[];
} & ReportExtras;
// A --configs or --url run says so in its header; its charts are compare.ts's, not the scenarios'.
const compared = (saved.header ?? []).some((line) => /^(Configurations|Server):/.test(line));
const results = saved.results.map((result) => {
  const scenario = scenarios.find((s) => s.id === result.id);
  if (compared || !scenario?.draw || result.charts.length === 0) return result;
  process.stdout.write(`redrawing ${result.charts.map((c) => c.file).join(', ')}\n`);
  return { ...result, charts: scenario.draw(result.data) };
});
writeReport(dir, saved.environment, saved.settings, results, { header: saved.header, skipped: saved.skipped });
process.stdout.write(`${join(dir, 'report.md')} written again\n`);
