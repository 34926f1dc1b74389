/**
 * Capacity beyond the thread count: can one process hold more waits than it
 * has threads, and at what cost? Hold thousands of long
 * polls and SSE streams in one process, then measure /ping against its idle
 * baseline, RSS per held connection, and the fan-out of one post to every
 * poll — in POLL_MODE=multiplex, and in POLL_MODE=pool at a large pool size,
 * so the report shows what each model buys.
 */
import { readFileSync } from 'node:fs';
import { performance } from 'node:perf_hooks';
import { login, postMessage, send, sharedAbort, until, within } from '../lib/client.js';
import { openEvents, type OpenStream } from '../lib/events.js';
import { load, type LoadOptions } from '../lib/load.js';
import { fmt, type BenchSettings, type Scenario, type ScenarioResult } from '../lib/scenario.js';
import { startServer } from '../lib/server.js';
import { median, summarize } from '../lib/stats.js';
import { barChart } from '../lib/svg-chart.js';

const POLL_WALL = 1;
const STREAM_WALL = 2;
const BATCH = 250;
const HOLD_MS = 300_000;
/** 10000 → "10,000". */
const count = (n: number): string => n.toLocaleString('en-US');

/** The soft open-file limit of this process; the server inherits it. */
function openFileLimit(): number {
  const line = readFileSync('/proc/self/limits', 'utf8')
    .split('\n')
    .find((l) => l.startsWith('Max open files'));
  const soft = line?.split(/\s{2,}/)[1];
  return soft === 'unlimited' ? Infinity : Number(soft);
}

interface ModelFigures {
  model: string;
  env: Record<string, string>;
  polls: number;
  streams: number;
  /** Polls and streams the server held at once (running tasks), the rest queued. */
  running: number;
  queued: number;
  openMs: number;
  idleRssMiB: number;
  heldRssMiB: number;
  kbPerHeld: number;
  baselineRps: number;
  heldRps: number;
  baselineP99: number;
  heldP99: number;
  fanOut: { delivered: number; p50: number; p99: number; max: number };
}

/** Medians of several autocannon rounds: one 3 s round next to 11,000 sockets is noisy. */
async function loadRounds(origin: string, options: LoadOptions, rounds: number): Promise<{ rps: number; p99: number }> {
  const results = [];
  for (let i = 0; i < rounds; i++) results.push(await load(origin, options));
  return { rps: median(results.map((r) => r.rps)), p99: median(results.map((r) => r.p99)) };
}

