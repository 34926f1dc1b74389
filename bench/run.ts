/**
 * `npm run bench [-- --quick] [--scenarios a,b] [--threads 1,2,4] [--duration 3] [--runs 2]`
 * `npm run bench -- --configs "MAX_THREADS=4" "POLL_MODE=multiplex MAX_THREADS=2"`
 * `npm run bench -- --url http://127.0.0.1:3000 [--allow-remote] [--wall 4] [--user demo]`
 *
 * Three ways to compare. By default each scenario sweeps the settings it
 * compares (pool sizes, wake modes) on fresh child servers. With --configs,
 * the scenarios run once per configuration (env vars as written before
 * `npm start`) and the report sets them side by side. With --url, the
 * scenarios that make sense from outside run against a server already
 * running. Writes results.json, report.md and SVG charts under
 * bench/results/ (quick/, configs/ or url/ below it for those runs).
 */
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { compareScenario } from './lib/compare.js';
import { describeEnvironment, writeReport, type ReportExtras } from './lib/report.js';
import type { BenchSettings, Scenario, ScenarioResult, ServerSource } from './lib/scenario.js';
import { buildServer, onServerStarted, ROOT } from './lib/server.js';
import { BenchUsageError, childSource, describeStats, parseConfiguration, pollsterVariables, urlSource } from './lib/sources.js';
import { deliveryLatency } from './scenarios/delivery-latency.js';
import { emDefer } from './scenarios/em-defer.js';
import { emDeferComparison } from './scenarios/em-defer-compare.js';
import { fanOut } from './scenarios/fan-out.js';
import { heldPolls } from './scenarios/held-polls.js';
import { hosts } from './scenarios/hosts.js';
import { hostsNetns } from './scenarios/hosts-netns.js';
import { hostileNeighbours } from './scenarios/hostile-neighbours.js';
import { poolCapacity } from './scenarios/pool-capacity.js';
import { shortVsLong } from './scenarios/short-vs-long.js';
import { stuckPolls } from './scenarios/stuck-polls.js';
import { vsBaseline } from './scenarios/vs-baseline.js';

/** Every scenario, in the order they run. A new one goes here and nowhere else. */
const scenarios: Scenario[] = [
  stuckPolls,
  deliveryLatency,
  fanOut,
  poolCapacity,
  { ...emDefer, compare: emDeferComparison },
  shortVsLong,
  heldPolls,
  vsBaseline,
  hosts,
  hostsNetns,
  hostileNeighbours,
];

function list(text: string | undefined, fallback: number[]): number[] {
  if (!text) return fallback;
  const values = text.split(',').map(Number);
  if (values.some((v) => !Number.isSafeInteger(v) || v < 1)) throw new BenchUsageError(`not a list of positive integers: ${text}`);
  return values;
}

const argv = process.argv.slice(2);
const started = Date.now();
const log = (line: string): void => {
  process.stdout.write(`[${((Date.now() - started) / 1000).toFixed(0).padStart(4)} s] ${line}\n`);
};

