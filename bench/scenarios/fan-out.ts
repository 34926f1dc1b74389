/**
 * Scenario 3: N polls wait on one wall; one post. How long until all N have
 * the message, and did every one get it?
 */
import { performance } from 'node:perf_hooks';
import { login, postMessage, send, until } from '../lib/client.js';
import { fmt, type BenchSettings, type Comparison, type Scenario, type ScenarioResult } from '../lib/scenario.js';
import { holdersFor, type Holder } from '../lib/holder.js';
import { startServer, type BenchServer } from '../lib/server.js';
import { median, summarize, type LatencySummary } from '../lib/stats.js';

const WALL = 2;

/** One fan-out on a running server: returns each poll's delivery time, or NaN for a miss. */
export async function fanOutOnce(
  server: BenchServer,
  session: string,
  after: number,
  polls: number,
  ready: (stats: any) => boolean,
  wall = WALL,
  holders: readonly Holder[] = [{ session }],
): Promise<{ times: number[]; delivered: number }> {
  let postedAt = 0;
  let content = '';
  const replies = Array.from({ length: polls }, (_, index) => {
    const holder = holders[index % holders.length]!;
    return send(server.agent, server.url, 'POST', '/poll', {
      session: holder.session,
      ...(holder.forwardedFor ? { headers: { 'x-forwarded-for': holder.forwardedFor } } : {}),
      body: { last_post_id: { [wall]: after }, timeout_ms: 30_000 },
      timeoutMs: 40_000,
    }).then(
      (reply) => {
        const got = reply.json?.walls?.[wall]?.posts?.some((p: { content: string }) => p.content === content);
        return got ? performance.now() - postedAt : NaN;
      },
      () => NaN,
    );
  });
  await until(server.stats, ready, 60_000);
  content = `fan-out ${Math.random()}`;
  postedAt = performance.now();
  await postMessage(server.agent, server.url, session, wall, content);
  const times = await Promise.all(replies);
  return { times: times.filter(Number.isFinite), delivered: times.filter(Number.isFinite).length };
}

/** The most polls one comparison opens at once. */
const MOST_POLLS = 10_000;

/** One configuration, or the user's server: N = T and 4T polls in pool mode, a few thousand in multiplex mode. */
const comparison: Comparison = {
  method: (settings, external) =>
    `Open N long polls on ${external ? 'the bench wall' : `wall ${WALL}`}, wait until /stats counts them, post one message, and time each poll from the start of the POST until it has the message. N is T and 4T for a pool of T threads (pool.max_threads from /stats); in multiplex mode ${settings.quick ? 200 : 2000} (at most the capacity); never more than running + MAX_QUEUE allow, nor ${MOST_POLLS}. Medians of ${settings.runs} run(s). Inline mode holds one poll at a time, so it is left out. Within the server's fair-share caps the polls come from as many sessions as MAX_WAITS_PER_SESSION requires, each with its own X-Forwarded-For address from 198.18.0.0/15 (the benchmarking range).`,
  chart: { title: 'One post to the largest N waiting polls (ms)', yLabel: 'ms', log: true },
  async measure(source, settings, log) {
    const server = await source.open({ MAX_QUEUE: '10000', POLL_TIMEOUT_MS: '60000' });
    try {
      const before = await server.stats();
      if (before.mode === 'inline')
        return { columns: [], rows: [], bars: [], notes: ['inline mode: one poll waits at a time'], data: null };
      const pool = before.pool;
      const room = Math.min(MOST_POLLS, pool.capacity + pool.max_queue - before.waiting_polls);
      const wanted =
        before.mode === 'multiplex' ? [Math.min(pool.capacity, settings.quick ? 200 : 2000)] : [pool.max_threads, 4 * pool.max_threads];
      const cases = [...new Set(wanted.map((n) => Math.max(1, Math.min(n, room))))];
      const { session, latest } = await login(server.agent, server.url, source.user);
      const wall = source.wall ?? WALL;
      const rows: Array<Array<string | number>> = [];
      const bars: Array<{ name: string; value: number }> = [];
      for (const [index, polls] of cases.entries()) {
        const runs: Array<LatencySummary & { delivered: number }> = [];
        for (let run = 0; run < settings.runs; run++) {
          const after =
            run === 0 && index === 0 ? latest.get(wall)! : (await login(server.agent, server.url, source.user)).latest.get(wall)!;
          const waiting: number = (await server.stats()).waiting_polls;
          const holders = await holdersFor(server, source.user, session, polls, before.wait_limits);
          const result = await fanOutOnce(server, session, after, polls, (s) => s.waiting_polls >= waiting + polls, wall, holders);
          runs.push({ ...summarize(result.times), delivered: result.delivered });
        }
        const delivered = Math.min(...runs.map((r) => r.delivered));
        const p50 = median(runs.map((r) => r.p50));
        const max = median(runs.map((r) => r.max));
        rows.push([polls, `${delivered}/${polls}`, fmt(p50), fmt(median(runs.map((r) => r.p99))), fmt(max)]);
        // The chart shows the largest N of each configuration (the table has them all).
        if (index === cases.length - 1) bars.push({ name: 'p50', value: p50 }, { name: 'slowest', value: max });
        log(`${polls} polls: ${delivered}/${polls} delivered, p50 ${fmt(p50)} ms, max ${fmt(max)} ms`);
      }
      return { columns: ['N polls', 'delivered', 'p50 ms', 'p99 ms', 'max ms'], rows, bars, data: rows };
    } finally {
      await server.stop();
    }
  },
};

