/**
 * The yardstick for what the pool costs: Pollster beside a thread-free evented server
 * (bench/baseline/evented-server.ts) on the paths where threads cost most —
 * one post to one waiting poll, one post to N waiting polls, and memory per
 * held poll. Both start fresh for every run, in alternating order, so drift on
 * the machine falls on both alike; the report gives Pollster ÷ baseline as the
 * median of the runs with its min–max. The targets are for the default
 * SQLite backend; Pollster on PostgreSQL (DATABASE_URL, a throwaway local
 * cluster) runs the same measures in the same rounds and is reported beside it.
 */
import { login, postMessage, until } from '../lib/client.js';
import { nchanDelivery, nchanUnavailable, startNchan, type NchanServer } from '../lib/nchan.js';
import { openRawPolls, pollRequest, streamRequest } from '../lib/raw-polls.js';
import { fmt, type BenchSettings, type Scenario, type ScenarioResult } from '../lib/scenario.js';
import { BASELINE_ARGS, startServer, type BenchServer } from '../lib/server.js';
import { median, percentile, round } from '../lib/stats.js';
import { barChart } from '../lib/svg-chart.js';
import { startPgCluster, type PgCluster } from '../../test/helpers/pg-cluster.js';
import { deliverOn } from './delivery-latency.js';

const WALL = 2;
const BATCH = 500;
const POST_EVERY_MS = 50;

type Contender = 'pollster' | 'pollster-pg' | 'baseline' | 'nchan';

interface RunFigures {
  deliveryP50: number;
  deliveryP99: number;
  fanOutP50: number;
  fanOutMax: number;
  delivered: number;
  streamP50: number;
  streamMax: number;
  streamsDelivered: number;
  /** The same poll fan-out again on that server, its code now run (V8 has optimised it). */
  warmP50: number;
  warmMax: number;
  warmDelivered: number;
  kbPerHeld: number;
}

/** `databaseUrl`: Pollster on PostgreSQL (a fresh database per run) rather than SQLite. */
function start(contender: Contender, env: Record<string, string>, databaseUrl?: string): Promise<BenchServer> {
  if (contender === 'pollster') return startServer(env);
  if (contender === 'pollster-pg') return startServer({ ...env, DATABASE_URL: databaseUrl! });
  return startServer({}, { args: BASELINE_ARGS, name: 'evented baseline' });
}

/**
 * N long polls or SSE streams on one wall, opened in batches; one post; each
 * one's time until it has the post, and RSS per held connection.
 */
async function fanOut(
  server: BenchServer,
  count: number,
  kind: 'poll' | 'stream',
): Promise<{ p50: number; max: number; delivered: number; kbPerHeld: number }> {
  const { session, latest } = await login(server.agent, server.url);
  await new Promise((resolve) => setTimeout(resolve, 300));
  const idle = await server.stats();
  const request =
    kind === 'poll'
      ? pollRequest(server.url, session, { last_post_id: { [WALL]: latest.get(WALL)! }, timeout_ms: 60_000 })
      : streamRequest(server.url, session, [WALL]);
  // Both servers count a held stream among waiting_polls.
  const raw = await openRawPolls(
    server.url,
    request,
    count,
    (sent) => until(server.stats, (s) => s.waiting_polls >= idle.waiting_polls + sent, 60_000),
    BATCH,
  );
  try {
    const held = await server.stats();
    const content = `fan-out ${Math.random()}`;
    raw.markPosted(content);
    await postMessage(server.agent, server.url, session, WALL, content);
    const times = (await raw.results(60_000)).filter(Number.isFinite);
    return {
      p50: round(percentile(times, 50)),
      max: round(times.length ? Math.max(...times) : NaN),
      delivered: times.length,
      kbPerHeld: (held.memory.rss - idle.memory.rss) / count / 1024,
    };
  } finally {
    raw.close();
    // The next fan-out on this server counts its own waits from this level:
    // every connection of this one must be gone first.
    await until(server.stats, (s) => s.waiting_polls <= idle.waiting_polls, 30_000);
  }
}