async function main(): Promise<void> {
  const { values, positionals } = parseArgs({
    args: argv,
    allowPositionals: true,
    options: {
      quick: { type: 'boolean', default: false },
      scenarios: { type: 'string' },
      threads: { type: 'string' },
      duration: { type: 'string' },
      runs: { type: 'string' },
      out: { type: 'string' },
      configs: { type: 'string', multiple: true },
      url: { type: 'string' },
      'allow-remote': { type: 'boolean', default: false },
      wall: { type: 'string' },
      user: { type: 'string', default: 'demo' },
    },
  });
  // `--configs "A=1" "B=2"`: the words after the first land in positionals.
  const configTexts = values.configs ? [...values.configs, ...positionals] : [];
  if (positionals.length && !values.configs) throw new BenchUsageError(`unexpected argument(s): ${positionals.join(' ')}`);
  if (values.url && values.configs) throw new BenchUsageError('--url and --configs do not mix: one measures your server, the other starts its own');
  const mode = values.url ? 'url' : values.configs ? 'configs' : 'sweep';

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

  // Check everything that can be wrong before anything starts.
  const sources: ServerSource[] = [];
  const extras: ReportExtras = { header: [], skipped: [] };
  if (mode === 'configs') {
    if (configTexts.length === 0) throw new BenchUsageError('--configs needs at least one configuration, e.g. --configs "MAX_THREADS=4" "MAX_THREADS=16"');
    for (const text of configTexts) sources.push(childSource(parseConfiguration(text)));
    const shared = Object.entries(pollsterVariables()).map(([k, v]) => `${k}=${v}`);
    extras.header!.push(
      `Configurations, each a child server: ${sources.map((s) => `\`${s.label}\``).join(', ')}`,
      `From the bench's own environment, applied to every configuration: ${shared.length ? shared.map((s) => `\`${s}\``).join(' ') : 'none'}`,
    );
  }
  if (mode === 'url') {
    const wall = values.wall === undefined ? undefined : list(values.wall, [])[0];
    const external = await urlSource(values.url!, { allowRemote: values['allow-remote'] ?? false, wall, user: values.user ?? 'demo' });
    sources.push(external.source);
    extras.header!.push(
      `Server: ${external.source.label}, already running (not started by the bench)`,
      `Server configuration (from /stats): ${describeStats(external.stats)}`,
      `Posts only to wall ${external.source.wall} (${external.wallName}), as user ${external.source.user}`,
    );
  }

  const runnable = (s: Scenario): string | undefined => {
    if (mode === 'sweep') return undefined;
    if (!s.compare) {
      const why = mode === 'url' ? s.notFromOutside : s.notPerConfiguration;
      return why ?? 'compares its own fixed settings; runs in the default suite only';
    }
    if (mode === 'url' && s.compare.notFromOutside) return s.compare.notFromOutside;
    return undefined;
  };
  const known = scenarios.map((s) => s.id);
  const named = values.scenarios?.split(',');
  const unknown = (named ?? []).filter((id) => !known.includes(id));
  if (unknown.length) throw new BenchUsageError(`unknown scenario(s): ${unknown.join(', ')}; known: ${known.join(', ')}`);
  const chosen = scenarios.filter((s) => (named ? named.includes(s.id) : true));
  for (const s of chosen) {
    const why = runnable(s);
    if (why) extras.skipped!.push({ title: s.title, reason: why });
  }
  const toRun = chosen.filter((s) => !runnable(s));

  onServerStarted((line) => log(`  ↳ ${line}`));
  if (mode !== 'url') {
    log('building the server (tsc)…');
    buildServer();
  } else {
    log(`benchmarking ${sources[0]!.label}: open it to watch the pool`);
  }
  for (const skipped of extras.skipped!) log(`skipping ${skipped.title}: ${skipped.reason}`);
  const environment = describeEnvironment(argv);
  const results: ScenarioResult[] = [];
  for (const scenario of toRun) {
    log(`── ${scenario.title}`);
    const scenarioLog = (line: string): void => log(`  ${line}`);
    results.push(mode === 'sweep' ? await scenario.run(settings, scenarioLog) : await compareScenario(scenario, sources, settings, scenarioLog));
  }
  const dir = values.out ?? join(ROOT, 'bench', 'results', ...(quick ? ['quick'] : []), ...(mode === 'sweep' ? [] : [mode]));
  writeReport(dir, environment, settings, results, extras);
  const missed = results.flatMap((r) => r.targets.filter((t) => !t.met).map((t) => `${r.title}: ${t.goal} (${t.measured})`));
  log(`report written to ${join(dir, 'report.md')}`);
  for (const line of missed) log(`target missed — ${line}`);
}

try {
  await main();
} catch (error) {
  if (!(error instanceof BenchUsageError)) throw error;
  process.stderr.write(`bench: ${error.message}\n`);
  process.exitCode = 2;
}