export const fanOut: Scenario = {
  id: 'fan-out',
  title: 'Fan-out: one post, N waiting polls',
  compare: comparison,
  async run(settings: BenchSettings, log): Promise<ScenarioResult> {
    const cases = settings.quick
      ? [
          { threads: 4, polls: 4 },
          { threads: 4, polls: 16 },
        ]
      : [
          { threads: 8, polls: 8 },
          { threads: 8, polls: 32 },
          { threads: 32, polls: 32 },
          { threads: 32, polls: 128 },
        ];
    const rows: Array<{ threads: number; polls: number; delivered: number } & LatencySummary> = [];
    for (const { threads, polls } of cases) {
      const runs: Array<LatencySummary & { delivered: number }> = [];
      for (let run = 0; run < settings.runs; run++) {
        const server = await startServer({ MAX_THREADS: String(threads), MIN_THREADS: String(threads), MAX_QUEUE: '10000' });
        try {
          const { session, latest } = await login(server.agent, server.url);
          // Identical polls share one task: count the polls, not the tasks.
          const result = await fanOutOnce(server, session, latest.get(WALL)!, polls, (s) => s.waiting_polls === polls);
          runs.push({ ...summarize(result.times), delivered: result.delivered });
        } finally {
          await server.stop();
        }
      }
      const row = {
        threads,
        polls,
        delivered: Math.min(...runs.map((r) => r.delivered)),
        count: polls,
        p50: median(runs.map((r) => r.p50)),
        p99: median(runs.map((r) => r.p99)),
        max: median(runs.map((r) => r.max)),
      };
      log(`MAX_THREADS=${threads}, ${polls} polls: ${row.delivered}/${polls} delivered, p50 ${fmt(row.p50)} ms, max ${fmt(row.max)} ms`);
      rows.push(row);
    }
    const target = rows.filter((r) => r.polls === 32);
    return {
      id: this.id,
      title: this.title,
      method: `Open N identical long polls on wall ${WALL} (identical polls share one pool task, so N may exceed MAX_THREADS without queueing), wait until /stats counts them all, post one message, and time each poll from the start of the POST until it has the message. Medians of ${settings.runs} run(s); "delivered" is the worst run.`,
      tables: [
        {
          title: 'Time until each of N waiting polls has the message, ms',
          columns: ['MAX_THREADS', 'N polls', 'delivered', 'p50', 'p99', 'max'],
          rows: rows.map((r) => [r.threads, r.polls, `${r.delivered}/${r.polls}`, fmt(r.p50), fmt(r.p99), fmt(r.max)]),
        },
      ],
      targets: target.length
        ? [
            {
              goal: 'One post to 32 waiting polls: all delivered, the slowest within 50 ms',
              measured: target.map((r) => `MAX_THREADS=${r.threads}: ${r.delivered}/32, max ${fmt(r.max)} ms`).join('; '),
              met: target.every((r) => r.delivered === 32 && r.max <= 50),
              kind: 'absolute' as const,
            },
          ]
        : [],
      charts: [],
      data: rows,
    };
  },
};
