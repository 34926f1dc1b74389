/**
 * Scenario 5: the EM.defer demo. K blocking /hello jobs fill (or overfill)
 * the pool; does POST /bienvendidos still answer at once?
 */
import { send, sharedAbort, until } from '../lib/client.js';
import { load, type LoadResult } from '../lib/load.js';
import { fmt, type BenchSettings, type Scenario, type ScenarioResult } from '../lib/scenario.js';
import { startServer } from '../lib/server.js';
import { median } from '../lib/stats.js';

export const emDefer: Scenario = {
  id: 'em-defer',
  title: 'EM.defer demo: /bienvendidos while /hello jobs hold the pool',
  async run(settings: BenchSettings, log): Promise<ScenarioResult> {
    const threads = settings.quick ? 2 : 4;
    const jobMs = (settings.durationS + 3) * 1000;
    const rows: Array<{ jobs: number; running: number; queued: number } & Pick<LoadResult, 'rps' | 'p50' | 'p99'> & { errors: number }> = [];
    for (const jobs of [0, threads, 2 * threads]) {
      const runs: Array<LoadResult & { running: number; queued: number }> = [];
      for (let run = 0; run < settings.runs; run++) {
        const server = await startServer({ MAX_THREADS: String(threads), MIN_THREADS: String(threads), POLL_TIMEOUT_MS: String(jobMs) });
        try {
          await load(server.url, { method: 'POST', path: '/bienvendidos', durationS: 1 });
          const controller = sharedAbort();
          const hello = Array.from({ length: jobs }, () =>
            send(server.agent, server.url, 'GET', `/hello?ms=${jobMs}`, { timeoutMs: jobMs + 5000, signal: controller.signal }).catch(() => null),
          );
          const state = await until(server.stats, (s) => s.pool.busy === Math.min(jobs, threads) && s.pool.queued === Math.max(0, jobs - threads));
          const result = await load(server.url, { method: 'POST', path: '/bienvendidos', durationS: settings.durationS });
          runs.push({ ...result, running: state.pool.busy, queued: state.pool.queued });
          controller.abort();
          await Promise.all(hello);
        } finally {
          await server.stop();
        }
      }
      const row = {
        jobs,
        running: runs[0]!.running,
        queued: runs[0]!.queued,
        rps: median(runs.map((r) => r.rps)),
        p50: median(runs.map((r) => r.p50)),
        p99: median(runs.map((r) => r.p99)),
        errors: runs.reduce((s, r) => s + r.errors + r.non2xx, 0),
      };
      log(`${jobs} /hello jobs on ${threads} threads: /bienvendidos ${row.rps} req/s, p99 ${row.p99} ms`);
      rows.push(row);
    }
    const loaded = rows.filter((r) => r.jobs > 0);
    return {
      id: this.id,
      title: this.title,
      method: `MAX_THREADS=${threads}. Start K blocking GET /hello?ms=${jobMs} jobs (K = 0, the pool size, twice the pool size), wait until /stats shows them running and queued, then run autocannon against POST /bienvendidos for ${settings.durationS} s (10 connections). Medians of ${settings.runs} run(s).`,
      tables: [
        {
          title: 'POST /bienvendidos while /hello jobs run',
          columns: ['/hello jobs', 'running', 'queued', 'req/s', 'p50 ms', 'p99 ms', 'errors + non-2xx'],
          rows: rows.map((r) => [r.jobs, r.running, r.queued, r.rps, r.p50, r.p99, r.errors]),
        },
      ],
      targets: [
        {
          goal: '/bienvendidos p99 ≤ 5 ms while every thread runs /hello',
          measured: loaded.map((r) => `K=${r.jobs}: ${fmt(r.p99)} ms`).join(', '),
          met: loaded.every((r) => r.p99 <= 5),
        },
      ],
      charts: [],
      data: rows,
    };
  },
};
