/**
 * Several hosts on one database. Two Pollster processes (A and B) share a
 * database — a PostgreSQL database (LISTEN/NOTIFY) or a SQLite file (each
 * process's data_version watcher) — and the scenario times delivery to a
 * waiting long poll: posted on the same host, posted on the other host, and
 * INSERTed by another program on its own connection; then one post fanned
 * out to polls spread over both hosts.
 */
import { performance } from 'node:perf_hooks';
import Database from '../../src/storage/sqlite-driver.js';
import pg from 'pg';
import { login, postMessage, send, until } from '../lib/client.js';
import { fmt, type BenchSettings, type Scenario, type ScenarioResult } from '../lib/scenario.js';
import type { Agent } from 'undici';
import { startServer } from '../lib/server.js';
import { summarize, type LatencySummary } from '../lib/stats.js';
import { startPgCluster, type PgCluster } from '../../test/helpers/pg-cluster.js';

const WALL = 1;
const GAP_MS = 50;

type Backend = 'sqlite' | 'postgres';
export type Writer = (content: string) => Promise<unknown>;

/** A running Pollster the scenario talks to (a bench server, or one in a network namespace). */
export interface HostClient {
  url: string;
  agent: Agent;
  stats(): Promise<any>;
}

/** One waiting long poll on `server`, re-armed after every answer; `onPost` sees each message. */
function receive(server: HostClient, session: string, after: number, onPost: (content: string) => void) {
  const controller = new AbortController();
  const loop = (async () => {
    let cursor = after;
    while (!controller.signal.aborted) {
      const reply = await send(server.agent, server.url, 'POST', '/poll', {
        session,
        body: { last_post_id: { [WALL]: cursor }, timeout_ms: 10_000 },
        timeoutMs: 20_000,
        signal: controller.signal,
      }).catch(() => null);
      for (const post of reply?.json?.walls?.[WALL]?.posts ?? []) {
        onPost(post.content);
        cursor = Math.max(cursor, post.id);
      }
    }
  })();
  return async () => {
    controller.abort();
    await loop;
  };
}

/** Post→receipt latency of `count` messages written one at a time by `write`. */
async function delivery(poller: HostClient, session: string, after: number, count: number, write: Writer): Promise<number[]> {
  const latencies: number[] = [];
  let waiting: { content: string; sentAt: number; done: () => void } | null = null;
  const stop = receive(poller, session, after, (content) => {
    if (waiting && content === waiting.content) {
      latencies.push(performance.now() - waiting.sentAt);
      waiting.done();
    }
  });
  try {
    for (let i = 0; i < count; i++) {
      await until(poller.stats, (s) => s.waiting_polls >= 1, 10_000);
      const content = `m${i} ${Math.random()}`;
      const received = new Promise<void>((resolve) => (waiting = { content, sentAt: performance.now(), done: resolve }));
      await write(content);
      await Promise.race([received, new Promise((resolve) => setTimeout(resolve, 5000))]);
      waiting = null;
      await new Promise((resolve) => setTimeout(resolve, GAP_MS));
    }
  } finally {
    await stop();
  }
  return latencies;
}

/** One post on A to `polls` long polls spread evenly over A and B. */
async function fanOut(a: HostClient, b: HostClient, session: string, after: number, polls: number) {
  let postedAt = 0;
  let content = '';
  const replies = Array.from({ length: polls }, (_, i) => {
    const server = i % 2 ? b : a;
    return send(server.agent, server.url, 'POST', '/poll', {
      session,
      body: { last_post_id: { [WALL]: after }, timeout_ms: 30_000 },
      timeoutMs: 40_000,
    }).then(
      (reply) =>
        reply.json?.walls?.[WALL]?.posts?.some((p: { content: string }) => p.content === content) ? performance.now() - postedAt : NaN,
      () => NaN,
    );
  });
  await until(a.stats, (s) => s.waiting_polls === Math.ceil(polls / 2), 60_000);
  await until(b.stats, (s) => s.waiting_polls === Math.floor(polls / 2), 60_000);
  content = `fan-out ${Math.random()}`;
  postedAt = performance.now();
  await postMessage(a.agent, a.url, session, WALL, content);
  const times = await Promise.all(replies);
  return { ...summarize(times.filter(Number.isFinite)), delivered: times.filter(Number.isFinite).length };
}

