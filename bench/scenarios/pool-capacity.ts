/**
 * Scenario 4: per pool size, how many polls are served at once, how many
 * queue, what MAX_QUEUE turns away with 503, and what a thread costs in RSS.
 */
import { performance } from 'node:perf_hooks';
import { holdPolls, login, send, until } from '../lib/client.js';
import { fmt, type BenchSettings, type Scenario, type ScenarioResult } from '../lib/scenario.js';
import { startServer } from '../lib/server.js';
import { summarize } from '../lib/stats.js';
import { barChart } from '../lib/svg-chart.js';

const WALL = 4;

/** Open one poll, drop its client, and time until /stats shows the thread free again. */
async function timeCancellations(server: Awaited<ReturnType<typeof startServer>>, session: string, after: number, count: number): Promise<number[]> {
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
  notFromOutside: 'fills the queue until the server answers 503 and restarts it at each pool size: on your server that would turn your users away',
  async run(settings: BenchSettings, log): Promise<ScenarioResult> {
    const rows: Array<{ threads: number; offered: number; running: number; queued: number; rejected: number; rssIdleMiB: number; rssHeldMiB: number }> = [];
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
            send(server.agent, server.url, 'POST', '/poll', { session, body: { last_post_id: { [WALL]: latest.get(WALL)! }, timeout_ms: 60_000 }, timeoutMs: 5000 }),
          ),
        );
        const rejected = extra.filter((r) => r.status === 503).length;
        rows.push({
          threads,
          offered: 3 * threads,
          running: held.pool.busy,
          queued: held.pool.queued,
          rejected,
          rssIdleMiB: idle.memory.rss / 2 ** 20,
          rssHeldMiB: held.memory.rss / 2 ** 20,
        });
        log(`MAX_THREADS=${threads}: ${held.pool.busy} running, ${held.pool.queued} queued, ${rejected}/${threads} refused 503, RSS ${fmt(idle.memory.rss / 2 ** 20, 1)} MiB idle`);
        await admitted.release();
        await until(server.stats, (s) => s.pool.busy === 0 && s.pool.queued === 0);
        if (threads === settings.threads[settings.threads.length - 1]) {
          cancelMs.push(...(await timeCancellations(server, session, latest.get(WALL)!, settings.quick ? 5 : 20)));
        }
      } finally {
        await server.stop();
      }
    }
    // Least-squares slope of idle RSS over the thread count: the cost of one thread.
    const n = rows.length;
    const mx = rows.reduce((s, r) => s + r.threads, 0) / n;
    const my = rows.reduce((s, r) => s + r.rssIdleMiB, 0) / n;
    const slope =
      rows.reduce((s, r) => s + (r.threads - mx) * (r.rssIdleMiB - my), 0) / (rows.reduce((s, r) => s + (r.threads - mx) ** 2, 0) || 1);
    log(`≈ ${fmt(slope, 1)} MiB RSS per worker thread`);
    const cancel = summarize(cancelMs);
    log(`client gone → thread free: p50 ${cancel.p50} ms, max ${cancel.max} ms (${cancel.count} polls)`);
    return {
      id: this.id,
      title: this.title,
      method: 'For each pool size T (MIN_THREADS = MAX_THREADS = T, MAX_QUEUE = T), open 2T long polls that get no data, then T more. RSS is read from /stats after boot (threads pre-spawned) and with the polls held; the per-thread cost is the least-squares slope of idle RSS over T. On the largest pool, single polls are then opened and their clients disconnected, timing (by polling /stats every 2 ms) until the pool shows no busy thread.',
      tables: [
        {
          title: `Polls offered, served, queued and refused; RSS (≈ ${fmt(slope, 1)} MiB per thread)`,
          columns: ['MAX_THREADS', 'offered', 'running', 'queued', 'refused 503', 'RSS idle MiB', 'RSS with polls MiB'],
          rows: rows.map((r) => [r.threads, r.offered, r.running, r.queued, `${r.rejected}/${r.threads}`, fmt(r.rssIdleMiB, 1), fmt(r.rssHeldMiB, 1)]),
        },
      ],
      targets: [
        {
          goal: 'A poll whose client leaves frees its thread within 100 ms (cooperative cancel, thread kept)',
          measured: `p50 ${fmt(cancel.p50)} ms, max ${fmt(cancel.max)} ms over ${cancel.count} polls`,
          met: cancel.count > 0 && cancel.max <= 100,
        },
        {
          goal: 'Everything beyond running + MAX_QUEUE is refused 503 at once',
          measured: rows.map((r) => `T=${r.threads}: ${r.rejected}/${r.threads}`).join(', '),
          met: rows.every((r) => r.rejected === r.threads && r.running === r.threads && r.queued === r.threads),
        },
      ],
      charts: [
        {
          file: 'pool-capacity.svg',
          caption: 'Process RSS by pool size',
          svg: barChart({
            title: 'Pollster RSS by pool size (MiB)',
            categories: rows.map((r) => `T=${r.threads}`),
            series: [
              { name: 'idle', values: rows.map((r) => Math.round(r.rssIdleMiB)) },
              { name: 'with 2T polls held', values: rows.map((r) => Math.round(r.rssHeldMiB)) },
            ],
            yLabel: 'MiB',
          }),
        },
      ],
      data: { rows, mibPerThread: slope, cancel },
    };
  },
};
