/**
 * Scenario 1: with every pool thread held by a poll that gets no data (and as
 * many again queued), does `/ping` — and a post — still get through?
 * POLL_MODE=inline is the control: the same loop on the main thread.
 */
import { holdPolls, login, send, until, within } from '../lib/client.js';
import { holdersFor, keepPolls } from '../lib/holder.js';
import { load, loadMedian, type LoadResult } from '../lib/load.js';
import { fmt, type BenchSettings, type Comparison, type Scenario, type ScenarioResult } from '../lib/scenario.js';
import { startServer } from '../lib/server.js';
import { median } from '../lib/stats.js';
import { barChart } from '../lib/svg-chart.js';

interface RunFigures {
  baselinePing: LoadResult;
  loadedPing: LoadResult;
  baselinePost: LoadResult;
  loadedPost: LoadResult;
}

const HOLD_MS = 120_000;
const QUIET_WALL = 4;
/** The page samples /stats once a second: polls held this long show on its chart. */
const VISIBLE_MS = 2500;

async function measure(env: Record<string, string>, held: number, settings: BenchSettings, inline: boolean): Promise<RunFigures> {
  const server = await startServer({ POLL_TIMEOUT_MS: String(HOLD_MS), MAX_QUEUE: '10000', ...env });
  try {
    const { session, latest } = await login(server.agent, server.url);
    const after = latest.get(QUIET_WALL)!;
    const ping = { path: '/ping', durationS: settings.durationS };
    const post = { method: 'POST' as const, path: '/walls/1/messages', session, body: { content: 'load' }, durationS: settings.durationS };
    // Warm-up, not recorded: otherwise the baseline pays for the JIT.
    await load(server.url, { ...ping, durationS: 1 });
    await load(server.url, { ...post, durationS: 1 });
    const baselinePing = await load(server.url, ping);
    const baselinePost = await load(server.url, post);

    let loadedPing: LoadResult;
    let loadedPost: LoadResult;
    if (inline) {
      // The main thread can hold only one poll at a time: keep one outstanding.
      const controller = new AbortController();
      const loop = (async () => {
        while (!controller.signal.aborted) {
          await send(server.agent, server.url, 'POST', '/poll', {
            session,
            body: { last_post_id: { [QUIET_WALL]: after }, timeout_ms: 1000 },
            timeoutMs: 30_000,
            signal: controller.signal,
          }).catch(() => null);
        }
      })();
      await new Promise((resolve) => setTimeout(resolve, 100));
      loadedPing = await load(server.url, ping);
      loadedPost = await load(server.url, post);
      controller.abort();
      await loop;
    } else {
      const polls = holdPolls(server.agent, server.url, session, QUIET_WALL, after, held, HOLD_MS);
      const threads = Number(env.MAX_THREADS);
      await until(server.stats, (s) => s.pool.busy === threads && s.pool.queued === held - threads);
      loadedPing = await load(server.url, ping);
      loadedPost = await load(server.url, post);
      // The polls must still be stuck, or the load was not measured against them.
      const { pool } = await server.stats();
      if (pool.busy !== threads) throw new Error(`polls were released during the run: ${JSON.stringify(pool)}`);
      await polls.release();
    }
    return { baselinePing, loadedPing, baselinePost, loadedPost };
  } finally {
    await server.stop();
  }
}

