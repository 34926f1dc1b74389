/**
 * `node --expose-gc --import tsx bench/held-heap.ts [--polls 2000] [--snapshot] [--postgres]`:
 * what one held poll costs in memory, split as V8 heap, external and RSS,
 * with Pollster in this process (multiplex, 2 threads) and the polls on bare
 * sockets from a child process, so the client's memory is not counted.
 * `--snapshot` writes a heap snapshot while they are held; `--postgres`
 * runs Pollster on a throwaway PostgreSQL cluster (DATABASE_URL) instead of SQLite.
 */
import { fork } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { writeHeapSnapshot } from 'node:v8';
import { startPollster } from '../src/app.js';
import { loadConfig } from '../src/config.js';
import { createLogger } from '../src/observability/logger.js';
import { startPgCluster } from '../test/helpers/pg-cluster.js';

const { values, positionals } = parseArgs({
  options: {
    polls: { type: 'string', default: '2000' },
    snapshot: { type: 'boolean' },
    postgres: { type: 'boolean' },
    client: { type: 'string' },
  },
  allowPositionals: true,
});
void positionals;

if (values.client) {
  // The child: hold the polls until told to stop.
  const { openRawPolls, pollRequest } = await import('./lib/raw-polls.js');
  const [url, session, after] = values.client.split('|') as [string, string, string];
  const raw = await openRawPolls(
    url,
    pollRequest(url, session, { last_post_id: { 2: Number(after) }, timeout_ms: 60_000 }),
    Number(values.polls),
    async () => {},
  );
  process.send!('held');
  process.once('message', () => {
    raw.close();
    process.exit(0);
  });
} else {
  const gc = (globalThis as { gc?: () => void }).gc;
  if (!gc) throw new Error('run with node --expose-gc');
  const dir = mkdtempSync(join(tmpdir(), 'pollster-heap-'));
  const count = Number(values.polls);
  const cluster = values.postgres ? await startPgCluster() : null;
  const database = cluster ? { DATABASE_URL: await cluster.createDatabase() } : {};
  const pollster = await startPollster(
    loadConfig({
      PORT: '0',
      HOST: '127.0.0.1',
      DB_PATH: join(dir, 'p.db'),
      POLL_MODE: 'multiplex',
      MIN_THREADS: '2',
      MAX_THREADS: '2',
      TASKS_PER_THREAD: String(count),
      MAX_QUEUE: String(count),
      MAX_WAITS_PER_SESSION: '0',
      MAX_WAITS_PER_CLIENT: '0',
      POLL_TIMEOUT_MS: '120000',
      ...database,
    }),
    createLogger('silent'),
  );
  try {
    const user = (await pollster.store.userByName('demo'))!;
    const session = await pollster.store.createSession(user.id);
    const after = (await pollster.store.wallsOf(user.id)).find((w) => w.id === 2)!.latest_message_id;
    const measure = () => {
      gc();
      const m = process.memoryUsage();
      return { heap: m.heapUsed, external: m.external + m.arrayBuffers, rss: m.rss };
    };
    const before = measure();
    const child = fork(new URL(import.meta.url).pathname, ['--client', `${pollster.url}|${session}|${after}`, '--polls', String(count)], {
      execArgv: ['--import', 'tsx'],
    });
    await new Promise((resolve) => child.once('message', resolve));
    while (pollster.stats().waiting_polls < count) await new Promise((resolve) => setTimeout(resolve, 20));
    const held = measure();
    const per = (key: keyof typeof held) => ((held[key] - before[key]) / count / 1024).toFixed(2);
    console.log(`${count} held polls: V8 heap ${per('heap')} KB, external ${per('external')} KB, RSS ${per('rss')} KB per poll`);
    if (values.snapshot) console.log(`heap snapshot: ${writeHeapSnapshot(join(tmpdir(), 'pollster-held.heapsnapshot'))}`);
    child.send('stop');
    await new Promise((resolve) => child.once('exit', resolve));
  } finally {
    await pollster.close();
    await cluster?.destroy();
    rmSync(dir, { recursive: true, force: true });
  }
}
