/**
 * "Hostile neighbours": one well-behaved client — a long poll on
 * its wall, a post every 50 ms, a /ping every 20 ms — first on a quiet
 * server, then next to SSE readers that replay a large backlog and never
 * read, and finally also next to a /hello flood and a session that opens
 * dozens of polls. Does its delivery and /ping stay fast, and what does each
 * stalled stream cost in RSS?
 *
 * Every actor sends its own X-Forwarded-For (the server trusts loopback
 * proxies by default once TRUST_PROXY exists), so per-address caps see five
 * clients rather than one.
 */
import { connect, type Socket } from 'node:net';
import { performance } from 'node:perf_hooks';
import { request } from 'undici';
import { sharedAbort } from '../lib/client.js';
import { fmt, type BenchSettings, type Scenario, type ScenarioResult } from '../lib/scenario.js';
import { startServer, type BenchServer } from '../lib/server.js';
import { summarize, type LatencySummary } from '../lib/stats.js';
import { wallScanOnPostgres } from './wall-scan.js';

const CLIENT_WALL = 1;
const GREEDY_WALL = 3;
const BACKLOG_WALL = 4;
const POST_EVERY_MS = 50;
const PING_EVERY_MS = 20;
const HELLO_MS = 8000;
const MESSAGE_BYTES = 2000;
const ADDRESS = { client: '203.0.113.10', greedy: '203.0.113.20', flood: '203.0.113.30', stalled: (i: number) => `203.0.113.${40 + i}` };
const PHASES = ['quiet', 'stalled readers', 'all neighbours'] as const;
type Phase = (typeof PHASES)[number];

interface Hit {
  status: number;
  json: any;
}

/** One request with the actor's address; a failure (timeout, abort, reset) answers status 0. */
async function hit(
  server: BenchServer,
  method: 'GET' | 'POST',
  path: string,
  options: { from: string; session?: string; body?: unknown; timeoutMs: number; signal?: AbortSignal },
): Promise<Hit> {
  const headers: Record<string, string> = { 'x-forwarded-for': options.from };
  if (options.session) headers.authorization = `Bearer ${options.session}`;
  if (options.body !== undefined) headers['content-type'] = 'application/json';
  try {
    const response = await request(new URL(path, server.url), {
      method,
      headers,
      body: options.body === undefined ? undefined : JSON.stringify(options.body),
      dispatcher: server.agent,
      signal: AbortSignal.any([AbortSignal.timeout(options.timeoutMs), ...(options.signal ? [options.signal] : [])]),
    });
    const text = await response.body.text();
    return { status: response.statusCode, json: text.startsWith('{') ? JSON.parse(text) : text };
  } catch {
    return { status: 0, json: null };
  }
}

/** Wait `ms`, or less if `signal` aborts; leaves no listener behind. */
function pause(ms: number, signal?: AbortSignal): Promise<void> {
  return new Promise<void>((resolve) => {
    const done = () => {
      clearTimeout(timer);
      signal?.removeEventListener('abort', done);
      resolve();
    };
    const timer = setTimeout(done, ms);
    signal?.addEventListener('abort', done, { once: true });
  });
}

async function login(server: BenchServer, from: string): Promise<{ session: string; latest: Map<number, number> }> {
  const { status, json } = await hit(server, 'POST', '/sessions', { from, body: { user: 'demo' }, timeoutMs: 5000 });
  if (status !== 201) throw new Error(`login failed: ${status}`);
  return {
    session: json.session_id,
    latest: new Map(json.walls.map((w: { id: number; latest_message_id: number }) => [w.id, w.latest_message_id])),
  };
}

/** `count` messages of MESSAGE_BYTES on the backlog wall, `parallel` posts at a time. */
async function seedBacklog(server: BenchServer, session: string, count: number, parallel = 16): Promise<void> {
  let next = 0;
  const body = { content: 'x'.repeat(MESSAGE_BYTES) };
  await Promise.all(
    Array.from({ length: parallel }, async () => {
      while (next < count) {
        next++;
        const { status } = await hit(server, 'POST', `/walls/${BACKLOG_WALL}/messages`, {
          from: ADDRESS.client,
          session,
          body,
          timeoutMs: 10_000,
        });
        if (status !== 201) throw new Error(`seeding the backlog: ${status}`);
      }
    }),
  );
}

/**
 * An SSE reader that asks for the whole backlog and then never reads: the
 * socket is paused before the first byte arrives, so once the kernel's
 * buffers fill, the server's writes pile up in its own memory.
 */