function summarize(runs: RunFigures[]) {
  const pick = (key: keyof RunFigures, field: keyof LoadResult) => median(runs.map((r) => r[key][field]));
  // autocannon measures latency in whole milliseconds: a p99 of 0 means "under
  // 1 ms", so latency ratios count anything below 1 ms as 1 ms.
  const floor = (field: keyof LoadResult, value: number) => (field === 'rps' ? value : Math.max(value, 1));
  const ratio = (loaded: keyof RunFigures, baseline: keyof RunFigures, field: keyof LoadResult) =>
    median(runs.map((r) => floor(field, r[loaded][field]) / floor(field, r[baseline][field])));
  return {
    pingRps: pick('loadedPing', 'rps'),
    pingBaselineRps: pick('baselinePing', 'rps'),
    pingRpsRatio: ratio('loadedPing', 'baselinePing', 'rps'),
    pingP50: pick('loadedPing', 'p50'),
    pingP99: pick('loadedPing', 'p99'),
    pingBaselineP99: pick('baselinePing', 'p99'),
    pingP99Ratio: ratio('loadedPing', 'baselinePing', 'p99'),
    postRps: pick('loadedPost', 'rps'),
    postBaselineRps: pick('baselinePost', 'rps'),
    postRpsRatio: ratio('loadedPost', 'baselinePost', 'rps'),
    postP99: pick('loadedPost', 'p99'),
    postBaselineP99: pick('baselinePost', 'p99'),
    errors: runs.reduce((sum, r) => sum + r.loadedPing.errors + r.loadedPing.non2xx + r.loadedPost.errors + r.loadedPost.non2xx, 0),
  };
}

const pct = (part: number, whole: number): string => `${fmt((part / whole) * 100, 0)}%`;

/**
 * One configuration, or the user's server: hold T polls (T = its threads, from
 * /stats), then 2T, and load /ping (and, on a child server, posts) beside them.
 */