/** The same fan-out on Nchan: bare sockets on a channel of their own, RSS of the nginx process. */
async function nchanFanOut(
  server: NchanServer,
  count: number,
  kind: 'poll' | 'stream',
): Promise<{ p50: number; max: number; delivered: number; kbPerHeld: number }> {
  const channel = `fan-${kind}-${Math.random().toString(36).slice(2, 8)}`;
  const idle = server.rss();
  const raw = await openRawPolls(
    server.url,
    server.subscribeRequest(channel, kind),
    count,
    async (sent) => {
      const deadline = Date.now() + 60_000;
      while ((await server.subscribers(channel)) < sent) {
        if (Date.now() > deadline) throw new Error(`Nchan: ${sent} subscribers not held within 60 s`);
        await new Promise((resolve) => setTimeout(resolve, 20));
      }
    },
    BATCH,
  );
  try {
    const held = server.rss();
    const content = `fan-out ${Math.random()}`;
    raw.markPosted(content);
    await server.publish(channel, content);
    const times = (await raw.results(60_000)).filter(Number.isFinite);
    return {
      p50: round(percentile(times, 50)),
      max: round(times.length ? Math.max(...times) : NaN),
      delivered: times.length,
      kbPerHeld: (held - idle) / count / 1024,
    };
  } finally {
    raw.close();
  }
}

async function measureNchan(settings: BenchSettings, polls: number): Promise<RunFigures> {
  const server = await startNchan();
  try {
    const latencies = await nchanDelivery(server, 'delivery', settings.messages, POST_EVERY_MS);
    const fan = await nchanFanOut(server, polls, 'poll');
    const streams = await nchanFanOut(server, polls, 'stream');
    const warm = await nchanFanOut(server, polls, 'poll');
    return {
      warmP50: warm.p50,
      warmMax: warm.max,
      warmDelivered: warm.delivered,
      deliveryP50: percentile(latencies, 50),
      deliveryP99: percentile(latencies, 99),
      fanOutP50: fan.p50,
      fanOutMax: fan.max,
      delivered: fan.delivered,
      streamP50: streams.p50,
      streamMax: streams.max,
      streamsDelivered: streams.delivered,
      kbPerHeld: fan.kbPerHeld,
    };
  } finally {
    await server.stop();
  }
}

async function measure(contender: Contender, settings: BenchSettings, polls: number, cluster: PgCluster | null): Promise<RunFigures> {
  if (contender === 'nchan') return measureNchan(settings, polls);
  // One post → one waiting poll, on the default configuration (on PostgreSQL, each server a fresh database).
  const single = await start(contender, {}, contender === 'pollster-pg' ? await cluster!.createDatabase() : undefined);
  let delivery: { latencies: number[] };
  try {
    delivery = await deliverOn(single, 'demo', WALL, 'long poll', settings.messages, POST_EVERY_MS);
  } finally {
    await single.stop();
  }
  // One post → N waiting polls: multiplex on one thread per core, every poll admitted.
  const many = await start(
    contender,
    {
      POLL_MODE: 'multiplex',
      MIN_THREADS: '2',
      MAX_THREADS: '2',
      TASKS_PER_THREAD: String(Math.ceil(polls / 2)),
      MAX_QUEUE: String(polls),
      POLL_TIMEOUT_MS: '120000',
    },
    contender === 'pollster-pg' ? await cluster!.createDatabase() : undefined,
  );
  try {
    const fan = await fanOut(many, polls, 'poll');
    // The same server, its polls answered: now as many SSE streams.
    const streams = await fanOut(many, polls, 'stream');
    // And the polls once more: the first fan-out on a fresh process runs its
    // answer path before V8 has optimised it; this one shows the warm cost.
    const warm = await fanOut(many, polls, 'poll');
    return {
      warmP50: warm.p50,
      warmMax: warm.max,
      warmDelivered: warm.delivered,
      streamP50: streams.p50,
      streamMax: streams.max,
      streamsDelivered: streams.delivered,
      deliveryP50: percentile(delivery.latencies, 50),
      deliveryP99: percentile(delivery.latencies, 99),
      fanOutP50: fan.p50,
      fanOutMax: fan.max,
      delivered: fan.delivered,
      kbPerHeld: fan.kbPerHeld,
    };
  } finally {
    await many.stop();
  }
}

/** 10000 → "10,000". */
const count = (n: number): string => n.toLocaleString('en-US');

