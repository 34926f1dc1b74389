/**
 * Issue 15's yardstick: Pollster beside a thread-free evented server
 * (bench/baseline/evented-server.ts) on the paths where threads cost most —
 * one post to one waiting poll, one post to N waiting polls, and memory per
 * held poll. Both start fresh for every run, in alternating order, so drift on
 * the machine falls on both alike; the report gives Pollster ÷ baseline as the
 * median of the runs with its min–max.
 */
import { join } from 'node:path';
import { login, postMessage, until } from '../lib/client.js';
import { openRawPolls, pollRequest, streamRequest } from '../lib/raw-polls.js';
import { fmt, type BenchSettings, type Scenario, type ScenarioResult } from '../lib/scenario.js';
import { ROOT, startServer, type BenchServer } from '../lib/server.js';
import { median, percentile, round } from '../lib/stats.js';
import { barChart } from '../lib/svg-chart.js';
import { deliverOn } from './delivery-latency.js';

const WALL = 2;
const BATCH = 500;
const POST_EVERY_MS = 50;

type Contender = 'pollster' | 'baseline';

interface RunFigures {
  deliveryP50: number;
  deliveryP99: number;
  fanOutP50: number;
  fanOutMax: number;
  delivered: number;
  streamP50: number;
  streamMax: number;
  streamsDelivered: number;
  kbPerHeld: number;
}

function start(contender: Contender, env: Record<string, string>): Promise<BenchServer> {
  if (contender === 'pollster') return startServer(env);
  return startServer({}, { args: ['--import', 'tsx', join(ROOT, 'bench/baseline/evented-server.ts')], name: 'evented baseline' });
}

/**
 * N long polls or SSE streams on one wall, opened in batches; one post; each
 * one's time until it has the post, and RSS per held connection.
 */
async function fanOut(server: BenchServer, count: number, kind: 'poll' | 'stream'): Promise<{ p50: number; max: number; delivered: number; kbPerHeld: number }> {
  const { session, latest } = await login(server.agent, server.url);
  await new Promise((resolve) => setTimeout(resolve, 300));
  const idle = await server.stats();
  const request =
    kind === 'poll'
      ? pollRequest(server.url, session, { last_post_id: { [WALL]: latest.get(WALL)! }, timeout_ms: 60_000 })
      : streamRequest(server.url, session, [WALL]);
  // Both servers count a held stream among waiting_polls.
  const raw = await openRawPolls(server.url, request, count, (sent) => until(server.stats, (s) => s.waiting_polls >= idle.waiting_polls + sent, 60_000), BATCH);
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
  }
}

