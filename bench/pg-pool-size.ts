/**
 * `npx tsx bench/pg-pool-size.ts [--sizes 1,2,5,10,20] [--duration 5] [--connections 50]`:
 * what `PG_POOL_SIZE` changes. For each size, a fresh Pollster on a fresh
 * database of a throwaway local cluster (fsync off), and autocannon posting
 * to one wall from `--connections` connections for `--duration` s: posts per
 * second and their latency, and the most requests seen waiting for a
 * connection (the pool's `waiting` in /stats, every 100 ms). Woken polls are
 * answered from the notified messages, so posts are what the pool carries.
 */
import { parseArgs } from 'node:util';
import { startPgCluster } from '../test/helpers/pg-cluster.js';
import { login } from './lib/client.js';
import { load } from './lib/load.js';
import { buildServer, startServer } from './lib/server.js';

const { values } = parseArgs({
  options: {
    sizes: { type: 'string', default: '1,2,5,10,20' },
    duration: { type: 'string', default: '5' },
    connections: { type: 'string', default: '50' },
  },
});
const sizes = values.sizes!.split(',').map(Number);
const WALL = 2;

buildServer();
const cluster = await startPgCluster();
try {
  console.log('| PG_POOL_SIZE | posts/s | p50 ms | p99 ms | non-2xx | most requests waiting for a connection |');
  console.log('| --- | --- | --- | --- | --- | --- |');
  for (const size of sizes) {
    const server = await startServer({ DATABASE_URL: await cluster.createDatabase(), PG_POOL_SIZE: String(size) });
    try {
      const { session } = await login(server.agent, server.url);
      let waiting = 0;
      const sampler = setInterval(async () => {
        const stats = (await (await fetch(`${server.url}/stats`)).json()) as { database: { pool: { waiting: number } } };
        waiting = Math.max(waiting, stats.database.pool.waiting);
      }, 100);
      const result = await load(server.url, {
        method: 'POST',
        path: `/walls/${WALL}/messages`,
        body: { content: 'pool size' },
        session,
        durationS: Number(values.duration),
        connections: Number(values.connections),
      });
      clearInterval(sampler);
      console.log(`| ${size} | ${result.rps} | ${result.p50} | ${result.p99} | ${result.non2xx} | ${waiting} |`);
    } finally {
      await server.stop();
    }
  }
} finally {
  await cluster.destroy();
}