interface Measure {
  /** The row's name in the tables and the target's. */
  name: string;
  /** The chart's group label: two short lines. */
  short: string;
  key: keyof RunFigures;
  unit: string;
  /** Most Pollster ÷ baseline allowed; none for the warm rows, which only show how much of a gap is cold code. */
  target?: number;
}

function measures(polls: number): Measure[] {
  // Chart labels: two short lines each (10000 → 10k), so nine groups fit side by side.
  const few = polls >= 1000 ? `${polls / 1000}k` : String(polls);
  return [
    { name: 'one post → one waiting poll, p50 (default config)', short: '1 poll, p50', key: 'deliveryP50', unit: 'ms', target: 1.3 },
    { name: 'one post → one waiting poll, p99 (default config)', short: '1 poll, p99', key: 'deliveryP99', unit: 'ms', target: 1.5 },
    {
      name: `one post → ${count(polls)} waiting polls, p50 (multiplex, 2 threads)`,
      short: `${few} polls, p50`,
      key: 'fanOutP50',
      unit: 'ms',
      target: 1.2,
    },
    {
      name: `one post → ${count(polls)} waiting polls, slowest`,
      short: `${few} polls, slowest`,
      key: 'fanOutMax',
      unit: 'ms',
      target: 1.25,
    },
    {
      name: `one post → ${count(polls)} SSE streams, p50 (multiplex, 2 threads)`,
      short: `${few} streams, p50`,
      key: 'streamP50',
      unit: 'ms',
      target: 1.2,
    },
    {
      name: `one post → ${count(polls)} SSE streams, slowest`,
      short: `${few} streams, slowest`,
      key: 'streamMax',
      unit: 'ms',
      target: 1.25,
    },
    { name: 'memory per held poll (RSS)', short: 'memory, per poll', key: 'kbPerHeld', unit: 'KB', target: 1.2 },
    {
      name: `the ${count(polls)} polls again, warm (the same server's third fan-out), p50`,
      short: 'warm polls, p50',
      key: 'warmP50',
      unit: 'ms',
    },
    { name: `the ${count(polls)} polls again, warm, slowest`, short: 'warm polls, slowest', key: 'warmMax', unit: 'ms' },
  ];
}

const spread = (values: number[], digits = 2): string =>
  `${fmt(median(values), digits)} (${fmt(Math.min(...values), digits)}–${fmt(Math.max(...values), digits)})`;

interface VsBaselineData {
  runs: number;
  polls: number;
  figures: Record<Contender, RunFigures[]>;
  nchanSkipped: string | null;
  pgSkipped: string;
  ratios: Array<{ measure: string; ratios: number[]; median: number; vsNchan: number[]; postgresVsBaseline: number[] }>;
}

