/**
 * Scenario 5: the EM.defer demo. K blocking /hello jobs fill (or overfill)
 * the /hello lane; does POST /bienvendidos still answer at once? And is a
 * post still delivered to a held poll at once while every lane thread runs a
 * job? Jobs once ran on the poll threads, and a multiplexed poll then waited
 * for the job that shared its thread.
 */
import { performance } from 'node:perf_hooks';
import { login, postMessage, send, sharedAbort, until } from '../lib/client.js';
import { load, type LoadResult } from '../lib/load.js';
import { fmt, type BenchSettings, type Scenario, type ScenarioResult } from '../lib/scenario.js';
import { startServer } from '../lib/server.js';
import { median, summarize, type LatencySummary } from '../lib/stats.js';

const WALL = 1;
/** Jobs that outlast any delivery run; they are cancelled when it ends. */
const DELIVERY_JOB_MS = 60_000;

/**
 * Post-to-answer latency of one held poll at a time, `messages` times, while
 * 2 × `threads` /hello jobs run (the lane full) and queue. Also reports
 * whether every job was still running when the last message arrived.
 */
async function deliveryDuringJobs(mode: string, threads: number, messages: number) {
  const jobMs = DELIVERY_JOB_MS;
  const server = await startServer({
    POLL_MODE: mode,
    MAX_THREADS: String(threads),
    MIN_THREADS: String(threads),
    POLL_TIMEOUT_MS: String(jobMs),
  });
  try {
    const { session, latest } = await login(server.agent, server.url);
    const controller = sharedAbort();
    let jobsEnded = 0;
    const hello = Array.from({ length: 2 * threads }, () =>
      send(server.agent, server.url, 'GET', `/hello?ms=${jobMs}`, { timeoutMs: jobMs + 5000, signal: controller.signal })
        .then(() => jobsEnded++)
        .catch(() => null),
    );
    await until(server.stats, (s) => s.hello_lane.busy === s.hello_lane.concurrency && s.hello_lane.queued === threads);
    const latencies: number[] = [];
    let cursor = latest.get(WALL)!;
    for (let i = 0; i < messages; i++) {
      const held = send(server.agent, server.url, 'POST', '/poll', {
        session,
        body: { last_post_id: { [WALL]: cursor }, timeout_ms: 10_000 },
        timeoutMs: 15_000,
      });
      await until(server.stats, (s) => s.waiting_polls === 1, 5000);
      const started = performance.now();
      await postMessage(server.agent, server.url, session, WALL, `held ${i}`);
      const reply = await held;
      latencies.push(performance.now() - started);
      cursor = reply.json.walls[WALL].posts.at(-1).id;
    }
    const jobsRunning = jobsEnded === 0;
    controller.abort();
    await Promise.all(hello);
    return { mode, ...summarize(latencies), jobsRunning };
  } finally {
    await server.stop();
  }
}

export const emDefer: Scenario = {
  id: 'em-defer',
  title: 'EM.defer demo: /bienvendidos and a held poll while /hello jobs fill their lane',
  async run(settings: BenchSettings, log): Promise<ScenarioResult> {
    const threads = settings.quick ? 2 : 4;
    const jobMs = (settings.durationS + 3) * 1000;
    const rows: Array<{ jobs: number; running: number; queued: number } & Pick<LoadResult, 'rps' | 'p50' | 'p99'> & { errors: number }> =
      [];
    for (const jobs of [0, threads, 2 * threads]) {
      const runs: Array<LoadResult & { running: number; queued: number }> = [];
      for (let run = 0; run < settings.runs; run++) {
        const server = await startServer({ MAX_THREADS: String(threads), MIN_THREADS: String(threads), POLL_TIMEOUT_MS: String(jobMs) });
        try {
          await load(server.url, { method: 'POST', path: '/bienvendidos', durationS: 1 });
          const controller = sharedAbort();
          const hello = Array.from({ length: jobs }, () =>
            send(server.agent, server.url, 'GET', `/hello?ms=${jobMs}`, { timeoutMs: jobMs + 5000, signal: controller.signal }).catch(
              () => null,
            ),
          );
          const state = await until(
            server.stats,
            (s) => s.hello_lane.busy === Math.min(jobs, threads) && s.hello_lane.queued === Math.max(0, jobs - threads),
          );
          const result = await load(server.url, { method: 'POST', path: '/bienvendidos', durationS: settings.durationS });
          runs.push({ ...result, running: state.hello_lane.busy, queued: state.hello_lane.queued });
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
    const delivery: Array<LatencySummary & { mode: string; jobsRunning: boolean }> = [];
    for (const mode of ['pool', 'multiplex']) {
      const row = await deliveryDuringJobs(mode, threads, settings.messages);
      log(`${mode}: delivery to a held poll during ${2 * threads} /hello jobs: p50 ${row.p50} ms, p99 ${row.p99} ms`);
      delivery.push(row);
    }
    const loaded = rows.filter((r) => r.jobs > 0);
    return {
      id: this.id,
      title: this.title,
      method:
        `MAX_THREADS=${threads} (HELLO_CONCURRENCY defaults to it). Start K blocking GET /hello?ms=${jobMs} jobs (K = 0, the lane size, twice the lane size), wait until /stats shows them running and queued, then run autocannon against POST /bienvendidos for ${settings.durationS} s (10 connections). Medians of ${settings.runs} run(s). ` +
        `Then, in each pooled POLL_MODE, with ${2 * threads} jobs running and queued in the lane: hold one long poll, post to its wall, and time post → answer, ${settings.messages} times (inline is left out: there a job blocks the main thread by design).`,
      tables: [
        {
          title: 'POST /bienvendidos while /hello jobs run',
          columns: ['/hello jobs', 'running', 'queued', 'req/s', 'p50 ms', 'p99 ms', 'errors + non-2xx'],
          rows: rows.map((r) => [r.jobs, r.running, r.queued, r.rps, r.p50, r.p99, r.errors]),
        },
        {
          title: 'Delivery to a held poll while every /hello lane thread runs a job',
          columns: ['POLL_MODE', 'messages', 'p50 ms', 'p99 ms', 'max ms', 'jobs still running at the end'],
          rows: delivery.map((r) => [r.mode, r.count, r.p50, r.p99, r.max, r.jobsRunning ? 'yes' : 'no']),
        },
      ],
      targets: [
        {
          goal: '/bienvendidos p99 ≤ 5 ms while every /hello lane thread runs a job',
          measured: loaded.map((r) => `K=${r.jobs}: ${fmt(r.p99)} ms`).join(', '),
          met: loaded.every((r) => r.p99 <= 5),
          kind: 'absolute',
        },
        {
          goal: 'Post → held poll p99 ≤ 10 ms while every /hello lane thread runs a job, in every pooled mode',
          measured: delivery.map((r) => `${r.mode}: ${fmt(r.p99)} ms`).join(', '),
          met: delivery.every((r) => r.p99 <= 10 && r.jobsRunning),
          kind: 'absolute',
        },
      ],
      charts: [],
      data: { bienvendidos: rows, delivery },
    };
  },
};
