/** Writes the JSON results, the Markdown report and its SVG charts. */
import { mkdirSync, writeFileSync } from 'node:fs';
import { cpus, totalmem } from 'node:os';
import { join } from 'node:path';
import type { BenchSettings, ScenarioResult, Table } from './scenario.js';

export interface Environment {
  date: string;
  command: string;
  node: string;
  cpus: number;
  cpuModel: string;
  memoryGiB: number;
  platform: string;
}

export function describeEnvironment(argv: string[]): Environment {
  return {
    date: new Date().toISOString(),
    command: ['npm run bench', ...(argv.length ? ['--', ...argv.map((arg) => (/[\s"]/.test(arg) ? JSON.stringify(arg) : arg))] : [])].join(' '),
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

export function writeReport(dir: string, environment: Environment, settings: BenchSettings, results: ScenarioResult[], extras: ReportExtras = {}): string {
  mkdirSync(dir, { recursive: true });
  writeFileSync(join(dir, 'results.json'), `${JSON.stringify({ environment, settings, ...extras, results }, null, 2)}\n`);
  const targets = results.flatMap((r) => r.targets.map((t) => ({ scenario: r.title, ...t })));
  const parts = [
    '# Pollster benchmark report',
    '',
    `- Date: ${environment.date}`,
    `- Command: \`${environment.command}\``,
    `- Node ${environment.node} on ${environment.platform}, ${environment.cpus} × ${environment.cpuModel}, ${environment.memoryGiB} GiB`,
    `- Settings: ${Object.entries(settings).map(([k, v]) => `${k}=${Array.isArray(v) ? v.join(',') : v}`).join(', ')}`,
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
      '| scenario | target | measured | holds? |',
      '| --- | --- | --- | --- |',
      ...targets.map((t) => `| ${t.scenario} | ${t.goal} | ${t.measured} | ${t.met ? 'yes' : '**no**'} |`),
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