export const vsBaseline: Scenario = {
  id: 'vs-baseline',
  title: 'Against the limit: Pollster ÷ a thread-free evented server',
  notPerConfiguration:
    'compares fixed configurations (the defaults; multiplex on 2 threads) with the evented baseline, fresh starts each run',
  notFromOutside:
    'starts Pollster and the baseline afresh for every run, side by side on this machine; a running server cannot be restarted',
  draw: ({ runs, polls, figures }: VsBaselineData) => {
    const rows = measures(polls).map((m) => ({ ...m, ratios: figures.pollster.map((f, i) => f[m.key] / figures.baseline[i]![m.key]) }));
    return [
      {
        file: 'vs-baseline.svg',
        caption: "Pollster ÷ the evented baseline (1 = as fast or as small as the thread-free server); dashed red: each measure's target",
        svg: barChart({
          title: `Pollster ÷ evented baseline (${runs} interleaved runs)`,
          categories: rows.map((r) => r.short),
          series: [
            { name: 'median ratio', values: rows.map((r) => round(median(r.ratios))) },
            { name: 'best run', values: rows.map((r) => round(Math.min(...r.ratios))) },
            { name: 'worst run', values: rows.map((r) => round(Math.max(...r.ratios))) },
          ],
          yLabel: 'Pollster ÷ baseline',
          lines: [{ value: 1, label: 'baseline = 1', kind: 'reference' }],
          groupTargets: rows.map((r) => (r.target ? { value: r.target, label: `≤ ${r.target}×` } : undefined)),
        }),
      },
    ];
  },
  async run(settings: BenchSettings, log): Promise<ScenarioResult> {
    const runs = settings.quick ? 2 : Math.max(5, settings.runs);
    const polls = settings.heldPolls;
    const figures: Record<Contender, RunFigures[]> = { pollster: [], 'pollster-pg': [], baseline: [], nchan: [] };
    const nchanSkipped = nchanUnavailable();
    if (nchanSkipped) log(`skipping Nchan: ${nchanSkipped}`);
    let cluster: PgCluster | null = null;
    let pgSkipped = '';
    try {
      cluster = await startPgCluster();
    } catch (error) {
      pgSkipped = (error as Error).message;
      log(`skipping Pollster on PostgreSQL: ${pgSkipped}`);
    }
    const contenders: Contender[] = [
      'pollster',
      'baseline',
      ...(cluster ? (['pollster-pg'] as const) : []),
      ...(nchanSkipped ? [] : (['nchan'] as const)),
    ];
    try {
      for (let run = 0; run < runs; run++) {
        const order = run % 2 === 0 ? contenders : [...contenders].reverse();
        for (const contender of order) {
          const result = await measure(contender, settings, polls, cluster);
          figures[contender].push(result);
          log(
            `run ${run + 1}/${runs}, ${contender}: one poll p50 ${fmt(result.deliveryP50)} ms; ${polls} polls p50 ${fmt(result.fanOutP50)} ms, slowest ${fmt(result.fanOutMax)} ms (${result.delivered}/${polls}); ` +
              `${polls} streams p50 ${fmt(result.streamP50)} ms, slowest ${fmt(result.streamMax)} ms (${result.streamsDelivered}/${polls}); ${fmt(result.kbPerHeld, 1)} KB per held poll`,
          );
        }
      }
    } finally {
      await cluster?.destroy();
    }
    const metrics = measures(polls);
    const rows = metrics.map((metric) => {
      const ours = figures.pollster.map((f) => f[metric.key]);
      const theirs = figures.baseline.map((f) => f[metric.key]);
      const nchan = figures.nchan.map((f) => f[metric.key]);
      const onPg = figures['pollster-pg'].map((f) => f[metric.key]);
      // Run i of one beside run i of the other: they ran back to back.
      const ratios = ours.map((value, i) => value / theirs[i]!);
      const nchanRatios = nchan.map((value, i) => ours[i]! / value);
      const pgRatios = onPg.map((value, i) => value / theirs[i]!);
      return { ...metric, ours, theirs, nchan, ratios, ratio: median(ratios), nchanRatios, onPg, pgRatios };
    });
    const data: VsBaselineData = {
      runs,
      polls,
      figures,
      nchanSkipped,
      pgSkipped,
      ratios: rows.map((r) => ({
        measure: r.name,
        ratios: r.ratios,
        median: r.ratio,
        vsNchan: r.nchanRatios,
        postgresVsBaseline: r.pgRatios,
      })),
    };
    const all = [...figures.pollster, ...figures['pollster-pg'], ...figures.baseline, ...figures.nchan];
    const delivered = Math.min(...all.map((f) => Math.min(f.delivered, f.warmDelivered)));
    const streamed = Math.min(...all.map((f) => f.streamsDelivered));
    return {
      id: this.id,
      title: this.title,
      method: `The evented baseline (bench/baseline/evented-server.ts) serves the same sessions, posts and long polls from memory, every wait a promise on its one thread. ${nchanSkipped ? `Nchan skipped: ${nchanSkipped}.` : "Nchan (bench/lib/nchan.ts: an nginx config the bench writes, one process, master_process off, publisher /pub, long-poll /sub and EventSource /sse subscribers with nchan_subscriber_first_message newest) runs the same three measures in each run, its one-poll client following Nchan's Last-Modified/Etag protocol and its memory the nginx process's RSS."} ${pgSkipped ? `Pollster on PostgreSQL skipped: ${pgSkipped}.` : 'Pollster on PostgreSQL (DATABASE_URL: a throwaway local cluster with fsync off, a fresh database each run, the same two configurations) runs the same measures in each run, beside the targets, which are for SQLite.'} ${runs} runs; in each, Pollster and the baseline run back to back in alternating order, each on a fresh process: first one long-poll client on wall ${WALL} receiving ${settings.messages} posts ${POST_EVERY_MS} ms apart (Pollster on its default configuration), then ${polls} long polls, each on its own bare TCP socket (a pre-built request; the answer only searched for the post, so the client's cost per answer stays far below the servers'), opened in batches of ${BATCH}, and one post to them (Pollster with POLL_MODE=multiplex, MIN_THREADS=MAX_THREADS=2, TASKS_PER_THREAD=${Math.ceil(polls / 2)}), RSS from /stats before and with the polls held; then, on the same server, as many SSE streams (GET /check) on bare sockets and one post to them; then the ${polls} polls once more (warm: the answer path has run, so V8 has optimised it). Figures are medians over the runs with min–max; the ratio is taken run by run (Pollster ÷ the baseline of the same run) and then its median. The targets are ratios to the baseline of the same run, so they carry from one machine to another where absolute figures do not.`,
      tables: [
        {
          title: `Pollster ÷ evented baseline, median of ${runs} interleaved runs (min–max)`,
          columns: ['measure', 'Pollster', 'baseline', 'Pollster ÷ baseline', 'target'],
          rows: rows.map((r) => [
            r.name,
            `${spread(r.ours, r.unit === 'KB' ? 1 : 2)} ${r.unit}`,
            `${spread(r.theirs, r.unit === 'KB' ? 1 : 2)} ${r.unit}`,
            `${spread(r.ratios)}×`,
            r.target ? `≤ ${r.target}×` : '(none: shown for the cold/warm difference)',
          ]),
        },
        pgSkipped
          ? { title: 'Pollster on PostgreSQL: skipped', columns: ['why'], rows: [[pgSkipped]] }
          : {
              title: `Pollster on PostgreSQL (DATABASE_URL) beside SQLite, same runs (min–max)`,
              columns: ['measure', 'Pollster, SQLite', 'Pollster, PostgreSQL', 'baseline', 'PostgreSQL ÷ baseline'],
              rows: rows.map((r) => [
                r.name,
                `${spread(r.ours, r.unit === 'KB' ? 1 : 2)} ${r.unit}`,
                `${spread(r.onPg, r.unit === 'KB' ? 1 : 2)} ${r.unit}`,
                `${spread(r.theirs, r.unit === 'KB' ? 1 : 2)} ${r.unit}`,
                `${spread(r.pgRatios)}×`,
              ]),
            },
        nchanSkipped
          ? { title: 'Nchan: skipped', columns: ['why'], rows: [[nchanSkipped]] }
          : {
              title: `Beside Nchan 1.3.6 (nginx, one process, in-memory), same runs (min–max)`,
              columns: ['measure', 'Nchan', 'baseline', 'Pollster', 'Pollster ÷ Nchan'],
              rows: rows.map((r) => [
                r.name,
                `${spread(r.nchan, r.unit === 'KB' ? 1 : 2)} ${r.unit}`,
                `${spread(r.theirs, r.unit === 'KB' ? 1 : 2)} ${r.unit}`,
                `${spread(r.ours, r.unit === 'KB' ? 1 : 2)} ${r.unit}`,
                `${spread(r.nchanRatios)}×`,
              ]),
            },
      ],
      targets: [
        ...rows
          .filter((r) => r.target)
          .map((r) => ({
            goal: `${r.name[0]!.toUpperCase()}${r.name.slice(1)} ≤ ${r.target}× the evented baseline`,
            measured: `${fmt(r.ratio)}× (${fmt(Math.min(...r.ratios))}–${fmt(Math.max(...r.ratios))})`,
            met: r.ratio <= r.target!,
            kind: 'ratio' as const,
          })),
        {
          goal: `Every one of the ${count(polls)} polls and of the ${count(polls)} streams gets the post, every server, every run`,
          measured: `worst run: polls ${delivered}/${polls}, streams ${streamed}/${polls}`,
          met: delivered === polls && streamed === polls,
          kind: 'correctness' as const,
        },
      ],
      charts: this.draw!(data),
      data,
    };
  },
};