function stalledReader(server: BenchServer, session: string, from: string): Socket {
  const { hostname, port } = new URL(server.url);
  const socket = connect(Number(port), hostname);
  socket.pause();
  socket.write(
    `GET /check?walls=${BACKLOG_WALL}&last_event_id=0 HTTP/1.1\r\nHost: ${hostname}\r\nAuthorization: Bearer ${session}\r\nX-Forwarded-For: ${from}\r\n\r\n`,
  );
  socket.on('error', () => undefined);
  return socket;
}

interface ModeFigures {
  mode: string;
  /** Per phase: latency of delivered messages, posts never delivered, posts the server refused. */
  delivery: Record<Phase, LatencySummary & { undelivered: number; refused: number }>;
  ping: Record<Phase, LatencySummary>;
  stalled: number;
  rssBeforeMb: number;
  /** Peak while only the stalled readers ran beside the client. */
  rssPeakStalledMb: number;
  /** Peak once every neighbour ran. */
  rssPeakAllMb: number;
  rssPerStreamMb: number;
  /** Streams the server still held when the last phase ended (SSE_STALL_MS may end them). */
  streamsStillOpen: number;
  hello: Record<string, number>;
  greedy: Record<string, number>;
}

/** The full sizes: 6,000 × 2 KB, 6 stalled readers, 64 /hello jobs, 64 greedy polls; fewer actors and shorter phases with --quick. */
function sizesFor(settings: BenchSettings) {
  return settings.quick
    ? { backlog: 6000, stalled: 2, hello: 32, greedy: 32, phaseMs: 3000 }
    : { backlog: 6000, stalled: 6, hello: 64, greedy: 64, phaseMs: Math.max(8000, settings.durationS * 1000) };
}