async function measureModel(
  model: string,
  env: Record<string, string>,
  polls: number,
  streams: number,
  settings: BenchSettings,
  log: (line: string) => void,
): Promise<ModelFigures> {
  const rounds = Math.max(3, settings.runs);
  const server = await startServer({
    ...env,
    POLL_TIMEOUT_MS: String(HOLD_MS),
    SSE_MAX_MS: String(HOLD_MS),
    MAX_QUEUE: String(polls + streams),
  });
  const openStreams: OpenStream[] = [];
  const stop = sharedAbort();
  try {
    const { session, latest } = await login(server.agent, server.url);
    const ping = { path: '/ping', durationS: settings.durationS };
    await load(server.url, { ...ping, durationS: 1 });
    const baseline = await loadRounds(server.url, ping, rounds);
    await new Promise((resolve) => setTimeout(resolve, 500));
    const idle = await server.stats();

    // Polls first, then streams: in pool mode the threads go to the polls and
    // the streams queue behind them (a thread held by a quiet stream would
    // keep the fan-out waiting until SSE_MAX_MS).
    let postedAt = Infinity;
    let content = '';
    const replies: Array<Promise<number>> = [];
    const openedAt = performance.now();
    for (let opened = 0; opened < polls; opened += BATCH) {
      for (let i = opened; i < Math.min(polls, opened + BATCH); i++) {
        replies.push(
          send(server.agent, server.url, 'POST', '/poll', {
            session,
            body: { last_post_id: { [POLL_WALL]: latest.get(POLL_WALL)! }, timeout_ms: HOLD_MS },
            timeoutMs: HOLD_MS + 10_000,
            signal: stop.signal,
          }).then(
            (reply) =>
              reply.json?.walls?.[POLL_WALL]?.posts?.some((p: { content: string }) => p.content === content)
                ? performance.now() - postedAt
                : NaN,
            () => NaN,
          ),
        );
      }
      const target = Math.min(polls, opened + BATCH);
      await until(server.stats, (s) => s.waiting_polls >= target, 60_000);
    }
    for (let opened = 0; opened < streams; opened += BATCH) {
      const batch = Array.from({ length: Math.min(BATCH, streams - opened) }, () =>
        openEvents(server.agent, server.url, `/check?walls=${STREAM_WALL}`, session, () => {}),
      );
      openStreams.push(...(await Promise.all(batch)));
    }
    const held = await until(server.stats, (s) => s.waiting_polls === polls + streams && s.open_streams === streams, 60_000);
    const openMs = performance.now() - openedAt;
    log(
      `${model}: holding ${polls} polls + ${streams} streams (${held.pool.busy} running, ${held.pool.queued} queued) after ${fmt(openMs / 1000, 1)} s, RSS ${fmt(held.memory.rss / 2 ** 20, 1)} MiB`,
    );

    const loaded = await loadRounds(server.url, ping, rounds);
    const after = await server.stats();
    if (after.waiting_polls !== polls + streams) throw new Error(`held connections dropped during the /ping run: ${after.waiting_polls}`);

    content = `fan-out ${Math.random()}`;
    postedAt = performance.now();
    await postMessage(server.agent, server.url, session, POLL_WALL, content);
    const times = await within(Promise.all(replies), 60_000, []);
    const delivered = times.filter(Number.isFinite);
    const fanOut = { delivered: delivered.length, ...summarize(delivered) };
    log(
      `${model}: /ping ${loaded.rps} req/s (${fmt((loaded.rps / baseline.rps) * 100, 0)}% of idle), fan-out ${fanOut.delivered}/${polls} in max ${fmt(fanOut.max)} ms`,
    );

    const heldCount = polls + streams;
    return {
      model,
      env,
      polls,
      streams,
      running: held.pool.busy,
      queued: held.pool.queued,
      openMs,
      idleRssMiB: idle.memory.rss / 2 ** 20,
      heldRssMiB: held.memory.rss / 2 ** 20,
      kbPerHeld: (held.memory.rss - idle.memory.rss) / heldCount / 1024,
      baselineRps: baseline.rps,
      heldRps: loaded.rps,
      baselineP99: baseline.p99,
      heldP99: loaded.p99,
      fanOut,
    };
  } finally {
    stop.abort();
    for (const stream of openStreams) stream.close();
    await server.stop();
  }
}

