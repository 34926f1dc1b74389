/**
 * Scenario 4: per pool size, how many polls are served at once, how many
 * queue, what MAX_QUEUE turns away with 503, and what a thread costs in RSS.
 *
 * MIN_THREADS=T pre-spawns T threads in the /hello lane as well as T poll
 * threads (HELLO_CONCURRENCY defaults to MAX_THREADS), so each step of T adds
 * two threads: the cost per thread is the slope of RSS over the threads
 * /stats reports (pool.threads + hello_lane.threads), not over T.
 */
import { performance } from 'node:perf_hooks';
import { holdPolls, login, send, until } from '../lib/client.js';
import { fmt, type BenchSettings, type Scenario, type ScenarioResult } from '../lib/scenario.js';
import { startServer } from '../lib/server.js';
import { summarize } from '../lib/stats.js';
import { barChart } from '../lib/svg-chart.js';

const WALL = 4;

export interface CapacityRow {
  threads: number;
  /** Threads running when idle RSS was read, from /stats. */
  poolThreads: number;
  laneThreads: number;
  offered: number;
  running: number;
  queued: number;
  rejected: number;
  rssIdleMiB: number;
  rssHeldMiB: number;
}

/** Least-squares slope of y over x. */
function slope(points: Array<{ x: number; y: number }>): number {
  const mx = points.reduce((s, p) => s + p.x, 0) / points.length;
  const my = points.reduce((s, p) => s + p.y, 0) / points.length;
  return points.reduce((s, p) => s + (p.x - mx) * (p.y - my), 0) / (points.reduce((s, p) => s + (p.x - mx) ** 2, 0) || 1);
}

/** Idle RSS per thread actually running (poll or /hello lane), MiB: the figure the README quotes. */
export function mibPerThread(rows: CapacityRow[]): number {
  return slope(rows.map((r) => ({ x: r.poolThreads + r.laneThreads, y: r.rssIdleMiB })));
}

/** Idle RSS per step of MIN_THREADS = MAX_THREADS, MiB: what raising T by one costs, lane threads included. */
export function mibPerStep(rows: CapacityRow[]): number {
  return slope(rows.map((r) => ({ x: r.threads, y: r.rssIdleMiB })));
}

/** Open one poll, drop its client, and time until /stats shows the thread free again. */
async function timeCancellations(
  server: Awaited<ReturnType<typeof startServer>>,
  session: string,
  after: number,
  count: number,
): Promise<number[]> {
  const times: number[] = [];
  for (let i = 0; i < count; i++) {
    const controller = new AbortController();
    const poll = send(server.agent, server.url, 'POST', '/poll', {
      session,
      body: { last_post_id: { [WALL]: after }, timeout_ms: 60_000 },
      timeoutMs: 65_000,
      signal: controller.signal,
    }).catch(() => null);
    await until(server.stats, (s) => s.pool.busy === 1);
    const threads = (await server.stats()).pool.threads;
    const abortedAt = performance.now();
    controller.abort();
    for (;;) {
      const stats = await server.stats();
      if (stats.pool.busy === 0) {
        if (stats.pool.threads !== threads || stats.pool.failed > 0) throw new Error('a cancelled poll cost a thread');
        break;
      }
      await new Promise((resolve) => setTimeout(resolve, 2));
    }
    times.push(performance.now() - abortedAt);
    await poll;
  }
  return times;
}

