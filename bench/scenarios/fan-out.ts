/**
 * Scenario 3: N polls wait on one wall; one post. How long until all N have
 * the message, and did every one get it?
 */
import { performance } from 'node:perf_hooks';
import { login, postMessage, send, until } from '../lib/client.js';
import { fmt, type BenchSettings, type Scenario, type ScenarioResult } from '../lib/scenario.js';
import { startServer } from '../lib/server.js';
import { median, summarize, type LatencySummary } from '../lib/stats.js';

const WALL = 2;

/** One fan-out on a running server: returns each poll's delivery time, or NaN for a miss. */
export async function fanOutOnce(
  server: Awaited<ReturnType<typeof startServer>>,
  session: string,
  after: number,
  polls: number,
  ready: (stats: any) => boolean,
): Promise<{ times: number[]; delivered: number }> {
  let postedAt = 0;
  let content = '';
  const replies = Array.from({ length: polls }, () =>
    send(server.agent, server.url, 'POST', '/poll', {
      session,
      body: { last_post_id: { [WALL]: after }, timeout_ms: 30_000 },
      timeoutMs: 40_000,
    }).then(
      (reply) => {
        const got = reply.json?.walls?.[WALL]?.posts?.some((p: { content: string }) => p.content === content);
        return got ? performance.now() - postedAt : NaN;
      },
      () => NaN,
    ),
  );
  await until(server.stats, ready, 60_000);
  content = `fan-out ${Math.random()}`;
  postedAt = performance.now();
  await postMessage(server.agent, server.url, session, WALL, content);
  const times = await Promise.all(replies);
  return { times: times.filter(Number.isFinite), delivered: times.filter(Number.isFinite).length };
}

export const fanOut: Scenario = {
  id: 'fan-out',
  title: 'Fan-out: one post, N waiting polls',
  async run(settings: BenchSettings, log): Promise<ScenarioResult> {
    const cases = settings.quick
      ? [{ threads: 4, polls: 4 }, { threads: 4, polls: 16 }]
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
          const queued = Math.max(0, polls - threads);
          const result = await fanOutOnce(server, session, latest.get(WALL)!, polls, (s) => s.pool.busy === Math.min(polls, threads) && s.pool.queued === queued);
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
      method: `Open N long polls on wall ${WALL} (those beyond MAX_THREADS wait in the queue), wait until /stats shows them all, post one message, and time each poll from the start of the POST until it has the message. Medians of ${settings.runs} run(s); "delivered" is the worst run.`,
      tables: [
        {
          title: 'Time until each of N waiting polls has the message, ms',
          columns: ['MAX_THREADS', 'N polls', 'queued', 'delivered', 'p50', 'p99', 'max'],
          rows: rows.map((r) => [r.threads, r.polls, Math.max(0, r.polls - r.threads), `${r.delivered}/${r.polls}`, fmt(r.p50), fmt(r.p99), fmt(r.max)]),
        },
      ],
      targets: target.length
        ? [
            {
              goal: 'Fan-out to 32 waiting polls: all delivered, max ≤ 50 ms',
              measured: target.map((r) => `MAX_THREADS=${r.threads}: ${r.delivered}/32, max ${fmt(r.max)} ms`).join('; '),
              met: target.every((r) => r.delivered === 32 && r.max <= 50),
            },
          ]
        : [],
      charts: [],
      data: rows,
    };
  },
};