export interface Row {
  backend: string;
  path: string;
  summary: LatencySummary;
}

/** Delivery on one host, across hosts and from another program's INSERT, then a fan-out over both. */
export async function measurePair(
  label: string,
  a: HostClient,
  b: HostClient,
  insert: Writer,
  settings: BenchSettings,
  log: (line: string) => void,
) {
  const rows: Row[] = [];
  const { session } = await login(a.agent, a.url);
  const latest = async () => (await login(a.agent, a.url)).latest.get(WALL)!;
  const paths: Array<[string, HostClient, Writer]> = [
    ['post on A → poll on A', a, (c) => postMessage(a.agent, a.url, session, WALL, c)],
    ['post on A → poll on B', b, (c) => postMessage(a.agent, a.url, session, WALL, c)],
    ['INSERT by another program → poll on A', a, insert],
  ];
  for (const [path, poller, write] of paths) {
    const summary = summarize(await delivery(poller, session, await latest(), settings.messages, write));
    log(`${label}: ${path}: ${summary.count}/${settings.messages}, p50 ${fmt(summary.p50)} ms, p99 ${fmt(summary.p99)} ms`);
    rows.push({ backend: label, path, summary });
  }
  const polls = settings.quick ? 200 : 1000;
  const fan = await fanOut(a, b, session, await latest(), polls);
  log(`${label}: fan-out to ${polls} polls on 2 hosts: ${fan.delivered}/${polls}, max ${fmt(fan.max)} ms`);
  return { rows, fan: { backend: label, polls, ...fan } };
}

async function runBackend(backend: Backend, cluster: PgCluster | null, settings: BenchSettings, log: (line: string) => void) {
  const databaseUrl = backend === 'postgres' ? await cluster!.createDatabase() : null;
  const shared: Record<string, string> = databaseUrl ? { DATABASE_URL: databaseUrl } : {};
  const common = { MAX_THREADS: '4', MIN_THREADS: '4', POLL_MODE: 'multiplex', TASKS_PER_THREAD: '1000', MAX_QUEUE: '10000' };
  const a = await startServer({ ...common, ...shared });
  // SQLite: B opens A's file; its watcher notices A's commits.
  const b = await startServer({ ...common, ...shared, ...(databaseUrl ? {} : { DB_PATH: a.dbPath }) });
  let other: { write: Writer; close: () => Promise<void> };
  if (databaseUrl) {
    const client = new pg.Client({ connectionString: databaseUrl });
    await client.connect();
    other = {
      write: (content) => client.query('INSERT INTO messages (wall_id, user_id, content) VALUES ($1, 1, $2)', [WALL, content]),
      close: () => client.end(),
    };
  } else {
    const db = new Database(a.dbPath);
    db.pragma('busy_timeout = 5000');
    const insert = db.prepare('INSERT INTO messages (wall_id, user_id, content, created_at) VALUES (?, 1, ?, ?)');
    other = { write: async (content) => insert.run(WALL, content, Date.now()), close: async () => void db.close() };
  }
  try {
    return await measurePair(backend, a, b, other.write, settings, log);
  } finally {
    await other.close();
    await b.stop();
    await a.stop();
  }
}

