/**
 * Bounded history: does pruning cost posts or deliveries anything? The same
 * delivery measurement as delivery-latency (a POST, then the waiting client
 * has it), on a server with pruning off and on a server whose pruner is kept
 * busy the whole time: HISTORY_MAX_PER_WALL=20, another wall posted to every
 * 10 ms, and a backlog seeded into a third wall that the pruner deletes in
 * batches while the measurement runs. Both servers get the same backlog and
 * the same background posts, so the pruner is the one difference.
 */
import Database from '../../src/storage/sqlite-driver.js';
import { login, postMessage } from '../lib/client.js';
import { fmt, type BenchSettings, type Scenario, type ScenarioResult } from '../lib/scenario.js';
import { startServer, type BenchServer } from '../lib/server.js';
import { median, summarize, type LatencySummary } from '../lib/stats.js';
import { barChart } from '../lib/svg-chart.js';
import { deliverOn } from './delivery-latency.js';

type Transport = 'long poll' | 'SSE';
/** The measured wall (General); the background posts go to RUBY, the backlog is on NODE. */
const WALL = 1;
const RUBY = 2;
const NODE = 3;
const KEEP = 20;
const POST_EVERY_MS = 20;
const CHURN_EVERY_MS = 10;
/** How long after seeding the pruner starts deleting the backlog: its floor check (≤ 1 s), then HISTORY_GRACE_MS (5 s). */
const DELETES_START_WITHIN_MS = 15_000;

const VARIANTS = [
  { pruning: 'off', env: {} },
  { pruning: 'on', env: { HISTORY_MAX_PER_WALL: String(KEEP) } },
] as const;

interface Row extends LatencySummary {
  pruning: string;
  transport: Transport;
  postP50: number;
  postP99: number;
  /** Backlog messages the pruner deleted while this row was measured. */
  deleted: number;
}

/** `count` messages on `wall`, written straight into the server's SQLite file as the CLI would. */
function seedBacklog(dbPath: string, wall: number, count: number): void {
  const db = new Database(dbPath);
  try {
    db.pragma('busy_timeout = 5000');
    const insert = db.prepare('INSERT INTO messages (wall_id, user_id, content, created_at) VALUES (?, 1, ?, ?)');
    db.transaction(() => {
      for (let i = 0; i < count; i++) insert.run(wall, `backlog ${i}`, Date.now());
    })();
  } finally {
    db.close();
  }
}

/** Messages left on `wall`: the backlog's wall gets no new ones, so what goes is what the pruner deleted. */
function countOn(dbPath: string, wall: number): number {
  const db = new Database(dbPath, { readonly: true });
  try {
    return (db.prepare('SELECT count(*) AS n FROM messages WHERE wall_id = ?').get(wall) as { n: number }).n;
  } finally {
    db.close();
  }
}

/** Posts to RUBY every CHURN_EVERY_MS until stopped: new rows for the pruner on every tick. */
function churn(server: BenchServer, session: string): () => Promise<void> {
  let stopped = false;
  const loop = (async () => {
    for (let i = 0; !stopped; i++) {
      await postMessage(server.agent, server.url, session, RUBY, `churn ${i}`).catch(() => null);
      await new Promise((resolve) => setTimeout(resolve, CHURN_EVERY_MS));
    }
  })();
  return async () => {
    stopped = true;
    await loop;
  };
}

async function measureVariant(
  variant: (typeof VARIANTS)[number],
  settings: BenchSettings,
  messages: number,
  backlog: number,
  log: (line: string) => void,
): Promise<Row[]> {
  const server = await startServer({ MAX_THREADS: '4', MIN_THREADS: '4', ...variant.env });
  try {
    const { session } = await login(server.agent, server.url);
    seedBacklog(server.dbPath, NODE, backlog);
    const stopChurn = churn(server, session);
    try {
      const seeded = countOn(server.dbPath, NODE);
      if (variant.pruning === 'on') {
        // Measure only once the backlog is being deleted, so every row below runs beside the deletes.
        const deadline = Date.now() + DELETES_START_WITHIN_MS;
        while (countOn(server.dbPath, NODE) >= seeded - 1000) {
          if (Date.now() > deadline) throw new Error('the pruner did not start deleting the backlog');
          await new Promise((resolve) => setTimeout(resolve, 100));
        }
      }
      const rows: Row[] = [];
      for (const transport of ['long poll', 'SSE'] as const) {
        const runs: LatencySummary[] = [];
        const posts: number[] = [];
        const before = countOn(server.dbPath, NODE);
        for (let run = 0; run < settings.runs; run++) {
          const measured = await deliverOn(server, 'demo', WALL, transport, messages, POST_EVERY_MS);
          runs.push(summarize(measured.latencies));
          posts.push(...measured.postRtts);
        }
        const post = summarize(posts);
        const deleted = before - countOn(server.dbPath, NODE);
        const row: Row = {
          pruning: variant.pruning,
          transport,
          count: runs.reduce((sum, r) => sum + r.count, 0),
          p50: median(runs.map((r) => r.p50)),
          p99: median(runs.map((r) => r.p99)),
          max: median(runs.map((r) => r.max)),
          postP50: post.p50,
          postP99: post.p99,
          deleted,
        };
        log(
          `pruning ${row.pruning}, ${transport}: delivery p50 ${fmt(row.p50)} ms, p99 ${fmt(row.p99)} ms; POST p50 ${fmt(row.postP50)} ms, p99 ${fmt(row.postP99)} ms; ${row.deleted} backlog messages pruned meanwhile`,
        );
        rows.push(row);
      }
      return rows;
    } finally {
      await stopChurn();
    }
  } finally {
    await server.stop();
  }
}

