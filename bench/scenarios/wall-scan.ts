/**
 * A wall scan on PostgreSQL, for the hostile-neighbours scenario: anonymous
 * loops of `POST /poll` naming walls 1–100 (cursor 0, `timeout_ms` 0) beside
 * a legitimate client's `GET /walls`. Public walls already have news, so no
 * wait cap refuses such a poll; what it costs is its permission check, which
 * was one query per wall named and held the connection pool (issue "The
 * scale-out path at single-machine speed": 30 loops took the client's
 * /walls from 2–4 ms to 1.46 s p50).
 */
import { performance } from 'node:perf_hooks';
import { request } from 'undici';
import { type PgCluster, startPgCluster } from '../../test/helpers/pg-cluster.js';
import { sharedAbort } from '../lib/client.js';
import type { BenchSettings } from '../lib/scenario.js';
import { type BenchServer, startServer } from '../lib/server.js';
import { type LatencySummary, summarize } from '../lib/stats.js';

export const SCAN_LOOPS = [0, 30, 60] as const;
const WALLS_NAMED = 100;
const CLIENT_EVERY_MS = 20;

export interface WallScanFigures {
  loops: number;
  /** The legitimate client's GET /walls; a refusal or timeout counts as failed. */
  walls: LatencySummary & { failed: number };
  /** Scanning polls answered per second, all loops together. */
  scansPerS: number;
}

async function timed(server: BenchServer, method: 'GET' | 'POST', path: string, headers: Record<string, string>, body?: string) {
  const started = performance.now();
  try {
    const response = await request(new URL(path, server.url), {
      method,
      headers,
      body,
      dispatcher: server.agent,
      signal: AbortSignal.timeout(10_000),
    });
    await response.body.dump();
    return { ok: response.statusCode === 200, ms: performance.now() - started };
  } catch {
    return { ok: false, ms: performance.now() - started };
  }
}

/** One PostgreSQL server in pool mode; per phase, `loops` scanners beside the client. Null when PostgreSQL is missing. */
export async function wallScanOnPostgres(
  settings: BenchSettings,
  log: (line: string) => void,
): Promise<{ figures: WallScanFigures[]; phaseMs: number } | { skipped: string }> {
  const phaseMs = settings.quick ? 3000 : Math.max(6000, settings.durationS * 1000);
  let cluster: PgCluster;
  try {
    cluster = await startPgCluster();
  } catch (error) {
    return { skipped: (error as Error).message };
  }
  let server: BenchServer | undefined;
  try {
    server = await startServer({ DATABASE_URL: await cluster.createDatabase(), POLL_MODE: 'pool' }, { fairShares: true });
    const login = await request(new URL('/sessions', server.url), {
      method: 'POST',
      headers: { 'content-type': 'application/json', 'x-forwarded-for': '203.0.113.10' },
      body: JSON.stringify({ user: 'demo' }),
      dispatcher: server.agent,
    });
    const session = ((await login.body.json()) as { session_id: string }).session_id;
    const scan = JSON.stringify({
      last_post_id: Object.fromEntries(Array.from({ length: WALLS_NAMED }, (_, i) => [i + 1, 0])),
      timeout_ms: 0,
    });
    const figures: WallScanFigures[] = [];
    for (const loops of SCAN_LOOPS) {
      const stop = sharedAbort();
      let scans = 0;
      const scanners = Array.from({ length: loops }, async (_, i) => {
        const headers = { 'content-type': 'application/json', 'x-forwarded-for': `198.51.100.${i + 1}` };
        while (!stop.signal.aborted) if ((await timed(server!, 'POST', '/poll', headers, scan)).ok) scans++;
      });
      const times: number[] = [];
      let failed = 0;
      const started = performance.now();
      while (performance.now() - started < phaseMs) {
        const { ok, ms } = await timed(server, 'GET', '/walls', {
          authorization: `Bearer ${session}`,
          'x-forwarded-for': '203.0.113.10',
        });
        if (ok) times.push(ms);
        else failed++;
        await new Promise((resolve) => setTimeout(resolve, Math.max(0, CLIENT_EVERY_MS - ms)));
      }
      stop.abort();
      await Promise.all(scanners);
      const row = { loops, walls: { ...summarize(times), failed }, scansPerS: scans / (phaseMs / 1000) };
      log(
        `wall scan on PostgreSQL, ${loops} loops: client /walls p50 ${row.walls.p50.toFixed(1)} ms, p99 ${row.walls.p99.toFixed(1)} ms, ${failed} failed; ${row.scansPerS.toFixed(0)} scans/s`,
      );
      figures.push(row);
    }
    return { figures, phaseMs };
  } finally {
    await server?.stop();
    await cluster.destroy();
  }
}