export const hosts: Scenario = {
  id: 'hosts',
  title: 'Several hosts on one database: PostgreSQL and SQLite',
  notPerConfiguration: 'starts two hosts and its own PostgreSQL cluster, with fixed settings',
  notFromOutside: 'starts two hosts of its own on one database',
  async run(settings: BenchSettings, log): Promise<ScenarioResult> {
    let cluster: PgCluster | null = null;
    let skipped = '';
    try {
      cluster = await startPgCluster();
    } catch (error) {
      skipped = `PostgreSQL rows skipped: ${(error as Error).message}`;
      log(skipped);
    }
    const rows: Row[] = [];
    const fans: Array<{ backend: string; polls: number; delivered: number } & LatencySummary> = [];
    try {
      for (const backend of ['sqlite', 'postgres'] as const) {
        if (backend === 'postgres' && !cluster) continue;
        const result = await runBackend(backend, cluster, settings, log);
        rows.push(...result.rows);
        fans.push(result.fan);
      }
    } finally {
      await cluster?.destroy();
    }
    const pgRow = (path: string) => rows.find((r) => r.backend === 'postgres' && r.path === path)?.summary;
    const across = pgRow('post on A → poll on B');
    const external = pgRow('INSERT by another program → poll on A');
    const pgFan = fans.find((f) => f.backend === 'postgres');
    return {
      id: this.id,
      title: this.title,
      method:
        `Two Pollster processes (A, B; POLL_MODE=multiplex, MAX_THREADS=4) on one database: a PostgreSQL database ` +
        `(throwaway local cluster, fsync off) or one SQLite file. One long poll waits on B or A; ${settings.messages} messages ` +
        `are written one at a time, ${GAP_MS} ms apart, by a POST on A or by an INSERT on a connection of the bench's own; ` +
        `each is timed from the start of the write until the poll has it. Fan-out: one POST on A to polls spread evenly over A and B.` +
        (skipped ? ` ${skipped}` : ''),
      tables: [
        {
          title: 'Delivery to a waiting long poll, ms',
          columns: ['backend', 'path', 'delivered', 'p50', 'p99', 'max'],
          rows: rows.map((r) => [
            r.backend,
            r.path,
            `${r.summary.count}/${settings.messages}`,
            fmt(r.summary.p50),
            fmt(r.summary.p99),
            fmt(r.summary.max),
          ]),
        },
        {
          title: 'Fan-out: one post to polls on two hosts, ms',
          columns: ['backend', 'polls', 'delivered', 'p50', 'p99', 'max'],
          rows: fans.map((f) => [f.backend, f.polls, `${f.delivered}/${f.polls}`, fmt(f.p50), fmt(f.p99), fmt(f.max)]),
        },
      ],
      targets:
        cluster || !skipped
          ? [
              {
                goal: 'PostgreSQL, post on A → poll on B: p50 ≤ 5 ms, p99 ≤ 20 ms',
                measured: across ? `p50 ${fmt(across.p50)} ms, p99 ${fmt(across.p99)} ms` : 'not measured',
                met: Boolean(across && across.count === settings.messages && across.p50 <= 5 && across.p99 <= 20),
                kind: 'absolute' as const,
              },
              {
                goal: 'PostgreSQL, INSERT by another program → waiting poll: p50 ≤ 10 ms',
                measured: external ? `p50 ${fmt(external.p50)} ms` : 'not measured',
                met: Boolean(external && external.count === settings.messages && external.p50 <= 10),
                kind: 'absolute' as const,
              },
              // Judged on the full run's 1,000 polls only (--quick holds 200).
              ...(pgFan?.polls === 1000
                ? [
                    {
                      goal: 'PostgreSQL, one post to 1,000 polls on 2 hosts: all delivered, max ≤ 250 ms',
                      measured: `${pgFan.delivered}/${pgFan.polls}, max ${fmt(pgFan.max)} ms`,
                      met: pgFan.delivered === 1000 && pgFan.max <= 250,
                      kind: 'absolute' as const,
                    },
                  ]
                : []),
            ]
          : [],
      charts: [],
      data: { rows, fans, skipped: skipped || null },
    };
  },
};