async function runMode(mode: string, settings: BenchSettings, log: (line: string) => void): Promise<ModeFigures> {
  const sizes = sizesFor(settings);
  // The default pool size, all threads spawned at boot so spawning is not what /ping measures.
  const server = await startServer({ POLL_MODE: mode, MIN_THREADS: '16', MAX_THREADS: '16' }, { fairShares: true });
  const stop = sharedAbort();
  const neighbours = sharedAbort();
  try {
    const client = await login(server, ADDRESS.client);
    const seedStarted = performance.now();
    await seedBacklog(server, client.session, sizes.backlog);
    log(`${mode}: ${sizes.backlog} × ${MESSAGE_BYTES} B on wall ${BACKLOG_WALL} in ${fmt((performance.now() - seedStarted) / 1000, 1)} s`);

    let phase: Phase = 'quiet';
    let recording = true;
    const sent = new Map<string, { at: number; phase: Phase }>();
    const delivered: Record<Phase, number[]> = { quiet: [], 'stalled readers': [], 'all neighbours': [] };
    const pings: Record<Phase, number[]> = { quiet: [], 'stalled readers': [], 'all neighbours': [] };
    const refused: Record<Phase, number> = { quiet: 0, 'stalled readers': 0, 'all neighbours': 0 };

    // The well-behaved client: a long poll in a loop on its wall...
    const receiver = (async () => {
      let cursor = client.latest.get(CLIENT_WALL)!;
      for (let i = 0; i < 100_000 && !stop.signal.aborted; i++) {
        const reply = await hit(server, 'POST', '/poll', {
          from: ADDRESS.client,
          session: client.session,
          body: { last_post_id: { [CLIENT_WALL]: cursor }, timeout_ms: 10_000 },
          timeoutMs: 30_000,
          signal: stop.signal,
        });
        if (reply.status !== 200) {
          await pause(50, stop.signal);
          continue;
        }
        const now = performance.now();
        for (const post of reply.json.walls?.[CLIENT_WALL]?.posts ?? []) {
          const mark = sent.get(post.content);
          if (mark) {
            sent.delete(post.content);
            delivered[mark.phase].push(now - mark.at);
          }
          cursor = Math.max(cursor, post.id);
        }
      }
    })();
    // ...a /ping prober...
    const prober = (async () => {
      for (let i = 0; i < 100_000 && !stop.signal.aborted; i++) {
        const started = performance.now();
        const { status } = await hit(server, 'GET', '/ping', { from: ADDRESS.client, timeoutMs: 5000 });
        const ms = performance.now() - started;
        if (recording) pings[phase].push(status === 200 ? ms : Math.max(ms, 5000));
        await pause(Math.max(0, PING_EVERY_MS - ms), stop.signal);
      }
    })();
    // ...and a post every 50 ms, timed from the start of the POST.
    const posting = sharedAbort();
    const poster = (async () => {
      for (let i = 0; i < 100_000 && !posting.signal.aborted; i++) {
        const started = performance.now();
        const content = `well-behaved ${i}`;
        const postedIn = phase;
        sent.set(content, { at: started, phase: postedIn });
        const { status } = await hit(server, 'POST', `/walls/${CLIENT_WALL}/messages`, {
          from: ADDRESS.client,
          session: client.session,
          body: { content },
          timeoutMs: 10_000,
        });
        if (status !== 201 && sent.delete(content)) refused[postedIn]++;
        await pause(Math.max(0, POST_EVERY_MS - (performance.now() - started)), posting.signal);
      }
    })();

    await pause(sizes.phaseMs);

    // Phase 2: readers that ask for the whole backlog and never read.
    phase = 'stalled readers';
    const rssBefore = (await hit(server, 'GET', '/stats', { from: ADDRESS.client, timeoutMs: 10_000 })).json?.memory?.rss ?? NaN;
    const readers = [];
    for (let i = 0; i < sizes.stalled; i++) {
      const reader = await login(server, ADDRESS.stalled(i));
      readers.push(stalledReader(server, reader.session, ADDRESS.stalled(i)));
    }
    const rssPeak: Record<Phase, number> = { quiet: rssBefore, 'stalled readers': rssBefore, 'all neighbours': rssBefore };
    const rssSampler = (async () => {
      for (let i = 0; i < 10_000 && !stop.signal.aborted; i++) {
        const rss = (await hit(server, 'GET', '/stats', { from: ADDRESS.client, timeoutMs: 10_000 })).json?.memory?.rss;
        if (typeof rss === 'number' && recording) rssPeak[phase] = Math.max(rssPeak[phase], rss);
        await pause(200, stop.signal);
      }
    })();
    await pause(sizes.phaseMs);

    // Phase 3: also a /hello flood and a greedy session holding dozens of polls.
    phase = 'all neighbours';
    const hello: Record<string, number> = {};
    const greedy: Record<string, number> = {};
    // Answers by status, and requests still waiting when the phase ended.
    const count = (tally: Record<string, number>, key: string, by = 1) => (tally[key] = (tally[key] ?? 0) + by);
    const flood = Array.from({ length: sizes.hello }, async () => {
      for (let i = 0; i < 1000 && !neighbours.signal.aborted; i++) {
        count(hello, 'waiting at the end');
        const { status } = await hit(server, 'GET', `/hello?ms=${HELLO_MS}`, {
          from: ADDRESS.flood,
          timeoutMs: HELLO_MS + 60_000,
          signal: neighbours.signal,
        });
        if (neighbours.signal.aborted) break;
        count(hello, 'waiting at the end', -1);
        count(hello, String(status || 'no answer'));
        if (status !== 200) await pause(100, neighbours.signal);
      }
    });
    const greedySession = await login(server, ADDRESS.greedy);
    const hog = Array.from({ length: sizes.greedy }, async () => {
      for (let i = 0; i < 1000 && !neighbours.signal.aborted; i++) {
        count(greedy, 'waiting at the end');
        const { status } = await hit(server, 'POST', '/poll', {
          from: ADDRESS.greedy,
          session: greedySession.session,
          body: { last_post_id: { [GREEDY_WALL]: greedySession.latest.get(GREEDY_WALL)! }, timeout_ms: 60_000 },
          timeoutMs: 70_000,
          signal: neighbours.signal,
        });
        if (neighbours.signal.aborted) break;
        count(greedy, 'waiting at the end', -1);
        count(greedy, String(status || 'no answer'));
        if (status !== 200) await pause(100, neighbours.signal);
      }
    });
    await pause(sizes.phaseMs);
    const streamsStillOpen = (await hit(server, 'GET', '/stats', { from: ADDRESS.client, timeoutMs: 10_000 })).json?.open_streams ?? NaN;

    // Wind down (not recorded): stop posting, let the last messages arrive, then stop everything.
    recording = false;
    posting.abort();
    await poster;
    neighbours.abort();
    await Promise.all([...flood, ...hog]);
    const deadline = Date.now() + 15_000;
    while (sent.size > 0 && Date.now() < deadline) await pause(50);
    const undelivered: Record<Phase, number> = { quiet: 0, 'stalled readers': 0, 'all neighbours': 0 };
    for (const mark of sent.values()) undelivered[mark.phase]++;
    stop.abort();
    for (const socket of readers) socket.destroy();
    await Promise.all([receiver, prober, rssSampler]);

    const figures: ModeFigures = {
      mode,
      delivery: Object.fromEntries(
        PHASES.map((p) => [p, { ...summarize(delivered[p]), undelivered: undelivered[p], refused: refused[p] }]),
      ) as ModeFigures['delivery'],
      ping: Object.fromEntries(PHASES.map((p) => [p, summarize(pings[p])])) as ModeFigures['ping'],
      stalled: sizes.stalled,
      rssBeforeMb: rssBefore / 2 ** 20,
      rssPeakStalledMb: rssPeak['stalled readers'] / 2 ** 20,
      rssPeakAllMb: Math.max(rssPeak['stalled readers'], rssPeak['all neighbours']) / 2 ** 20,
      rssPerStreamMb: (rssPeak['stalled readers'] - rssBefore) / 2 ** 20 / sizes.stalled,
      streamsStillOpen,
      hello,
      greedy,
    };
    for (const p of PHASES) {
      const d = figures.delivery[p];
      log(
        `${mode}, ${p}: delivery p50 ${fmt(d.p50)} ms, p99 ${fmt(d.p99)} ms (${d.count} delivered, ${d.undelivered} not); /ping p99 ${fmt(figures.ping[p].p99)} ms, max ${fmt(figures.ping[p].max)} ms`,
      );
    }
    log(
      `${mode}: RSS ${fmt(figures.rssBeforeMb, 0)} → ${fmt(figures.rssPeakStalledMb, 0)} MiB with ${sizes.stalled} stalled streams (${fmt(figures.rssPerStreamMb, 1)} MiB each), ${fmt(figures.rssPeakAllMb, 0)} MiB with every neighbour; /hello ${JSON.stringify(hello)}; greedy polls ${JSON.stringify(greedy)}`,
    );
    return figures;
  } finally {
    stop.abort();
    neighbours.abort();
    await server.stop();
  }
}

