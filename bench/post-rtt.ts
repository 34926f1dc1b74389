/**
 * `npx tsx bench/post-rtt.ts [--posts 200]`: the round trip of a POST that
 * stores a message, with nobody waiting, on Pollster (built, default
 * configuration) and on the evented baseline, interleaved, a post every 50 ms
 * as in the delivery scenarios. The one-poll delivery figure of vs-baseline
 * contains this round trip, so it bounds how close that ratio can get to 1.
 */
import { parseArgs } from 'node:util';
import { performance } from 'node:perf_hooks';
import { login, postMessage } from './lib/client.js';
import { BASELINE_ARGS, buildServer, startServer, type BenchServer } from './lib/server.js';
import { percentile } from './lib/stats.js';

const { values } = parseArgs({
  options: { posts: { type: 'string', default: '200' }, env: { type: 'string', multiple: true, default: [] } },
});
const posts = Number(values.posts);
const env = Object.fromEntries(values.env!.map((pair) => pair.split('=') as [string, string]));
buildServer();
const servers: Array<[string, BenchServer]> = [
  ['pollster', await startServer(env)],
  ['baseline', await startServer({}, { args: BASELINE_ARGS, name: 'evented baseline' })],
];
try {
  const sessions = await Promise.all(servers.map(([, server]) => login(server.agent, server.url)));
  const times: number[][] = servers.map(() => []);
  for (let i = 0; i < posts + 10; i++) {
    for (const [index, [, server]] of servers.entries()) {
      const started = performance.now();
      const reply = await postMessage(server.agent, server.url, sessions[index]!.session, 2, `rtt ${i}`);
      if (reply.status !== 201) throw new Error(`POST answered ${reply.status}`);
      if (i >= 10) times[index]!.push(performance.now() - started);
      await new Promise((resolve) => setTimeout(resolve, 25));
    }
  }
  for (const [index, [name]] of servers.entries()) {
    console.log(
      `${name}: POST round trip p50 ${percentile(times[index]!, 50).toFixed(2)} ms, p99 ${percentile(times[index]!, 99).toFixed(2)} ms`,
    );
  }
} finally {
  await Promise.all(servers.map(([, server]) => server.stop()));
}
