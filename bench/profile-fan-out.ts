/**
 * `npx tsx bench/profile-fan-out.ts [--polls 10000] [--kind poll|stream] [--server pollster|baseline]`:
 * where the main thread's time goes while one post reaches N waiting polls,
 * the fan-out vs-baseline compares with the evented baseline. The server runs
 * with `node --cpu-prof` in vs-baseline's fan-out configuration; the client notes the post and the last answer on
 * the monotonic clock the profile also uses, and only samples in between are
 * counted: self time per function, then grouped by hop.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { login, postMessage, until } from './lib/client.js';
import { openRawPolls, pollRequest, streamRequest } from './lib/raw-polls.js';
import { BASELINE_ARGS, buildServer, POLLSTER_ARGS, startServer } from './lib/server.js';
import { percentile } from './lib/stats.js';
import { profilerArgs, readProfile, summarise } from './lib/cpu-profile.js';
import { snapshot, threadTable, type Snapshot } from './lib/thread-times.js';

const { values } = parseArgs({
  options: {
    polls: { type: 'string', default: '10000' },
    kind: { type: 'string', default: 'poll' },
    server: { type: 'string', default: 'pollster' },
    top: { type: 'string', default: '15' },
    // Without V8's sampler (which itself takes a share of the core): only
    // the per-thread CPU and context switches below.
    'no-profile': { type: 'boolean', default: false },
    // Fan-outs in a row on one server: the first runs cold code (V8 has not
    // optimised the answer path yet), later ones warm. The profile covers the last.
    rounds: { type: 'string', default: '1' },
    // A V8 or Node flag for the server (repeatable), e.g. --node-flag=--max-semi-space-size=32.
    'node-flag': { type: 'string', multiple: true, default: [] },
  },
});
const count = Number(values.polls);
const kind = values.kind === 'stream' ? 'stream' : 'poll';
const WALL = 2;

const profiles = mkdtempSync(join(tmpdir(), 'pollster-profile-'));
try {
  if (values.server === 'pollster') buildServer();
  const script = values.server === 'pollster' ? POLLSTER_ARGS : BASELINE_ARGS;
  const server = await startServer(
    {
      POLL_MODE: 'multiplex',
      MIN_THREADS: '2',
      MAX_THREADS: '2',
      TASKS_PER_THREAD: String(Math.ceil(count / 2)),
      MAX_QUEUE: String(count),
      POLL_TIMEOUT_MS: '120000',
    },
    {
      args: [...values['node-flag']!, ...(values['no-profile'] ? [] : profilerArgs(profiles, 200)), ...script],
      name: `${values.server} (profiled)`,
    },
  );
  let window: [number, number] = [0, 0];
  let threads = '';
  try {
    const { session, latest } = await login(server.agent, server.url);
    let cursor = latest.get(WALL)!;
    for (let round = 1; round <= Number(values.rounds); round++) {
      const idle = await server.stats();
      const request =
        kind === 'poll'
          ? pollRequest(server.url, session, { last_post_id: { [WALL]: cursor }, timeout_ms: 60_000 })
          : streamRequest(server.url, session, [WALL]);
      const raw = await openRawPolls(server.url, request, count, (sent) =>
        until(server.stats, (s) => s.waiting_polls >= idle.waiting_polls + sent, 60_000),
      );
      const content = `profiled ${Math.random()}`;
      const before = snapshot(server.pid!);
      const postedAt = Number(process.hrtime.bigint() / 1000n);
      raw.markPosted(content);
      cursor = (await postMessage(server.agent, server.url, session, WALL, content)).json.id;
      const times = (await raw.results(60_000)).filter(Number.isFinite);
      const after = snapshot(server.pid!);
      threads = threadTable(values.server!, server.pid!, before, after);
      const lastAt = postedAt + Math.max(...times) * 1000;
      window = [postedAt, lastAt];
      const main = (at: Snapshot) => at.server.get(String(server.pid))!;
      console.log(
        `${values.server} round ${round}: ${times.length}/${count} ${kind === 'poll' ? 'polls' : 'streams'} answered, p50 ${percentile(times, 50).toFixed(0)} ms, slowest ${Math.max(...times).toFixed(0)} ms; ` +
          `main thread ${main(after).userMs - main(before).userMs} ms user, ${main(after).systemMs - main(before).systemMs} ms system`,
      );
      raw.close();
      // Every socket of this round closed before the next opens its own.
      await until(server.stats, (s) => s.waiting_polls === idle.waiting_polls, 30_000);
    }
  } finally {
    await server.stop();
  }
  // Counted up to the moment the client had every answer (10 ms ticks).
  console.log(`${threads}\n`);
  if (!values['no-profile']) console.log(summarise(readProfile(profiles), window[0], window[1], Number(values.top)));
} finally {
  rmSync(profiles, { recursive: true, force: true });
}