export const heldPolls: Scenario = {
  id: 'held-polls',
  title: 'Capacity beyond the thread count: multiplex vs pool',
  notPerConfiguration:
    'compares its own two models (multiplex on 2 threads against a 256-thread pool), each sized to hold every connection',
  notFromOutside:
    'opens 11,000 connections and needs the server sized for them (TASKS_PER_THREAD, MAX_QUEUE, open files); it measures RSS growth of a fresh process',
  draw: (rows: ModelFigures[]) => [
    {
      file: 'held-polls.svg',
      caption: 'Fan-out time to every held poll, by model',
      svg: barChart({
        title: `One post to ${count(rows[0]?.polls ?? 0)} waiting polls: time until each has it (ms)`,
        categories: rows.map((r) => r.model),
        series: [
          { name: 'p50', values: rows.map((r) => r.fanOut.p50) },
          { name: 'p99', values: rows.map((r) => r.fanOut.p99) },
          { name: 'max', values: rows.map((r) => r.fanOut.max) },
        ],
        yLabel: 'ms',
        lines: [{ value: 1000, label: 'target ≤ 1 s (multiplex)', kind: 'target' }],
      }),
    },
  ],
  async run(settings: BenchSettings, log): Promise<ScenarioResult> {
    const polls = settings.heldPolls;
    const streams = settings.heldStreams;
    const needed = polls + streams + 1000;
    const limit = openFileLimit();
    if (limit < needed) {
      throw new Error(
        `held-polls needs ${needed} open files per process but the limit is ${limit}: run "ulimit -n ${needed * 2}" first (as root, or raise the hard limit)`,
      );
    }
    const poolThreads = settings.quick ? 32 : 256;
    const perThread = Math.ceil((polls + streams) / 2);
    const models: Array<[string, Record<string, string>]> = [
      [
        `multiplex, 2 threads × ${perThread}`,
        { POLL_MODE: 'multiplex', MIN_THREADS: '2', MAX_THREADS: '2', TASKS_PER_THREAD: String(perThread) },
      ],
      [`pool, ${poolThreads} threads`, { POLL_MODE: 'pool', MIN_THREADS: String(poolThreads), MAX_THREADS: String(poolThreads) }],
    ];
    const rows: ModelFigures[] = [];
    for (const [model, env] of models) rows.push(await measureModel(model, env, polls, streams, settings, log));
    const multiplex = rows[0]!;
    const rpsRatio = multiplex.heldRps / multiplex.baselineRps;
    const p99Ratio = multiplex.heldP99 / Math.max(multiplex.baselineP99, 1);
    return {
      id: this.id,
      title: this.title,
      method: `Open ${polls} long polls on wall ${POLL_WALL} and ${streams} SSE streams on wall ${STREAM_WALL} in batches of ${BATCH}, in one server process. Measure /ping with autocannon (10 connections, median of ${Math.max(3, settings.runs)} rounds of ${settings.durationS} s) idle and while they are held, RSS from /stats idle (threads already pre-spawned and loaded) and held, then post one message to wall ${POLL_WALL} and time each poll until it has it (60 s bound). Multiplex: 2 threads (one per core), TASKS_PER_THREAD = ${perThread}. Pool: ${poolThreads} threads, the most this bench starts (each thread costs its RSS, measured under "Pool capacity", and a spawn on the main thread; MIN_THREADS pre-spawns as many /hello lane threads again). Identical waits share one task in either model, so the ${polls} polls on one wall and the ${streams} streams on another take a task each; what a thread could not take would wait in Pollster's queue (MAX_QUEUE = ${polls + streams}). One run each. Open-file limit: ${limit}.`,
      tables: [
        {
          title: 'Held connections, /ping, memory and fan-out',
          columns: [
            'model',
            'running',
            'queued',
            '/ping idle req/s',
            '/ping held req/s',
            'ratio',
            '/ping p99 idle → held ms',
            'RSS idle → held MiB',
            'KB per held',
            'fan-out delivered',
            'fan-out p50 ms',
            'p99 ms',
            'max ms',
          ],
          rows: rows.map((r) => [
            r.model,
            r.running,
            r.queued,
            r.baselineRps,
            r.heldRps,
            `${fmt((r.heldRps / r.baselineRps) * 100, 0)}%`,
            `${r.baselineP99} → ${r.heldP99}`,
            `${fmt(r.idleRssMiB, 0)} → ${fmt(r.heldRssMiB, 0)}`,
            fmt(r.kbPerHeld, 1),
            `${r.fanOut.delivered}/${r.polls}`,
            fmt(r.fanOut.p50),
            fmt(r.fanOut.p99),
            fmt(r.fanOut.max),
          ]),
        },
      ],
      targets: [
        {
          goal: `Multiplex holds ${count(polls)} polls + ${count(streams)} streams with /ping ≥ 80% of its idle req/s`,
          measured: `${fmt(rpsRatio * 100, 0)}%`,
          met: rpsRatio >= 0.8,
          kind: 'ratio',
        },
        {
          goal: 'Multiplex: /ping p99 ≤ 2× its idle p99 while holding them',
          measured: `${multiplex.baselineP99} ms → ${multiplex.heldP99} ms (${fmt(p99Ratio)}×)`,
          met: p99Ratio <= 2,
          kind: 'ratio',
        },
        {
          goal: `Multiplex fan-out: one post reaches all ${count(polls)} polls in ≤ 1 s, none lost`,
          measured: `${multiplex.fanOut.delivered}/${polls}, p99 ${fmt(multiplex.fanOut.p99)} ms, max ${fmt(multiplex.fanOut.max)} ms`,
          met: multiplex.fanOut.delivered === polls && multiplex.fanOut.max <= 1000,
          kind: 'absolute',
        },
        {
          goal: 'Multiplex: ≤ 30 KB RSS per held connection (poll or stream) above the idle process',
          measured: `${fmt(multiplex.kbPerHeld, 1)} KB`,
          met: multiplex.kbPerHeld <= 30,
          kind: 'absolute',
        },
      ],
      charts: this.draw!(rows),
      data: rows,
    };
  },
};
