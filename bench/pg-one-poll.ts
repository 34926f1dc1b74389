/**
 * `npx tsx bench/pg-one-poll.ts [--rounds 5] [--posts 100] [--env K=V ...]`:
 * one post → one waiting poll on PostgreSQL beside SQLite, the measure where
 * the scale-out path is furthest from the embedded one. Each round starts a
 * fresh server on each backend (PostgreSQL: a throwaway local cluster, fsync
 * off, a fresh database per round), in alternating order, and times
 * vs-baseline's one-poll client on it: `--posts` posts 50 ms apart to one held
 * long poll. Reports per round and as medians with min–max: delivery p50 and
 * p99, the POST's own round trip (the part a post costs before any waiter
 * hears of it), and PostgreSQL ÷ SQLite.
 */
import { parseArgs } from 'node:util';
import { startPgCluster } from '../test/helpers/pg-cluster.js';
import { buildServer, startServer } from './lib/server.js';
import { median, percentile } from './lib/stats.js';
import { deliverOn } from './scenarios/delivery-latency.js';

const { values } = parseArgs({
  options: {
    rounds: { type: 'string', default: '5' },
    posts: { type: 'string', default: '100' },
    env: { type: 'string', multiple: true, default: [] },
  },
});
const rounds = Number(values.rounds);
const posts = Number(values.posts);
const env = Object.fromEntries(values.env!.map((pair) => pair.split('=') as [string, string]));
const WALL = 2;

interface Figures {
  p50: number;
  p99: number;
  post: number;
}

buildServer();
const cluster = await startPgCluster();
const figures: Record<'sqlite' | 'postgres', Figures[]> = { sqlite: [], postgres: [] };
try {
  for (let round = 0; round < rounds; round++) {
    const order: Array<'sqlite' | 'postgres'> = round % 2 === 0 ? ['sqlite', 'postgres'] : ['postgres', 'sqlite'];
    for (const backend of order) {
      const extra: Record<string, string> = backend === 'postgres' ? { DATABASE_URL: await cluster.createDatabase() } : {};
      const server = await startServer({ ...env, ...extra });
      try {
        const { latencies, postRtts } = await deliverOn(server, 'demo', WALL, 'long poll', posts, 50);
        const measured = { p50: percentile(latencies, 50), p99: percentile(latencies, 99), post: percentile(postRtts, 50) };
        figures[backend].push(measured);
        console.log(
          `round ${round + 1} ${backend.padEnd(8)} delivery p50 ${measured.p50.toFixed(2)} ms, p99 ${measured.p99.toFixed(2)} ms; POST round trip p50 ${measured.post.toFixed(2)} ms`,
        );
      } finally {
        await server.stop();
      }
    }
  }
} finally {
  await cluster.destroy();
}

const spread = (list: number[]): string => `${median(list).toFixed(2)} (${Math.min(...list).toFixed(2)}–${Math.max(...list).toFixed(2)})`;
for (const key of ['p50', 'p99', 'post'] as const) {
  const ratios = figures.postgres.map((pg, index) => pg[key] / figures.sqlite[index]![key]);
  console.log(
    `${key.padEnd(4)} SQLite ${spread(figures.sqlite.map((f) => f[key]))} ms, PostgreSQL ${spread(figures.postgres.map((f) => f[key]))} ms, PostgreSQL ÷ SQLite ${spread(ratios)}×`,
  );
}