export const poolCapacity: Scenario = {
  id: 'pool-capacity',
  title: 'Pool capacity and memory per thread',
  notPerConfiguration: 'sweeps MAX_THREADS itself (with MAX_QUEUE = MAX_THREADS) to find the cost of a thread; use --threads',
  notFromOutside:
    'fills the queue until the server answers 503 and restarts it at each pool size: on your server that would turn your users away',
  draw: ({ rows }: { rows: CapacityRow[] }) => [
    {
      file: 'pool-capacity.svg',
      caption: 'Process RSS by pool size',
      svg: barChart({
        title: 'Pollster RSS by pool size (MiB)',
        categories: rows.map((r) => `T=${r.threads}, ${r.poolThreads + r.laneThreads} threads`),
        series: [
          { name: 'idle', values: rows.map((r) => Math.round(r.rssIdleMiB)) },
          { name: 'with 2T polls held', values: rows.map((r) => Math.round(r.rssHeldMiB)) },
        ],
        yLabel: 'MiB',
      }),
    },
  ],
  async run(settings: BenchSettings, log): Promise<ScenarioResult> {
    const rows: CapacityRow[] = [];
    const cancelMs: number[] = [];
    for (const threads of settings.threads) {
      const server = await startServer({ MAX_THREADS: String(threads), MIN_THREADS: String(threads), MAX_QUEUE: String(threads) });
      try {
        const { session, latest } = await login(server.agent, server.url);
        await new Promise((resolve) => setTimeout(resolve, 300));
        const idle = await server.stats();
        const admitted = holdPolls(server.agent, server.url, session, WALL, latest.get(WALL)!, 2 * threads, 60_000);
        const held = await until(server.stats, (s) => s.pool.busy === threads && s.pool.queued === threads);
        // One more than running + MAX_QUEUE, each: all must be refused at once.
        const extra = await Promise.all(
          Array.from({ length: threads }, () =>
            send(server.agent, server.url, 'POST', '/poll', {
              session,
              body: { last_post_id: { [WALL]: latest.get(WALL)! }, timeout_ms: 60_000 },
              timeoutMs: 5000,
            }),
          ),
        );
        const rejected = extra.filter((r) => r.status === 503).length;
        rows.push({
          threads,
          poolThreads: idle.pool.threads,
          laneThreads: idle.hello_lane.threads,
          offered: 3 * threads,
          running: held.pool.busy,
          queued: held.pool.queued,
          rejected,
          rssIdleMiB: idle.memory.rss / 2 ** 20,
          rssHeldMiB: held.memory.rss / 2 ** 20,
        });
        log(
          `MAX_THREADS=${threads}: ${held.pool.busy} running, ${held.pool.queued} queued, ${rejected}/${threads} refused 503, RSS ${fmt(idle.memory.rss / 2 ** 20, 1)} MiB idle with ${idle.pool.threads} poll + ${idle.hello_lane.threads} /hello lane threads`,
        );
        await admitted.release();
        await until(server.stats, (s) => s.pool.busy === 0 && s.pool.queued === 0);
        if (threads === settings.threads[settings.threads.length - 1]) {
          cancelMs.push(...(await timeCancellations(server, session, latest.get(WALL)!, settings.quick ? 5 : 20)));
        }
      } finally {
        await server.stop();
      }
    }
    const perThread = mibPerThread(rows);
    const perStep = mibPerStep(rows);
    log(`≈ ${fmt(perThread, 1)} MiB RSS per thread (poll or /hello lane); ≈ ${fmt(perStep, 1)} MiB per step of MIN_THREADS = MAX_THREADS`);
    const cancel = summarize(cancelMs);
    log(`client gone → thread free: p50 ${cancel.p50} ms, max ${cancel.max} ms (${cancel.count} polls)`);
    return {
      id: this.id,
      title: this.title,
      method: `For each pool size T (MIN_THREADS = MAX_THREADS = T, MAX_QUEUE = T), open 2T long polls that get no data, then T more. RSS is read from /stats after boot (threads pre-spawned) and with the polls held. MIN_THREADS also pre-spawns T threads in the /hello lane (HELLO_CONCURRENCY defaults to MAX_THREADS), so a server with T poll threads runs 2T threads; the cost of one thread is the least-squares slope of idle RSS over the threads /stats counts (pool.threads + hello_lane.threads): ≈ ${fmt(perThread, 1)} MiB per thread. The slope over T itself, ≈ ${fmt(perStep, 1)} MiB, is what one more step of MIN_THREADS = MAX_THREADS costs with the lane's threads. On the largest pool, single polls are then opened and their clients disconnected, timing (by polling /stats every 2 ms) until the pool shows no busy thread.`,
      tables: [
        {
          title: `Polls offered, served, queued and refused; RSS (≈ ${fmt(perThread, 1)} MiB per thread)`,
          columns: [
            'MAX_THREADS',
            'threads (poll + /hello lane)',
            'offered',
            'running',
            'queued',
            'refused 503',
            'RSS idle MiB',
            'RSS with polls MiB',
          ],
          rows: rows.map((r) => [
            r.threads,
            `${r.poolThreads} + ${r.laneThreads}`,
            r.offered,
            r.running,
            r.queued,
            `${r.rejected}/${r.threads}`,
            fmt(r.rssIdleMiB, 1),
            fmt(r.rssHeldMiB, 1),
          ]),
        },
      ],
      targets: [
        {
          goal: 'A poll whose client leaves frees its thread within 100 ms (cooperative cancel, thread kept)',
          measured: `p50 ${fmt(cancel.p50)} ms, max ${fmt(cancel.max)} ms over ${cancel.count} polls`,
          met: cancel.count > 0 && cancel.max <= 100,
          kind: 'absolute',
        },
        {
          goal: 'Everything beyond running + MAX_QUEUE is refused 503 at once',
          measured: rows.map((r) => `T=${r.threads}: ${r.rejected}/${r.threads}`).join(', '),
          met: rows.every((r) => r.rejected === r.threads && r.running === r.threads && r.queued === r.threads),
          kind: 'correctness',
        },
      ],
      charts: this.draw!({ rows }),
      data: { rows, mibPerThread: perThread, mibPerStep: perStep, cancel },
    };
  },
};
