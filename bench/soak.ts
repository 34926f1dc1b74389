/**
 * `npm run soak [-- --seconds 120]`: a bounded soak on loopback. For a fixed
 * time, posters write (over HTTP and now and then through the CLI), churners
 * open and drop thousands of polls and streams at random, and "stayers" follow
 * every wall by long poll or SSE throughout. At the end:
 *   - every posted message is in the database exactly once;
 *   - every stayer saw every message of its walls, in order, once;
 *   - the server's RSS at the end is within ±20% of its level after the first
 *     10 s of load (warm-up: thread heaps, SQLite page caches); a leak grows past it.
 * Writes bench/results/soak.json and prints a summary; exits 1 if a check fails.
 */
import { spawn } from 'node:child_process';
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import Database from '../src/storage/sqlite-driver.js';
import { login, postMessage, send, sharedAbort } from './lib/client.js';
import { openEvents } from './lib/events.js';
import { buildServer, ROOT, startServer, type BenchServer } from './lib/server.js';
import { random, sleep, soakLog, soakSeconds, startStayers } from './lib/soak-stayers.js';

const seconds = soakSeconds(120, 5);

const WALLS = [1, 2, 3, 4];
const STAYERS_POLL = 20;
const STAYERS_SSE = 10;
const POSTERS = 4;
const CHURN_CONCURRENCY = 60;
const started = Date.now();
const log = soakLog(started);

async function churn(server: BenchServer, session: string, latest: Map<number, number>): Promise<string> {
  const kind = random(3);
  const controller = new AbortController();
  const lifetime = random(800);
  const timer = setTimeout(() => controller.abort(), lifetime);
  try {
    if (kind === 0) {
      await send(server.agent, server.url, 'POST', '/poll', {
        session,
        body: { last_post_id: { [1 + random(4)]: latest.get(1)! + 1e9 }, timeout_ms: 2000 },
        timeoutMs: 5000,
        signal: controller.signal,
      }).catch(() => null);
      return 'poll';
    }
    if (kind === 1) {
      const stream = await openEvents(server.agent, server.url, `/check?walls=${1 + random(4)}`, session, () => {}).catch(() => null);
      if (stream) {
        if (!controller.signal.aborted) {
          await new Promise((resolve) => controller.signal.addEventListener('abort', resolve, { once: true }));
        }
        stream.close();
        await stream.done;
      }
      return 'stream';
    }
    await send(server.agent, server.url, 'POST', '/poll', {
      session,
      body: { last_post_id: { [1 + random(4)]: 0 }, timeout_ms: 0 },
      timeoutMs: 5000,
    }).catch(() => null);
    return 'short poll';
  } finally {
    clearTimeout(timer);
  }
}

