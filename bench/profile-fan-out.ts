/**
 * `npx tsx bench/profile-fan-out.ts [--polls 10000] [--kind poll|stream] [--server pollster|baseline]`:
 * where the main thread's time goes while one post reaches N waiting polls
 * (issue 15). The server runs with `node --cpu-prof` in vs-baseline's
 * fan-out configuration; the client notes the post and the last answer on
 * the monotonic clock the profile also uses, and only samples in between are
 * counted: self time per function, then grouped by hop.
 */
import { mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { basename, join } from 'node:path';
import { parseArgs } from 'node:util';
import { login, postMessage, until } from './lib/client.js';
import { openRawPolls, pollRequest, streamRequest } from './lib/raw-polls.js';
import { buildServer, ROOT, startServer } from './lib/server.js';
import { percentile } from './lib/stats.js';

const { values } = parseArgs({
  options: {
    polls: { type: 'string', default: '10000' },
    kind: { type: 'string', default: 'poll' },
    server: { type: 'string', default: 'pollster' },
    top: { type: 'string', default: '15' },
    // Without V8's sampler (which itself takes a share of the core): only
    // the per-thread CPU and context switches below.
    'no-profile': { type: 'boolean', default: false },
    // Fan-outs in a row on one server: the first runs cold code (V8 has not
    // optimised the answer path yet), later ones warm. The profile covers the last.
    rounds: { type: 'string', default: '1' },
    // A V8 or Node flag for the server (repeatable), e.g. --node-flag=--max-semi-space-size=32.
    'node-flag': { type: 'string', multiple: true, default: [] },
  },
});
const count = Number(values.polls);
const kind = values.kind === 'stream' ? 'stream' : 'poll';
const WALL = 2;

interface ProfileNode {
  id: number;
  callFrame: { functionName: string; url: string; lineNumber: number };
}
interface CpuProfile {
  nodes: ProfileNode[];
  startTime: number;
  samples: number[];
  timeDeltas: number[];
}

/** Which hop a function's self time belongs to, by where its code lives. */
const HOPS: Array<[string, (frame: ProfileNode['callFrame']) => boolean]> = [
  ['idle (waiting for I/O)', (f) => f.functionName === '(idle)'],
  ['garbage collection', (f) => f.functionName === '(garbage collector)'],
  ['result message from the thread (Piscina, MessagePort)', (f) => /piscina|internal\/worker|internal\/per_context\/messageport/.test(f.url)],
  ['serialise (JSON)', (f) => f.functionName === 'stringify' || f.functionName === 'parse'],
  ['socket write (http, net, streams)', (f) => /node:_http_outgoing|node:_http_server|node:net|stream_base_commons|node:internal\/streams|node:stream/.test(f.url) || /^(writev|writeBuffer|writeUtf8String|writeLatin1String)$/.test(f.functionName)],
  ['HTTP parse (llhttp)', (f) => /node:_http_common/.test(f.url) || f.functionName === 'execute'],
  ['Pollster / baseline code', (f) => /\/dist\/|\/bench\/baseline\//.test(f.url)],
  ['logging (pino)', (f) => /pino|sonic-boom/.test(f.url)],
  ['(program: native, unattributed)', (f) => f.functionName === '(program)'],
];

interface ThreadTimes {
  name: string;
  userMs: number;
  systemMs: number;
  /** Times the thread was taken off its core while it could still run. */
  involuntary: number;
  voluntary: number;
}

/** Each thread of a process: CPU (user, system) and context switches so far, from /proc. */
function threadTimes(pid: number): Map<string, ThreadTimes> {
  const tick = 10; // ms per clock tick (USER_HZ = 100 on Linux)
  const threads = new Map<string, ThreadTimes>();
  for (const tid of readdirSync(`/proc/${pid}/task`)) {
    try {
      const stat = readFileSync(`/proc/${pid}/task/${tid}/stat`, 'utf8');
      const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
      const status = readFileSync(`/proc/${pid}/task/${tid}/status`, 'utf8');
      const count = (key: string): number => Number(new RegExp(`${key}:\\s+(\\d+)`).exec(status)?.[1] ?? 0);
      threads.set(tid, {
        name: stat.slice(stat.indexOf('(') + 1, stat.lastIndexOf(')')),
        userMs: Number(fields[11]) * tick,
        systemMs: Number(fields[12]) * tick,
        involuntary: count('nonvoluntary_ctxt_switches'),
        voluntary: count('voluntary_ctxt_switches'),
      });
    } catch {
      // The thread ended between the listing and the read.
    }
  }
  return threads;
}

/** What each thread did between two snapshots, busiest first (threads that did nothing left out). */
function threadDelta(label: string, pid: number, before: Map<string, ThreadTimes>, after: Map<string, ThreadTimes>): string {
  const rows: string[] = [];
  for (const [tid, end] of after) {
    const start = before.get(tid) ?? { name: end.name, userMs: 0, systemMs: 0, involuntary: 0, voluntary: 0 };
    const user = end.userMs - start.userMs;
    const system = end.systemMs - start.systemMs;
    const involuntary = end.involuntary - start.involuntary;
    const voluntary = end.voluntary - start.voluntary;
    if (user + system === 0 && involuntary === 0 && voluntary === 0) continue;
    rows.push(`| ${label} ${tid === String(pid) ? 'main' : `${end.name} ${tid}`} | ${user} | ${system} | ${voluntary} | ${involuntary} |`);
  }
  return rows.join('\n');
}

function summarise(profile: CpuProfile, from: number, to: number, top: number): string {
  const byId = new Map(profile.nodes.map((node) => [node.id, node]));
  const self = new Map<number, number>();
  let t = profile.startTime;
  for (let i = 0; i < profile.samples.length; i++) {
    t += profile.timeDeltas[i]!;
    const next = profile.timeDeltas[i + 1] ?? 0;
    if (t < from || t > to) continue;
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
  const lines = [`post → last answer: ${ms(to - from)} ms of wall time; ${ms(total)} ms sampled on the main thread`, '', '| hop | ms | % |', '|---|---|---|'];
  for (const [hop, micros] of [...hops].sort((a, b) => b[1] - a[1])) lines.push(`| ${hop} | ${ms(micros)} | ${pct(micros)} |`);
  lines.push('', '| function (self time) | ms | % |', '|---|---|---|');
  for (const [name, micros] of [...functions].sort((a, b) => b[1] - a[1]).slice(0, top)) lines.push(`| ${name} | ${ms(micros)} | ${pct(micros)} |`);
  return lines.join('\n');
}

const profiles = mkdtempSync(join(tmpdir(), 'pollster-profile-'));
try {
  if (values.server === 'pollster') buildServer();
  const script = values.server === 'pollster' ? ['dist/main.js'] : ['--import', 'tsx', 'bench/baseline/evented-server.ts'];
  const server = await startServer(
    {
      POLL_MODE: 'multiplex',
      MIN_THREADS: '2',
      MAX_THREADS: '2',
      TASKS_PER_THREAD: String(Math.ceil(count / 2)),
      MAX_QUEUE: String(count),
      POLL_TIMEOUT_MS: '120000',
    },
    { args: [...values['node-flag']!, ...(values['no-profile'] ? [] : ['--cpu-prof', `--cpu-prof-dir=${profiles}`, '--cpu-prof-interval=200']), ...script.map((part) => (part.endsWith('.ts') || part.endsWith('.js') ? join(ROOT, part) : part))], name: `${values.server} (profiled)` },
  );
  let window: [number, number] = [0, 0];
  let threads = '';
  try {
    const { session, latest } = await login(server.agent, server.url);
    let cursor = latest.get(WALL)!;
    for (let round = 1; round <= Number(values.rounds); round++) {
      const idle = await server.stats();
      const request =
        kind === 'poll'
          ? pollRequest(server.url, session, { last_post_id: { [WALL]: cursor }, timeout_ms: 60_000 })
          : streamRequest(server.url, session, [WALL]);
      const raw = await openRawPolls(server.url, request, count, (sent) => until(server.stats, (s) => s.waiting_polls >= idle.waiting_polls + sent, 60_000));
      const content = `profiled ${Math.random()}`;
      const serverBefore = threadTimes(server.pid!);
      const clientBefore = threadTimes(process.pid);
      const postedAt = Number(process.hrtime.bigint() / 1000n);
      raw.markPosted(content);
      cursor = (await postMessage(server.agent, server.url, session, WALL, content)).json.id;
      const times = (await raw.results(60_000)).filter(Number.isFinite);
      const serverAfter = threadTimes(server.pid!);
      threads = [
        '| thread | user ms | system ms | voluntary switches | involuntary switches |',
        '|---|---|---|---|---|',
        threadDelta(values.server!, server.pid!, serverBefore, serverAfter),
        threadDelta('client', process.pid, clientBefore, threadTimes(process.pid)),
      ].join('\n');
      const lastAt = postedAt + Math.max(...times) * 1000;
      window = [postedAt, lastAt];
      const main = (snapshot: Map<string, ThreadTimes>): ThreadTimes => snapshot.get(String(server.pid))!;
      console.log(
        `${values.server} round ${round}: ${times.length}/${count} ${kind === 'poll' ? 'polls' : 'streams'} answered, p50 ${percentile(times, 50).toFixed(0)} ms, slowest ${Math.max(...times).toFixed(0)} ms; ` +
          `main thread ${main(serverAfter).userMs - main(serverBefore).userMs} ms user, ${main(serverAfter).systemMs - main(serverBefore).systemMs} ms system`,
      );
      raw.close();
      // Every socket of this round closed before the next opens its own.
      await until(server.stats, (s) => s.waiting_polls === idle.waiting_polls, 30_000);
    }
  } finally {
    await server.stop();
  }
  // Counted up to the moment the client had every answer (10 ms ticks).
  console.log(`${threads}\n`);
  if (!values['no-profile']) {
    const file = readdirSync(profiles).find((name) => name.endsWith('.cpuprofile'));
    if (!file) throw new Error('the server wrote no profile');
    const profile = JSON.parse(readFileSync(join(profiles, file), 'utf8')) as CpuProfile;
    console.log(summarise(profile, window[0], window[1], Number(values.top)));
  }
} finally {
  rmSync(profiles, { recursive: true, force: true });
}