export const historyPruning: Scenario = {
  id: 'history-pruning',
  title: 'Delivery while history is pruned: HISTORY_MAX_PER_WALL off vs on',
  notPerConfiguration: 'compares pruning off and on on fresh servers with a seeded backlog',
  notFromOutside: "seeds a backlog into the server's own SQLite file",
  draw: ({ rows }: { rows: Row[] }) => [
    {
      file: 'history-pruning.svg',
      caption: 'Post-to-receipt latency with pruning off and on',
      svg: barChart({
        title: 'Post-to-receipt latency while pruning (ms)',
        categories: rows.map((r) => `pruning ${r.pruning}, ${r.transport}`),
        series: [
          { name: 'p50', values: rows.map((r) => r.p50) },
          { name: 'p99', values: rows.map((r) => r.p99) },
        ],
        yLabel: 'ms',
      }),
    },
  ],
  async run(settings: BenchSettings, log): Promise<ScenarioResult> {
    const messages = settings.quick ? 100 : 300;
    // The pruner deletes about 5,000 rows a second: enough backlog to outlast both transports' runs.
    const backlog = (settings.quick ? 30_000 : 60_000) * settings.runs;
    const rows: Row[] = [];
    for (const variant of VARIANTS) rows.push(...(await measureVariant(variant, settings, messages, backlog, log)));
    const find = (pruning: string, transport: Transport) => rows.find((r) => r.pruning === pruning && r.transport === transport)!;
    const pairs = (['long poll', 'SSE'] as const).map((t) => ({ t, off: find('off', t), on: find('on', t) }));
    return {
      id: this.id,
      title: this.title,
      method: `Two fresh servers (MAX_THREADS=MIN_THREADS=4, SQLite), one with pruning off and one with HISTORY_MAX_PER_WALL=${KEEP}. Each gets ${backlog.toLocaleString('en')} messages seeded into wall ${NODE} and a post to wall ${RUBY} every ${CHURN_EVERY_MS} ms throughout, so the pruned server raises floors on every tick and deletes the backlog in batches of 500 (100 ms apart) the whole time it is measured. Then one client waits on wall ${WALL} (long poll in a loop, or an SSE stream) while the bench posts there every ${POST_EVERY_MS} ms, ${messages} messages per run, ${settings.runs} run(s); latency runs from the start of the POST until the receiver has the message, and every message must arrive (pruning keeps the newest ${KEEP}, and the receiver is never behind them). "POST" is each post's own round trip. "Backlog pruned meanwhile" counts backlog rows the pruner deleted while that row was measured (the floors of walls ${WALL} and ${RUBY} moved on every tick besides).`,
      tables: [
        {
          title: 'Post-to-receipt latency and POST round trip, ms, with pruning off and on',
          columns: [
            'pruning',
            'transport',
            'messages',
            'delivery p50',
            'delivery p99',
            'delivery max',
            'POST p50',
            'POST p99',
            'backlog pruned meanwhile',
          ],
          rows: rows.map((r) => [
            r.pruning,
            r.transport,
            r.count,
            fmt(r.p50),
            fmt(r.p99),
            fmt(r.max),
            fmt(r.postP50),
            fmt(r.postP99),
            r.deleted,
          ]),
        },
      ],
      targets: [
        {
          goal: 'with pruning busy, delivery p50 ≤ 1.5× pruning off + 0.5 ms, same run',
          measured: pairs.map(({ t, off, on }) => `${t} ${fmt(on.p50)} vs ${fmt(off.p50)} ms`).join(', '),
          met: pairs.every(({ off, on }) => on.p50 <= off.p50 * 1.5 + 0.5),
          kind: 'ratio',
        },
        {
          goal: 'with pruning busy, delivery p99 ≤ 2× pruning off + 2 ms, same run',
          measured: pairs.map(({ t, off, on }) => `${t} ${fmt(on.p99)} vs ${fmt(off.p99)} ms`).join(', '),
          met: pairs.every(({ off, on }) => on.p99 <= off.p99 * 2 + 2),
          kind: 'ratio',
        },
        {
          goal: 'the pruner deleted messages throughout, and every message posted was delivered',
          measured: pairs.map(({ t, on }) => `${t}: ${on.deleted} pruned, ${on.count} delivered`).join('; '),
          met: pairs.every(({ on }) => on.deleted > 0 && on.count === messages * settings.runs),
          kind: 'correctness',
        },
      ],
      charts: this.draw!({ rows }),
      data: { rows },
    };
  },
};
