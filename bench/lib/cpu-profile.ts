/**
 * Reading a V8 CPU profile (`node --cpu-prof`) the way the profile scripts
 * report it: self time per function within a window, grouped by the hop of
 * the delivery path its code belongs to (docs/performance.md).
 */
import { readdirSync, readFileSync } from 'node:fs';
import { basename, join } from 'node:path';

export interface ProfileNode {
  id: number;
  callFrame: { functionName: string; url: string; lineNumber: number };
}
export interface CpuProfile {
  nodes: ProfileNode[];
  startTime: number;
  samples: number[];
  timeDeltas: number[];
}

/** Node arguments that write the process's CPU profile into `dir` when it exits, sampling every `intervalUs`. */
export function profilerArgs(dir: string, intervalUs: number): string[] {
  return ['--cpu-prof', `--cpu-prof-dir=${dir}`, `--cpu-prof-interval=${intervalUs}`];
}

/** The profile a process wrote into `dir` (profilerArgs). */
export function readProfile(dir: string): CpuProfile {
  const file = readdirSync(dir).find((name) => name.endsWith('.cpuprofile'));
  if (!file) throw new Error('the server wrote no profile');
  return JSON.parse(readFileSync(join(dir, file), 'utf8')) as CpuProfile;
}

/** Which hop a function's self time belongs to, by where its code lives. */
const HOPS: Array<[string, (frame: ProfileNode['callFrame']) => boolean]> = [
  ['idle (waiting for I/O)', (f) => f.functionName === '(idle)'],
  ['garbage collection', (f) => f.functionName === '(garbage collector)'],
  [
    'result message from the thread (Piscina, MessagePort)',
    (f) => /piscina|internal\/worker|internal\/per_context\/messageport/.test(f.url),
  ],
  [
    'SQLite (better-sqlite3)',
    (f) => /better-sqlite3/.test(f.url) || (f.url === '' && /^(get|run|all|iterate|pragma)$/.test(f.functionName)),
  ],
  ['metrics (prom-client)', (f) => /prom-client/.test(f.url)],
  ['routing (find-my-way)', (f) => /find-my-way/.test(f.url)],
  ['serialise (JSON)', (f) => f.functionName === 'stringify' || f.functionName === 'parse'],
  [
    'socket write (http, net, streams)',
    (f) =>
      /node:_http_outgoing|node:_http_server|node:net|stream_base_commons|node:internal\/streams|node:stream/.test(f.url) ||
      /^(writev|writeBuffer|writeUtf8String|writeLatin1String)$/.test(f.functionName),
  ],
  ['HTTP parse (llhttp)', (f) => /node:_http_common/.test(f.url) || f.functionName === 'execute'],
  ['Pollster / baseline code', (f) => /\/dist\/|\/bench\/baseline\//.test(f.url)],
  ['logging (pino)', (f) => /pino|sonic-boom/.test(f.url)],
  ['(program: native, unattributed)', (f) => f.functionName === '(program)'],
];

/**
 * Self time of the samples between `from` and `to` (the profile's monotonic
 * clock, µs), by hop and by function. With `per` (a count of posts), idle
 * time is left out and each figure is also given in µs per post.
 */
export function summarise(profile: CpuProfile, from: number, to: number, top: number, per?: number): string {
  const byId = new Map(profile.nodes.map((node) => [node.id, node]));
  const self = new Map<number, number>();
  let t = profile.startTime;
  for (let i = 0; i < profile.samples.length; i++) {
    t += profile.timeDeltas[i]!;
    const next = profile.timeDeltas[i + 1] ?? 0;
    if (t < from || t > to) continue;
    if (per !== undefined && byId.get(profile.samples[i]!)!.callFrame.functionName === '(idle)') continue;
    self.set(profile.samples[i]!, (self.get(profile.samples[i]!) ?? 0) + next);
  }
  const total = [...self.values()].reduce((a, b) => a + b, 0);
  const functions = new Map<string, number>();
  const hops = new Map<string, number>();
  for (const [id, micros] of self) {
    const frame = byId.get(id)!.callFrame;
    const name = `${frame.functionName || '(anonymous)'} ${frame.url ? `${basename(frame.url)}:${frame.lineNumber + 1}` : ''}`.trim();
    functions.set(name, (functions.get(name) ?? 0) + micros);
    const hop = HOPS.find(([, test]) => test(frame))?.[0] ?? 'other (Node internals, V8 builtins)';
    hops.set(hop, (hops.get(hop) ?? 0) + micros);
  }
  const ms = (micros: number): string => (micros / 1000).toFixed(1);
  const pct = (micros: number): string => ((100 * micros) / total).toFixed(0);
  const each = (micros: number): string => (per ? ` | ${(micros / per).toFixed(0)}` : '');
  const unit = per ? ' | µs per post' : '';
  const lines = [
    per
      ? `${ms(to - from)} ms of wall time; the main thread busy ${ms(total)} ms, ${(total / per).toFixed(0)} µs per post`
      : `post → last answer: ${ms(to - from)} ms of wall time; ${ms(total)} ms sampled on the main thread`,
    '',
    `| hop | ms${unit} | % |`,
    `|---|---|${per ? '---|' : ''}---|`,
  ];
  for (const [hop, micros] of [...hops].sort((a, b) => b[1] - a[1]))
    lines.push(`| ${hop} | ${ms(micros)}${each(micros)} | ${pct(micros)} |`);
  lines.push('', `| function (self time) | ms${unit} | % |`, `|---|---|${per ? '---|' : ''}---|`);
  for (const [name, micros] of [...functions].sort((a, b) => b[1] - a[1]).slice(0, top))
    lines.push(`| ${name} | ${ms(micros)}${each(micros)} | ${pct(micros)} |`);
  return lines.join('\n');
}
