/**
 * `npm run soak:hosts [-- --seconds 60]`: the soak on two Pollster hosts
 * sharing one PostgreSQL (a throwaway local cluster). Posters write on both
 * hosts (and now and then by an INSERT of their own), long-poll and SSE
 * stayers switch hosts as they go, and host A is killed with SIGKILL a third
 * of the way in and restarted on the same port a few seconds later. At the
 * end:
 *   - every acknowledged post is in the database;
 *   - every stayer saw every message of its walls that the database holds,
 *     in id order, exactly once.
 * Writes bench/results/soak-hosts.json; exits 1 if a check fails.
 */
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import pg from 'pg';
import { Agent } from 'undici';
import { freePort, startPgCluster } from '../test/helpers/pg-cluster.js';
import { login, postMessage, sharedAbort } from './lib/client.js';
import { HostProcess as Host } from './lib/host-process.js';
import { buildServer, ROOT } from './lib/server.js';
import { random, sleep, soakLog, soakSeconds, startStayers } from './lib/soak-stayers.js';

const seconds = soakSeconds(60, 10);

const WALLS = [1, 2, 3, 4];
const STAYERS_POLL = 12;
const STAYERS_SSE = 6;
const POSTERS = 4;
const started = Date.now();
const log = soakLog(started);
const agent = new Agent({ connections: null, headersTimeout: 0, bodyTimeout: 0 });

log('building the server (tsc)…');
buildServer();
log('starting a throwaway PostgreSQL cluster…');
const cluster = await startPgCluster();
const failures: string[] = [];
const hosts: Host[] = [];
let db: pg.Client | null = null;
try {
  const databaseUrl = await cluster.createDatabase();
  const env = {
    DATABASE_URL: databaseUrl,
    MAX_THREADS: '8',
    MIN_THREADS: '8',
    POLL_MODE: 'multiplex',
    SSE_MAX_MS: '10000',
    PG_POOL_SIZE: '8',
  };
  for (const name of ['A', 'B']) {
    const host = new Host(name, '127.0.0.1', await freePort(), env);
    await host.start();
    hosts.push(host);
  }
  db = new pg.Client({ connectionString: databaseUrl });
  await db.connect();
  const { session, latest } = await login(agent, hosts[1]!.url);
  const stop = sharedAbort();
  // A different host for each request, as a load balancer would pick; a
  // stream also moves to another host now and then, and whenever it ends.
  const anyHost = () => ({ agent, url: hosts[random(hosts.length)]!.url });
  const stayers = startStayers(anyHost, session, latest, WALLS, stop.signal, {
    polls: STAYERS_POLL,
    streams: STAYERS_SSE,
    pollMs: 3000,
    requestMs: 10_000,
    hopAfterMs: () => 2000 + random(4000),
  });
  log(`hosts ${hosts.map((h) => h.url).join(', ')}; ${stayers.length} stayers`);

  const acknowledged: number[] = [];
  let postErrors = 0;
  let inserts = 0;
  const endAt = Date.now() + seconds * 1000;
  const posters = Array.from({ length: POSTERS }, (_, p) =>
    (async () => {
      for (let i = 0; Date.now() < endAt; i++) {
        const host = hosts[random(hosts.length)]!;
        const reply = await postMessage(agent, host.url, session, WALLS[random(WALLS.length)]!, `soak p${p} #${i}`).catch(() => null);
        if (reply?.status === 201) acknowledged.push(reply.json.id);
        else postErrors++;
        await sleep(10 + random(30));
      }
    })(),
  );
  const inserter = (async () => {
    for (let i = 0; Date.now() < endAt; i++) {
      const { rows } = await db!.query('INSERT INTO messages (wall_id, user_id, content) VALUES ($1, 1, $2) RETURNING id', [
        WALLS[random(WALLS.length)],
        `soak insert #${i}`,
      ]);
      acknowledged.push(Number(rows[0].id));
      inserts++;
      await sleep(500);
    }
  })();
  const killer = (async () => {
    await sleep((seconds * 1000) / 3);
    log('SIGKILL host A');
    await hosts[0]!.kill('SIGKILL');
    await sleep(3000);
    await hosts[0]!.start();
    log('host A restarted');
  })();
  const progress = setInterval(() => log(`${acknowledged.length} acknowledged, ${postErrors} post errors`), 10_000);
  await Promise.all([...posters, inserter, killer]);
  clearInterval(progress);

  const { rows } = await db.query<{ id: string; wall_id: string }>('SELECT id, wall_id FROM messages WHERE id > $1 ORDER BY id', [
    Math.max(...latest.values()),
  ]);
  const all = rows.map((r) => ({ id: Number(r.id), wall: Number(r.wall_id) }));
  const stored = new Set(all.map((m) => m.id));
  const missing = acknowledged.filter((id) => !stored.has(id));
  if (missing.length) failures.push(`${missing.length} acknowledged posts are not in the database`);
  const expected = (wall: number) => all.filter((m) => m.wall === wall).map((m) => m.id);
  const caughtUp = () => stayers.every((s) => WALLS.every((w) => s.seen.get(w)!.length >= expected(w).length));
  for (let i = 0; i < 400 && !caughtUp(); i++) await sleep(50);
  stop.abort();
  await Promise.all(stayers.map((s) => s.done));

  let stayersOk = 0;
  for (const [index, stayer] of stayers.entries()) {
    const bad = WALLS.filter((w) => JSON.stringify(stayer.seen.get(w)) !== JSON.stringify(expected(w)));
    if (bad.length) failures.push(`stayer ${index} (${stayer.kind}) differs on wall(s) ${bad.join(', ')}`);
    else stayersOk++;
  }
  const summary = {
    date: new Date().toISOString(),
    node: process.version,
    seconds,
    hosts: 2,
    stored: all.length,
    acknowledged: acknowledged.length,
    inserts,
    postErrors,
    killed: 'host A, SIGKILL at a third of the run, restarted 3 s later',
    stayers: { longPoll: STAYERS_POLL, sse: STAYERS_SSE, complete: stayersOk },
    failures,
  };
  mkdirSync(join(ROOT, 'bench', 'results'), { recursive: true });
  writeFileSync(join(ROOT, 'bench', 'results', 'soak-hosts.json'), `${JSON.stringify(summary, null, 2)}\n`);
  log(JSON.stringify(summary));
} finally {
  await db?.end().catch(() => {});
  for (const host of hosts) await host.stop();
  await agent.close();
  await cluster.destroy();
}
if (failures.length) {
  for (const failure of failures) log(`FAILED: ${failure}`);
  process.exit(1);
}
log('soak passed');
