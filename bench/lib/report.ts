/** Writes the JSON results, the Markdown report and its SVG charts. */
import { mkdirSync, writeFileSync } from 'node:fs';
import { cpus, totalmem } from 'node:os';
import { join } from 'node:path';
import type { BenchSettings, ScenarioResult, Table, TargetKind } from './scenario.js';

export interface Environment {
  date: string;
  command: string;
  node: string;
  cpus: number;
  cpuModel: string;
  memoryGiB: number;
  platform: string;
  /** Seconds from the start of `npm run bench` (build included) to the report; set when the run ends. */
  durationS?: number;
}

/** 778 → "12 min 58 s". */
export function formatDuration(seconds: number): string {
  const s = Math.round(seconds);
  return s < 60 ? `${s} s` : `${Math.floor(s / 60)} min ${s % 60} s`;
}

const KIND_WORDS: Record<TargetKind, string> = {
  ratio: 'ratio, same run',
  absolute: 'absolute',
  correctness: 'correctness',
};

/** What the kinds mean, above the targets table: which figures carry to another machine and which do not. */
export function targetsPreamble(environment: Environment, settings: BenchSettings): string[] {
  return [
    'Each target has a kind, which says how far it carries to another machine:',
    '',
    '- **ratio, same run**: two figures measured in the same run on the same machine — Pollster ÷ the thread-free evented baseline (bench/baseline/evented-server.ts, started afresh beside Pollster in every round), or a server under load ÷ the same server a moment earlier without it, or WAKE=notify ÷ WAKE=sleep. A slower or busier machine moves both figures, so a ratio holds or misses on any machine alike.',
    `- **absolute**: a fixed number of ms, KB or MiB. These move with the machine: on this one (${environment.cpus} × ${environment.cpuModel}, the load generator sharing the cores with the server) they came out as below; a faster or quieter machine gives lower figures, a slower or busier one higher, with no change to the code.`,
    '- **correctness**: nothing lost, every excess request refused. These hold on any machine.',
    '',
    ...(settings.quick
      ? [
          `**This is a \`--quick\` run**: shorter rounds, one run each, smaller sizes (see Settings). With ${environment.cpus} cores shared by the load generator and the server, one short round swings widely, so a miss here is a hint, not a verdict: the targets are judged on the full run's medians (\`npm run bench\`).`,
          '',
        ]
      : []),
  ];
}

export function describeEnvironment(argv: string[]): Environment {
  return {
    date: new Date().toISOString(),
    command: ['npm run bench', ...(argv.length ? ['--', ...argv.map((arg) => (/[\s"]/.test(arg) ? JSON.stringify(arg) : arg))] : [])].join(
      ' ',
    ),
    node: process.version,
    cpus: cpus().length,
    cpuModel: cpus()[0]?.model ?? 'unknown',
    memoryGiB: Math.round(totalmem() / 2 ** 30),
    platform: `${process.platform} ${process.arch}`,
  };
}

function markdownTable(table: Table): string {
  const lines = [
    `**${table.title}**`,
    '',
    `| ${table.columns.join(' | ')} |`,
    `| ${table.columns.map(() => '---').join(' | ')} |`,
    ...table.rows.map((row) => `| ${row.join(' | ')} |`),
  ];
  return lines.join('\n');
}

export interface ReportExtras {
  /** Lines for the header: the configurations compared, or the server measured. */
  header?: string[];
  /** Scenarios not run, and why. */
  skipped?: Array<{ title: string; reason: string }>;
}

export function writeReport(
  dir: string,
  environment: Environment,
  settings: BenchSettings,
  results: ScenarioResult[],
  extras: ReportExtras = {},
): string {
  mkdirSync(dir, { recursive: true });
  writeFileSync(join(dir, 'results.json'), `${JSON.stringify({ environment, settings, ...extras, results }, null, 2)}\n`);
  const targets = results.flatMap((r) => r.targets.map((t) => ({ scenario: r.title, ...t })));
  const parts = [
    '# Pollster benchmark report',
    '',
    `- Date: ${environment.date}`,
    `- Command: \`${environment.command}\``,
    `- Node ${environment.node} on ${environment.platform}, ${environment.cpus} × ${environment.cpuModel}, ${environment.memoryGiB} GiB`,
    `- Settings: ${Object.entries(settings)
      .map(([k, v]) => `${k}=${Array.isArray(v) ? v.join(',') : v}`)
      .join(', ')}`,
    ...(environment.durationS === undefined
      ? []
      : [`- Duration: ${formatDuration(environment.durationS)} (the whole \`${environment.command}\`, build included)`]),
    ...(extras.header ?? []).map((line) => `- ${line}`),
    '- Load generator (autocannon, undici) and server share the same machine and its cores; all traffic is on loopback unless the header says otherwise.',
    '',
  ];
  if (extras.skipped?.length) {
    parts.push('## Skipped', '', '| scenario | why |', '| --- | --- |', ...extras.skipped.map((s) => `| ${s.title} | ${s.reason} |`), '');
  }
  if (targets.length) {
    parts.push(
      '## Targets',
      '',
      ...targetsPreamble(environment, settings),
      '| scenario | target | kind | measured | holds? |',
      '| --- | --- | --- | --- | --- |',
      ...targets.map((t) => `| ${t.scenario} | ${t.goal} | ${KIND_WORDS[t.kind]} | ${t.measured} | ${t.met ? 'yes' : '**no**'} |`),
      '',
    );
  }
  for (const result of results) {
    parts.push(`## ${result.title}`, '', result.method, '');
    for (const table of result.tables) parts.push(markdownTable(table), '');
    for (const chart of result.charts) {
      writeFileSync(join(dir, chart.file), chart.svg);
      parts.push(`![${chart.caption}](${chart.file})`, '');
    }
  }
  const report = parts.join('\n');
  writeFileSync(join(dir, 'report.md'), report);
  return report;
}
