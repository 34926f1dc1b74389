/**
 * `npm run bench [-- --quick] [--scenarios a,b] [--threads 1,2,4] [--duration 3] [--runs 2]`
 *
 * Builds the server, runs each scenario against fresh server processes on
 * loopback, and writes bench/results/ (bench/results/quick/ for --quick):
 * results.json, report.md and the SVG charts it embeds.
 */
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { describeEnvironment, writeReport } from './lib/report.js';
import type { BenchSettings, Scenario, ScenarioResult } from './lib/scenario.js';
import { buildServer, ROOT } from './lib/server.js';
import { deliveryLatency } from './scenarios/delivery-latency.js';
import { emDefer } from './scenarios/em-defer.js';
import { fanOut } from './scenarios/fan-out.js';
import { heldPolls } from './scenarios/held-polls.js';
import { hosts } from './scenarios/hosts.js';
import { hostsNetns } from './scenarios/hosts-netns.js';
import { poolCapacity } from './scenarios/pool-capacity.js';
import { shortVsLong } from './scenarios/short-vs-long.js';
import { stuckPolls } from './scenarios/stuck-polls.js';

const scenarios: Scenario[] = [stuckPolls, deliveryLatency, fanOut, poolCapacity, emDefer, shortVsLong, heldPolls, hosts, hostsNetns];

function list(text: string | undefined, fallback: number[]): number[] {
  if (!text) return fallback;
  const values = text.split(',').map(Number);
  if (values.some((v) => !Number.isSafeInteger(v) || v < 1)) throw new Error(`not a list of positive integers: ${text}`);
  return values;
}

const argv = process.argv.slice(2);
const { values } = parseArgs({
  args: argv,
  options: {
    quick: { type: 'boolean', default: false },
    scenarios: { type: 'string' },
    threads: { type: 'string' },
    duration: { type: 'string' },
    runs: { type: 'string' },
    out: { type: 'string' },
  },
});

const quick = values.quick ?? false;
const settings: BenchSettings = {
  quick,
  threads: list(values.threads, quick ? [1, 4] : [1, 2, 4, 8, 16, 32]),
  durationS: list(values.duration, [quick ? 1 : 3])[0]!,
  runs: list(values.runs, [quick ? 1 : 2])[0]!,
  messages: quick ? 20 : 100,
  heldPolls: quick ? 1000 : 10_000,
  heldStreams: quick ? 100 : 1000,
};
const chosen = values.scenarios ? values.scenarios.split(',') : scenarios.map((s) => s.id);
const unknown = chosen.filter((id) => !scenarios.some((s) => s.id === id));
if (unknown.length) {
  process.stderr.write(`unknown scenario(s): ${unknown.join(', ')}; known: ${scenarios.map((s) => s.id).join(', ')}\n`);
  process.exit(2);
}

const started = Date.now();
const log = (line: string): void => {
  process.stdout.write(`[${((Date.now() - started) / 1000).toFixed(0).padStart(4)} s] ${line}\n`);
};

log('building the server (tsc)…');
buildServer();
const environment = describeEnvironment(argv);
const results: ScenarioResult[] = [];
for (const scenario of scenarios.filter((s) => chosen.includes(s.id))) {
  log(`── ${scenario.title}`);
  results.push(await scenario.run(settings, (line) => log(`  ${line}`)));
}
const dir = values.out ?? join(ROOT, 'bench', 'results', ...(quick ? ['quick'] : []));
writeReport(dir, environment, settings, results);
const missed = results.flatMap((r) => r.targets.filter((t) => !t.met).map((t) => `${r.title}: ${t.goal} (${t.measured})`));
log(`report written to ${join(dir, 'report.md')}`);
for (const line of missed) log(`target missed — ${line}`);
