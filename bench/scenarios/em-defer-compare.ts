/**
 * The EM.defer demo per configuration, or on the user's running server: K
 * blocking /hello jobs (K = 0, T, 2T for a /hello lane of T threads, read
 * from /stats), and /bienvendidos under autocannon beside them. /hello writes
 * nothing, so this is safe on a server with real users.
 */
import type { Agent } from 'undici';
import { send, sharedAbort, until } from '../lib/client.js';
import { load, loadMedian } from '../lib/load.js';
import type { Comparison } from '../lib/scenario.js';

const JOB_MS = 60_000;

/** Keep `count` /hello jobs running until aborted, re-sending any that end (POLL_TIMEOUT_MS caps them). */
function keepJobs(server: { agent: Agent; url: string }, count: number, maxMs: number) {
  const controller = sharedAbort();
  const deadline = Date.now() + maxMs;
  const loop = async (): Promise<void> => {
    for (let sends = 0; sends < 1000 && !controller.signal.aborted && Date.now() < deadline; sends++) {
      const sentAt = Date.now();
      const reply = await send(server.agent, server.url, 'GET', `/hello?ms=${JOB_MS}`, {
        timeoutMs: JOB_MS + 5000,
        signal: controller.signal,
      }).catch(() => null);
      if (reply === null || reply.status !== 200) return;
      if (Date.now() - sentAt < 20) await new Promise((resolve) => setTimeout(resolve, 20));
    }
  };
  const loops = Array.from({ length: count }, loop);
  return async () => {
    controller.abort();
    await Promise.all(loops);
  };
}

export const emDeferComparison: Comparison = {
  method: (settings) =>
    `K blocking GET /hello?ms=${JOB_MS} jobs (K = 0, T and 2T, T = hello_lane.concurrency from /stats, which defaults to MAX_THREADS; /hello is capped by the server's POLL_TIMEOUT_MS, and a job that ends is sent again), then autocannon against POST /bienvendidos (10 connections, median of ${settings.runs} round(s) of ${settings.durationS} s). /hello and /bienvendidos write nothing.`,
  chart: { title: 'POST /bienvendidos p99 while /hello jobs fill their lane (ms)', yLabel: 'p99 ms' },
  async measure(source, settings, log) {
    const server = await source.open({ POLL_TIMEOUT_MS: String(JOB_MS + 10_000) });
    try {
      const before = await server.stats();
      const inline = before.mode === 'inline';
      // /hello jobs run in their own lane, apart from the poll pool.
      const threads: number = inline ? 1 : before.hello_lane.concurrency;
      await load(server.url, { method: 'POST', path: '/bienvendidos', durationS: 1 });
      const rows: Array<Array<string | number>> = [];
      const bars: Array<{ name: string; value: number }> = [];
      for (const [name, jobs] of [
        ['no jobs', 0],
        ['T jobs', threads],
        ['2T jobs', 2 * threads],
      ] as const) {
        const stop = keepJobs(server, jobs, 600_000);
        try {
          let state: any;
          if (inline) await new Promise((resolve) => setTimeout(resolve, 200));
          else {
            const held = (s: any) =>
              s.hello_lane.busy +
              s.hello_lane.queued -
              before.hello_lane.busy -
              before.hello_lane.queued +
              s.hello_lane.rejected -
              before.hello_lane.rejected;
            state = await until(server.stats, (s) => held(s) >= jobs, 30_000);
          }
          const result = await loadMedian(
            server.url,
            { method: 'POST', path: '/bienvendidos', durationS: settings.durationS },
            settings.runs,
          );
          rows.push([
            jobs,
            state ? state.hello_lane.busy : 'n/a',
            state ? state.hello_lane.queued : 'n/a',
            result.rps,
            result.p50,
            result.p99,
            result.errors + result.non2xx,
          ]);
          bars.push({ name, value: result.p99 });
          log(`${jobs} /hello jobs: /bienvendidos ${result.rps} req/s, p99 ${result.p99} ms`);
        } finally {
          await stop();
        }
        if (!inline) {
          const drained = (s: any) => s.hello_lane.busy + s.hello_lane.queued <= before.hello_lane.busy + before.hello_lane.queued;
          await until(server.stats, drained, 10_000).catch(() => null);
        }
      }
      return {
        columns: ['/hello jobs', 'running', 'queued', 'req/s', 'p50 ms', 'p99 ms', 'errors + non-2xx'],
        rows,
        bars,
        data: { threads, rows },
      };
    } finally {
      await server.stop();
    }
  },
};