async function measure(contender: Contender, settings: BenchSettings, polls: number): Promise<RunFigures> {
  // One post → one waiting poll, on the default configuration.
  const single = await start(contender, {});
  let delivery: { latencies: number[] };
  try {
    delivery = await deliverOn(single, 'demo', WALL, 'long poll', settings.messages, POST_EVERY_MS);
  } finally {
    await single.stop();
  }
  // One post → N waiting polls: multiplex on one thread per core, every poll admitted.
  const many = await start(contender, {
    POLL_MODE: 'multiplex',
    MIN_THREADS: '2',
    MAX_THREADS: '2',
    TASKS_PER_THREAD: String(Math.ceil(polls / 2)),
    MAX_QUEUE: String(polls),
    POLL_TIMEOUT_MS: '120000',
  });
  try {
    const fan = await fanOut(many, polls, 'poll');
    // The same server, its polls answered: now as many SSE streams.
    const streams = await fanOut(many, polls, 'stream');
    return {
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

const spread = (values: number[], digits = 2): string => `${fmt(median(values), digits)} (${fmt(Math.min(...values), digits)}–${fmt(Math.max(...values), digits)})`;

export const vsBaseline: Scenario = {
  id: 'vs-baseline',
  title: 'Against the limit: Pollster ÷ a thread-free evented server',
  notPerConfiguration: 'compares fixed configurations (the defaults; multiplex on 2 threads) with the evented baseline, fresh starts each run',
  notFromOutside: 'starts Pollster and the baseline afresh for every run, side by side on this machine; a running server cannot be restarted',
  async run(settings: BenchSettings, log): Promise<ScenarioResult> {
    const runs = settings.quick ? 2 : Math.max(5, settings.runs);
    const polls = settings.heldPolls;
    const figures: Record<Contender, RunFigures[]> = { pollster: [], baseline: [] };
    for (let run = 0; run < runs; run++) {
      const order: Contender[] = run % 2 === 0 ? ['pollster', 'baseline'] : ['baseline', 'pollster'];
      for (const contender of order) {
        const result = await measure(contender, settings, polls);
        figures[contender].push(result);
        log(
          `run ${run + 1}/${runs}, ${contender}: one poll p50 ${fmt(result.deliveryP50)} ms; ${polls} polls p50 ${fmt(result.fanOutP50)} ms, slowest ${fmt(result.fanOutMax)} ms (${result.delivered}/${polls}); ` +
            `${polls} streams p50 ${fmt(result.streamP50)} ms, slowest ${fmt(result.streamMax)} ms (${result.streamsDelivered}/${polls}); ${fmt(result.kbPerHeld, 1)} KB per held poll`,
        );
      }
    }
    const metrics: Array<{ name: string; short: string; key: keyof RunFigures; unit: string; target: number }> = [
      { name: 'one post → one waiting poll, p50 (default config)', short: '1 poll, p50', key: 'deliveryP50', unit: 'ms', target: 1.3 },
      { name: 'one post → one waiting poll, p99 (default config)', short: '1 poll, p99', key: 'deliveryP99', unit: 'ms', target: 1.5 },
      { name: `one post → ${polls} waiting polls, p50 (multiplex, 2 threads)`, short: `${polls} polls, p50`, key: 'fanOutP50', unit: 'ms', target: 1.2 },
      { name: `one post → ${polls} waiting polls, slowest`, short: `${polls} polls, slowest`, key: 'fanOutMax', unit: 'ms', target: 1.25 },
      { name: `one post → ${polls} SSE streams, p50 (multiplex, 2 threads)`, short: `${polls} streams, p50`, key: 'streamP50', unit: 'ms', target: 1.2 },
      { name: `one post → ${polls} SSE streams, slowest`, short: `${polls} streams, slowest`, key: 'streamMax', unit: 'ms', target: 1.25 },
      { name: 'memory per held poll (RSS)', short: 'KB per held poll', key: 'kbPerHeld', unit: 'KB', target: 1.2 },
    ];
    const rows = metrics.map((metric) => {
      const ours = figures.pollster.map((f) => f[metric.key]);
      const theirs = figures.baseline.map((f) => f[metric.key]);
      // Run i of one beside run i of the other: they ran back to back.
      const ratios = ours.map((value, i) => value / theirs[i]!);
      return { ...metric, ours, theirs, ratios, ratio: median(ratios) };
    });
    const all = [...figures.pollster, ...figures.baseline];
    const delivered = Math.min(...all.map((f) => f.delivered));
    const streamed = Math.min(...all.map((f) => f.streamsDelivered));
    return {
      id: this.id,
      title: this.title,
      method: `The evented baseline (bench/baseline/evented-server.ts) serves the same sessions, posts and long polls from memory, every wait a promise on its one thread. ${runs} runs; in each, Pollster and the baseline run back to back in alternating order, each on a fresh process: first one long-poll client on wall ${WALL} receiving ${settings.messages} posts ${POST_EVERY_MS} ms apart (Pollster on its default configuration), then ${polls} long polls, each on its own bare TCP socket (a pre-built request; the answer only searched for the post, so the client's cost per answer stays far below the servers'), opened in batches of ${BATCH}, and one post to them (Pollster with POLL_MODE=multiplex, MIN_THREADS=MAX_THREADS=2, TASKS_PER_THREAD=${Math.ceil(polls / 2)}), RSS from /stats before and with the polls held; then, on the same server, as many SSE streams (GET /check) on bare sockets and one post to them. Figures are medians over the runs with min–max; the ratio is taken run by run (Pollster ÷ the baseline of the same run) and then its median. Targets are issue 15's.`,
      tables: [
        {
          title: `Pollster ÷ evented baseline, median of ${runs} interleaved runs (min–max)`,
          columns: ['measure', 'Pollster', 'baseline', 'Pollster ÷ baseline', 'target'],
          rows: rows.map((r) => [r.name, `${spread(r.ours, r.unit === 'KB' ? 1 : 2)} ${r.unit}`, `${spread(r.theirs, r.unit === 'KB' ? 1 : 2)} ${r.unit}`, `${spread(r.ratios)}×`, `≤ ${r.target}×`]),
        },
      ],
      targets: [
        ...rows.map((r) => ({ goal: `Issue 15: ${r.name} ≤ ${r.target} × the evented baseline`, measured: `${fmt(r.ratio)}× (${fmt(Math.min(...r.ratios))}–${fmt(Math.max(...r.ratios))})`, met: r.ratio <= r.target })),
        {
          goal: `Every one of the ${polls} polls and of the ${polls} streams gets the post, both servers, every run`,
          measured: `worst run: polls ${delivered}/${polls}, streams ${streamed}/${polls}`,
          met: delivered === polls && streamed === polls,
        },
      ],
      charts: [
        {
          file: 'vs-baseline.svg',
          caption: 'Pollster ÷ the evented baseline (1 = as fast or as small as the thread-free server)',
          svg: barChart({
            title: `Pollster ÷ evented baseline (${runs} interleaved runs)`,
            categories: rows.map((r) => r.short.replace(', ', ', ')),
            series: [
              { name: 'median ratio', values: rows.map((r) => round(r.ratio)) },
              { name: 'best run', values: rows.map((r) => round(Math.min(...r.ratios))) },
              { name: 'worst run', values: rows.map((r) => round(Math.max(...r.ratios))) },
            ],
            yLabel: 'Pollster ÷ baseline',
            reference: { value: 1, label: 'baseline = 1' },
          }),
        },
      ],
      data: { runs, polls, figures, ratios: rows.map((r) => ({ measure: r.name, ratios: r.ratios, median: r.ratio })) },
    };
  },
};