const comparison: Comparison = {
  method: (settings, external) =>
    `Hold as many long polls as the server has threads (T = pool.max_threads from /stats; 1 in inline mode), then 2T, on ${external ? 'the bench wall' : `wall ${QUIET_WALL}`}, which gets no posts meanwhile; a poll that comes back (POLL_TIMEOUT_MS, someone else's post) is sent again at once. Then autocannon (10 connections, median of ${settings.runs} round(s) of ${settings.durationS} s) against GET /ping${external ? '' : ' and POST /walls/1/messages'}, compared with the same load before any poll was held, after a 1 s warm-up. Each level stays held at least ${VISIBLE_MS / 1000} s, so the server's page shows the pool filling. In multiplex mode T polls fill T of the pool's capacity slots, not the pool. Within the server's fair-share caps (wait_limits in /stats) the polls come from as many sessions as MAX_WAITS_PER_SESSION requires, each with its own X-Forwarded-For address from 198.18.0.0/15 (the benchmarking range), which the server believes from a loopback peer by default (TRUST_PROXY); a poll it refuses anyway (503 or 429) is counted, not retried.${external ? ' No POST load: it would write thousands of messages to your database.' : ''}`,
  chart: { title: '/ping req/s with T and 2T polls held, % of baseline', yLabel: '% of baseline req/s' },
  async measure(source, settings, log) {
    const server = await source.open({ POLL_TIMEOUT_MS: String(HOLD_MS), MAX_QUEUE: '10000' });
    try {
      const { session, latest } = await login(server.agent, server.url, source.user);
      const wall = source.wall ?? QUIET_WALL;
      const after = latest.get(wall)!;
      const before = await server.stats();
      const inline = before.mode === 'inline';
      const threads: number = inline ? 1 : before.pool.max_threads;
      const ping = { path: '/ping', durationS: settings.durationS };
      const post = source.external
        ? undefined
        : { method: 'POST' as const, path: '/walls/1/messages', session, body: { content: 'load' }, durationS: settings.durationS };
      await load(server.url, { ...ping, durationS: 1 });
      if (post) await load(server.url, { ...post, durationS: 1 });
      const basePing = await loadMedian(server.url, ping, settings.runs);
      const basePost = post && (await loadMedian(server.url, post, settings.runs));
      const floor = (ms: number): number => Math.max(ms, 1);
      const row = (label: string, state: any, rejected: number, ping: LoadResult, posted: LoadResult | undefined) => [
        label,
        state ? state.pool.busy : 'n/a',
        state ? state.pool.queued : 'n/a',
        rejected,
        ping.rps,
        pct(ping.rps, basePing.rps),
        ping.p99,
        `${fmt(floor(ping.p99) / floor(basePing.p99))}×`,
        ...(posted && basePost ? [posted.rps, pct(posted.rps, basePost.rps)] : []),
        ping.errors + ping.non2xx + (posted ? posted.errors + posted.non2xx : 0),
      ];
      const rows = [row('none (baseline)', before, 0, basePing, basePost)];
      const bars: Array<{ name: string; value: number }> = [];
      for (const [name, held] of [
        ['T polls held', threads],
        ['2T polls held', 2 * threads],
      ] as const) {
        const heldAt = Date.now();
        const holders = await holdersFor(server, source.user, session, held, before.wait_limits);
        const polls = keepPolls(server, holders, wall, after, held, { pollTimeoutMs: inline ? 1000 : HOLD_MS, maxMs: 600_000 });
        let state: any;
        try {
          if (inline) {
            // A held poll blocks the main thread, /stats included: nothing to wait for.
            await new Promise((resolve) => setTimeout(resolve, 200));
          } else {
            state = await until(server.stats, (s) => s.waiting_polls - before.waiting_polls + polls.rejected >= held, 30_000);
          }
          const loadedPing = await loadMedian(server.url, ping, settings.runs);
          const loadedPost = post && (await loadMedian(server.url, post, settings.runs));
          await new Promise((resolve) => setTimeout(resolve, Math.max(0, VISIBLE_MS - (Date.now() - heldAt))));
          rows.push(row(`${held} (${name.split(' ')[0]})`, state, polls.rejected, loadedPing, loadedPost));
          bars.push({ name, value: Math.round((loadedPing.rps / basePing.rps) * 100) });
          log(
            `${held} polls held (${state ? `${state.pool.busy} running, ${state.pool.queued} queued` : 'inline'}): /ping ${loadedPing.rps} req/s (${pct(loadedPing.rps, basePing.rps)} of baseline), p99 ${loadedPing.p99} ms`,
          );
        } finally {
          await polls.release();
        }
        // Let the server drop them before the next level; someone else's polls may stay.
        if (!inline)
          await within(
            until(server.stats, (s) => s.waiting_polls <= before.waiting_polls, 10_000).catch(() => null),
            11_000,
            null,
          );
      }
      return {
        columns: [
          'held polls',
          'running',
          'queued',
          'refused 503 or 429',
          '/ping req/s',
          'vs baseline',
          '/ping p99 ms',
          'p99 vs baseline',
          ...(post ? ['POST req/s', 'vs baseline'] : []),
          'errors + non-2xx',
        ],
        rows,
        bars,
        data: { threads, mode: before.mode, maxQueue: before.pool.max_queue, rows },
      };
    } finally {
      await server.stop();
    }
  },
};

/** Chart figures: one decimal, so a collapse to 0.2% is not drawn as 0. */
const share = (ratio: number): number => Math.round(ratio * 1000) / 10;