log('building the server (tsc)…');
buildServer();
const server = await startServer({
  MAX_THREADS: '16',
  MIN_THREADS: '16',
  MAX_QUEUE: '5000',
  SSE_MAX_MS: '10000',
  POLL_TIMEOUT_MS: '10000',
});
const failures: string[] = [];
try {
  const { session, latest } = await login(server.agent, server.url);
  const stop = sharedAbort();
  const stayers = startStayers(() => server, session, latest, WALLS, stop.signal, {
    polls: STAYERS_POLL,
    streams: STAYERS_SSE,
    pollMs: 5000,
    requestMs: 15_000,
  });
  await sleep(2000);
  const rssStart = (await server.stats()).memory.rss;
  log(`${stayers.length} stayers connected; RSS ${(rssStart / 2 ** 20).toFixed(1)} MiB`);

  const posted = new Map<number, number[]>(WALLS.map((w) => [w, []]));
  const contents = new Set<string>();
  const endAt = Date.now() + seconds * 1000;
  let postErrors = 0;
  const posters = Array.from({ length: POSTERS }, (_, p) =>
    (async () => {
      for (let i = 0; Date.now() < endAt; i++) {
        const wall = WALLS[random(WALLS.length)]!;
        const content = `soak p${p} #${i}`;
        const reply = await postMessage(server.agent, server.url, session, wall, content).catch(() => null);
        if (reply?.status === 201) {
          posted.get(wall)!.push(reply.json.id);
          contents.add(content);
        } else postErrors++;
        await sleep(10 + random(30));
      }
    })(),
  );
  const cliWriter = (async () => {
    for (let i = 0; Date.now() < endAt; i++) {
      const content = `soak cli #${i}`;
      const out = await new Promise<string>((resolve) => {
        let text = '';
        const child = spawn(process.execPath, [
          join(ROOT, 'dist/cli/post.js'),
          '--db',
          server.dbPath,
          '--wall',
          '1',
          '--user',
          'demo',
          content,
        ]);
        child.stdout.on('data', (chunk) => (text += chunk));
        child.on('exit', () => resolve(text));
      });
      if (out) {
        posted.get(1)!.push(JSON.parse(out).id);
        contents.add(content);
      }
      await sleep(3000);
    }
  })();
  const churned = new Map<string, number>();
  const churners = Array.from({ length: CHURN_CONCURRENCY }, () =>
    (async () => {
      while (Date.now() < endAt) {
        const kind = await churn(server, session, latest);
        churned.set(kind, (churned.get(kind) ?? 0) + 1);
      }
    })(),
  );
  // The leak check compares the end with the first progress tick, once the
  // load has warmed the process up (thread heaps, SQLite page caches), as the
  // header says; the figure before any load is reported beside it.
  let rssWarm = 0;
  const progress = setInterval(async () => {
    const stats = await server.stats().catch(() => null);
    if (!rssWarm && stats) rssWarm = stats.memory.rss;
    const total = [...posted.values()].reduce((s, ids) => s + ids.length, 0);
    log(
      `${total} posted, ${[...churned.values()].reduce((a, b) => a + b, 0)} churned; waiting polls ${stats?.waiting_polls}, streams ${stats?.open_streams}, RSS ${((stats?.memory.rss ?? 0) / 2 ** 20).toFixed(1)} MiB`,
    );
  }, 10_000);
  await Promise.all([...posters, cliWriter, ...churners]);
  clearInterval(progress);

  // Let the stayers catch up, then stop them.
  const expected = (wall: number) => [...posted.get(wall)!].sort((a, b) => a - b);
  const caughtUp = () => stayers.every((s) => WALLS.every((w) => s.seen.get(w)!.length >= posted.get(w)!.length));
  for (let i = 0; i < 200 && !caughtUp(); i++) await sleep(50);
  stop.abort();
  await Promise.all(stayers.map((s) => s.done));
  await sleep(3000);
  const rssEnd = (await server.stats()).memory.rss;

  const total = [...posted.values()].reduce((s, ids) => s + ids.length, 0);
  const db = new Database(server.dbPath, { readonly: true });
  const rows = db.prepare("SELECT id, content FROM messages WHERE content LIKE 'soak %'").all() as Array<{ id: number; content: string }>;
  db.close();
  const stored = new Set(rows.map((r) => r.content));
  if (rows.length !== total || stored.size !== rows.length || [...contents].some((c) => !stored.has(c))) {
    failures.push(`database holds ${rows.length} soak messages (${stored.size} distinct) for ${total} posted`);
  }
  let stayersOk = 0;
  for (const [index, stayer] of stayers.entries()) {
    const bad = WALLS.filter((w) => JSON.stringify(stayer.seen.get(w)) !== JSON.stringify(expected(w)));
    if (bad.length) failures.push(`stayer ${index} (${stayer.kind}) differs on wall(s) ${bad.join(', ')}`);
    else stayersOk++;
  }
  if (!rssWarm) failures.push('no RSS reading after warm-up (the run was shorter than one progress tick)');
  const rssChange = (rssEnd - rssWarm) / rssWarm;
  if (Math.abs(rssChange) > 0.2) failures.push(`RSS moved ${(rssChange * 100).toFixed(1)}% (after warm-up ${rssWarm}, end ${rssEnd})`);

  const summary = {
    date: new Date().toISOString(),
    node: process.version,
    seconds,
    posted: total,
    postErrors,
    cliWrites: contents.size - [...contents].filter((c) => !c.startsWith('soak cli')).length,
    churned: Object.fromEntries(churned),
    stayers: { longPoll: STAYERS_POLL, sse: STAYERS_SSE, complete: stayersOk },
    rssStartMiB: +(rssStart / 2 ** 20).toFixed(1),
    rssWarmMiB: +(rssWarm / 2 ** 20).toFixed(1),
    rssEndMiB: +(rssEnd / 2 ** 20).toFixed(1),
    rssChangePercent: +(rssChange * 100).toFixed(1),
    failures,
  };
  mkdirSync(join(ROOT, 'bench', 'results'), { recursive: true });
  writeFileSync(join(ROOT, 'bench', 'results', 'soak.json'), `${JSON.stringify(summary, null, 2)}\n`);
  log(JSON.stringify(summary));
} finally {
  await server.stop();
}
if (failures.length) {
  for (const failure of failures) log(`FAILED: ${failure}`);
  process.exit(1);
}
log('soak passed');
