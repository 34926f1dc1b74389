/**
 * `npx tsx bench/profile-delivery.ts [--posts 200] [--every 50] [--server pollster|baseline]`:
 * where the main thread's time goes in vs-baseline's one post → one waiting
 * poll, the measure furthest from the evented baseline: the server on its
 * default configuration under `node --cpu-prof`, one long poll held by the bench client, a post every
 * `--every` ms. Reports the delivery p50 and the main thread's busy time per
 * post (the profile without its idle samples), by hop and by function.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { profilerArgs, readProfile, summarise } from './lib/cpu-profile.js';
import { BASELINE_ARGS, buildServer, POLLSTER_ARGS, startServer } from './lib/server.js';
import { percentile } from './lib/stats.js';
import { snapshot, threadTable } from './lib/thread-times.js';
import { deliverOn } from './scenarios/delivery-latency.js';

const { values } = parseArgs({
  options: {
    posts: { type: 'string', default: '200' },
    every: { type: 'string', default: '50' },
    server: { type: 'string', default: 'pollster' },
    top: { type: 'string', default: '25' },
    // Without V8's sampler: the CPU each thread spent per post, from /proc.
    'no-profile': { type: 'boolean', default: false },
    'node-flag': { type: 'string', multiple: true, default: [] },
  },
});
const posts = Number(values.posts);
const WALL = 2;

const profiles = mkdtempSync(join(tmpdir(), 'pollster-profile-'));
try {
  if (values.server === 'pollster') buildServer();
  const script = values.server === 'pollster' ? POLLSTER_ARGS : BASELINE_ARGS;
  const server = await startServer(
    {},
    {
      args: [...values['node-flag']!, ...(values['no-profile'] ? [] : profilerArgs(profiles, 100)), ...script],
      name: `${values.server} (profiled)`,
    },
  );
  let window: [number, number];
  try {
    const before = snapshot(server.pid!);
    const from = Number(process.hrtime.bigint() / 1000n);
    const { latencies } = await deliverOn(server, 'demo', WALL, 'long poll', posts, Number(values.every));
    window = [from, Number(process.hrtime.bigint() / 1000n)];
    console.log(
      `${values.server}: ${latencies.length} posts delivered, p50 ${percentile(latencies, 50).toFixed(2)} ms, p99 ${percentile(latencies, 99).toFixed(2)} ms`,
    );
    // 10 ms ticks over the whole run, so per post they resolve to 10 ms ÷ posts.
    console.log(`${threadTable(values.server!, server.pid!, before, snapshot(server.pid!), `thread (whole run, ${posts} posts)`)}\n`);
  } finally {
    await server.stop();
  }
  if (!values['no-profile']) console.log(summarise(readProfile(profiles), window[0], window[1], Number(values.top), posts));
} finally {
  rmSync(profiles, { recursive: true, force: true });
}