export const stuckPolls: Scenario = {
  id: 'stuck-polls',
  title: 'Stuck polls vs /ping and posts',
  compare: comparison,
  draw: (rows: Array<{ label: string; pingRpsRatio: number; postRpsRatio: number }>) => [
    {
      file: 'stuck-polls.svg',
      caption: '/ping throughput with every thread stuck, as a share of the no-poll baseline',
      svg: barChart({
        title: '/ping and posts with every thread stuck, % of no-poll req/s',
        categories: rows.map((r) => r.label),
        series: [
          { name: '/ping', values: rows.map((r) => share(r.pingRpsRatio)) },
          { name: 'POST message', values: rows.map((r) => share(r.postRpsRatio)) },
        ],
        yLabel: '% of no-poll req/s',
        lines: [
          { value: 100, label: 'no polls = 100%', kind: 'reference' },
          { value: 90, label: 'target ≥ 90% (/ping)', kind: 'target' },
        ],
      }),
    },
  ],
  async run(settings, log): Promise<ScenarioResult> {
    const rows: Array<{ label: string; threads: number; held: number } & ReturnType<typeof summarize>> = [];
    for (const threads of settings.threads) {
      const runs: RunFigures[] = [];
      for (let run = 0; run < settings.runs; run++) {
        runs.push(await measure({ MAX_THREADS: String(threads), MIN_THREADS: String(threads) }, 2 * threads, settings, false));
      }
      const figures = summarize(runs);
      log(
        `pool MAX_THREADS=${threads}, ${2 * threads} stuck polls: /ping ${figures.pingRps} req/s (${fmt(figures.pingRpsRatio * 100, 0)}% of baseline), p99 ${figures.pingP99} ms`,
      );
      rows.push({ label: `pool ${threads}`, threads, held: 2 * threads, ...figures });
    }
    const inlineRuns: RunFigures[] = [];
    for (let run = 0; run < settings.runs; run++) inlineRuns.push(await measure({ POLL_MODE: 'inline' }, 1, settings, true));
    const inline = summarize(inlineRuns);
    log(
      `inline, 1 poll at a time: /ping ${inline.pingRps} req/s (${fmt(inline.pingRpsRatio * 100, 0)}% of baseline), p99 ${inline.pingP99} ms`,
    );
    rows.push({ label: 'inline', threads: 0, held: 1, ...inline });

    const pooled = rows.filter((r) => r.threads > 0);
    const worstRps = Math.min(...pooled.map((r) => r.pingRpsRatio));
    const worstP99 = Math.max(...pooled.map((r) => r.pingP99Ratio));
    return {
      id: this.id,
      title: this.title,
      method: `For each pool size, hold 2 × MAX_THREADS polls on a wall nobody posts to (half running, half queued), then run autocannon (10 connections, ${settings.durationS} s) against GET /ping and POST /walls/1/messages. Baseline: the same runs on the same server before the polls, after a 1 s warm-up of each. Inline: one poll always outstanding on the main thread. Medians of ${settings.runs} run(s). autocannon reports latency in whole milliseconds, so p99 ratios count anything under 1 ms as 1 ms.`,
      tables: [
        {
          title: 'Throughput and latency with every thread stuck (ratios against the no-poll baseline of the same run)',
          columns: [
            'mode',
            'held polls',
            '/ping req/s',
            'vs baseline',
            '/ping p50 ms',
            '/ping p99 ms',
            'p99 vs baseline',
            'POST req/s',
            'vs baseline',
            'POST p99 ms',
            'errors + non-2xx',
          ],
          rows: rows.map((r) => [
            r.label,
            r.held,
            r.pingRps,
            `${fmt(r.pingRpsRatio * 100, 0)}%`,
            r.pingP50,
            r.pingP99,
            `${fmt(r.pingP99Ratio)}×`,
            r.postRps,
            `${fmt(r.postRpsRatio * 100, 0)}%`,
            r.postP99,
            r.errors,
          ]),
        },
      ],
      targets: [
        {
          goal: 'Pool mode, every size, all threads stuck: /ping req/s ≥ 90% of the same server with no polls held',
          measured: `worst ${fmt(worstRps * 100, 0)}%`,
          met: worstRps >= 0.9,
          kind: 'ratio',
        },
        {
          goal: 'Pool mode, every size, all threads stuck: /ping p99 ≤ 2× the same server with no polls held',
          measured: `worst ${fmt(worstP99)}×`,
          met: worstP99 <= 2,
          kind: 'ratio',
        },
        {
          goal: 'POLL_MODE=inline (the control) collapses: /ping below 50% of its req/s with no poll held',
          measured: `${fmt(inline.pingRpsRatio * 100, 1)}% of its no-poll req/s, p99 ${inline.pingP99} ms`,
          met: inline.pingRpsRatio < 0.5,
          kind: 'ratio',
        },
      ],
      charts: this.draw!(rows),
      data: rows,
    };
  },
};