export const hostileNeighbours: Scenario = {
  id: 'hostile-neighbours',
  title: 'Hostile neighbours: a well-behaved client next to stalled readers, a /hello flood and a greedy session',
  notPerConfiguration: 'compares its own phases on one default server per POLL_MODE, with a backlog it seeds first',
  notFromOutside:
    'writes thousands of 2 KB messages, floods /hello and opens stalled streams: on your server that would hurt your users, and its RSS figures need a fresh process',
  async run(settings: BenchSettings, log): Promise<ScenarioResult> {
    const modes = ['pool', 'multiplex'];
    const rows: ModeFigures[] = [];
    for (const mode of modes) rows.push(await runMode(mode, settings, log));
    const scan = await wallScanOnPostgres(settings, log);
    if ('skipped' in scan) log(`skipping the wall scan on PostgreSQL: ${scan.skipped}`);
    const scanRows = 'figures' in scan ? scan.figures : [];
    const scanWorst = scanRows.length > 0 ? Math.max(...scanRows.map((r) => r.walls.p50)) : NaN;
    const sizes = sizesFor(settings);
    const noisy = (r: ModeFigures) => PHASES.filter((p) => p !== 'quiet').map((p) => r.ping[p].max);
    return {
      id: this.id,
      title: this.title,
      method: `Server: the default configuration with all 16 threads spawned at boot (MIN_THREADS=MAX_THREADS=16), in each POLL_MODE. First ${sizes.backlog} messages of ${MESSAGE_BYTES} B are posted to wall ${BACKLOG_WALL}. The well-behaved client long-polls wall ${CLIENT_WALL}, posts to it every ${POST_EVERY_MS} ms (delivery runs from the start of the POST to the moment its poll has the message) and sends GET /ping every ${PING_EVERY_MS} ms; it runs through three phases of ${sizes.phaseMs / 1000} s each on the same server: quiet; with ${sizes.stalled} SSE readers that open /check?walls=${BACKLOG_WALL}&last_event_id=0 and never read (raw sockets paused before the first byte); and with those plus ${sizes.hello} concurrent GET /hello?ms=${HELLO_MS} (re-sent as they end) and one session holding ${sizes.greedy} long polls on wall ${GREEDY_WALL}. Each actor sends its own X-Forwarded-For. RSS comes from /stats every 200 ms; the growth per stalled stream is the peak while only the stalled readers run (phase 2) minus the figure just before they opened, divided by their number; the peak with every neighbour is shown beside it. Messages not delivered within 15 s of the last post count as undelivered. One run per mode.`,
      tables: [
        ...(scanRows.length === 0
          ? []
          : [
              {
                title: `PostgreSQL (POLL_MODE=pool): a client's GET /walls every 20 ms beside anonymous loops of POST /poll naming walls 1–100 (cursor 0, timeout_ms 0), ${('phaseMs' in scan ? scan.phaseMs : 0) / 1000} s each (ms)`,
                columns: ['scanning loops', 'scans answered /s', '/walls p50', '/walls p99', '/walls max', '/walls failed'],
                rows: scanRows.map((r) => [
                  r.loops,
                  fmt(r.scansPerS, 0),
                  fmt(r.walls.p50),
                  fmt(r.walls.p99),
                  fmt(r.walls.max),
                  r.walls.failed,
                ]),
              },
            ]),
        {
          title: 'The well-behaved client, by phase (ms)',
          columns: [
            'mode',
            'phase',
            'delivered',
            'undelivered',
            'posts refused',
            'delivery p50',
            'delivery p99',
            'delivery max',
            '/ping p50',
            '/ping p99',
            '/ping max',
          ],
          rows: rows.flatMap((r) =>
            PHASES.map((p) => [
              r.mode,
              p,
              r.delivery[p].count,
              r.delivery[p].undelivered,
              r.delivery[p].refused,
              fmt(r.delivery[p].p50),
              fmt(r.delivery[p].p99),
              fmt(r.delivery[p].max),
              fmt(r.ping[p].p50),
              fmt(r.ping[p].p99),
              fmt(r.ping[p].max),
            ]),
          ),
        },
        {
          title: 'The neighbours',
          columns: [
            'mode',
            'stalled streams',
            'RSS before, MiB',
            'peak with stalled readers, MiB',
            'per stalled stream, MiB',
            'peak with every neighbour, MiB',
            'streams still open at the end',
            '/hello answers',
            'greedy poll answers',
          ],
          rows: rows.map((r) => [
            r.mode,
            r.stalled,
            fmt(r.rssBeforeMb, 0),
            fmt(r.rssPeakStalledMb, 0),
            fmt(r.rssPerStreamMb, 1),
            fmt(r.rssPeakAllMb, 0),
            r.streamsStillOpen,
            Object.entries(r.hello)
              .map(([s, n]) => `${s}: ${n}`)
              .join(', ') || 'none',
            Object.entries(r.greedy)
              .map(([s, n]) => `${s}: ${n}`)
              .join(', ') || 'none',
          ]),
        },
      ],
      targets: [
        {
          goal: 'PostgreSQL, anonymous polls naming walls 1–100 in a loop beside a client: its GET /walls p50 ≤ 100 ms',
          measured:
            'skipped' in scan
              ? `skipped: ${scan.skipped}`
              : scanRows.map((r) => `${r.loops} loops ${fmt(r.walls.p50)} ms (${r.walls.failed} failed)`).join('; '),
          met: scanRows.length > 0 && scanWorst <= 100 && scanRows.every((r) => r.walls.failed === 0),
          kind: 'absolute',
        },
        {
          goal: 'With every neighbour: delivery p99 ≤ 50 ms, every post accepted and delivered',
          measured: rows
            .map(
              (r) =>
                `${r.mode} ${fmt(r.delivery['all neighbours'].p99)} ms (quiet ${fmt(r.delivery.quiet.p99)} ms), ${r.delivery['all neighbours'].undelivered} undelivered, ${r.delivery['all neighbours'].refused} refused`,
            )
            .join('; '),
          met: rows.every(
            (r) =>
              r.delivery['all neighbours'].p99 <= 50 &&
              r.delivery['all neighbours'].undelivered === 0 &&
              r.delivery['all neighbours'].refused === 0,
          ),
          kind: 'absolute',
        },
        {
          goal: 'With neighbours: /ping max ≤ 100 ms',
          measured: rows.map((r) => `${r.mode} ${fmt(Math.max(...noisy(r)))} ms (quiet ${fmt(r.ping.quiet.max)} ms)`).join('; '),
          met: rows.every((r) => Math.max(...noisy(r)) <= 100),
          kind: 'absolute',
        },
        {
          goal: 'RSS growth ≤ 16 MB per stalled stream',
          measured: rows.map((r) => `${r.mode} ${fmt(r.rssPerStreamMb, 1)} MiB`).join('; '),
          met: rows.every((r) => r.rssPerStreamMb * 2 ** 20 <= 16e6),
          kind: 'absolute',
        },
      ],
      charts: [],
      data: rows,
    };
  },
};
