/**
 * Scenario 6: the same message stream delivered to C clients by short
 * polling every second, by long polling, and by SSE: what each costs in
 * requests and what it gives in latency.
 */
import { performance } from 'node:perf_hooks';
import { login, postMessage, send, sharedAbort, until } from '../lib/client.js';
import { openEvents } from '../lib/events.js';
import { fmt, type BenchSettings, type Scenario, type ScenarioResult } from '../lib/scenario.js';
import { startServer, type BenchServer } from '../lib/server.js';
import { summarize } from '../lib/stats.js';

type Style = 'short poll (1 s)' | 'long poll' | 'SSE';
const WALL = 3;
const POST_EVERY_MS = 200;

async function client(
  server: BenchServer,
  session: string,
  after: number,
  style: Style,
  stop: AbortSignal,
  onPosts: (posts: Array<{ content: string }>) => void,
): Promise<number> {
  let requests = 0;
  if (style === 'SSE') {
    requests++;
    const stream = await openEvents(server.agent, server.url, `/check?walls=${WALL}&last_event_id=${after}`, session, onPosts);
    await new Promise((resolve) => stop.addEventListener('abort', resolve, { once: true }));
    stream.close();
    await stream.done;
    return requests;
  }
  let cursor = after;
  while (!stop.aborted) {
    requests++;
    const reply = await send(server.agent, server.url, 'POST', '/poll', {
      session,
      body: { last_post_id: { [WALL]: cursor }, timeout_ms: style === 'long poll' ? 30_000 : 0 },
      timeoutMs: 40_000,
      signal: stop,
    }).catch(() => null);
    const posts = reply?.json?.walls?.[WALL]?.posts ?? [];
    if (posts.length) {
      onPosts(posts);
      cursor = posts[posts.length - 1].id;
    }
    if (style === 'short poll (1 s)') await new Promise((resolve) => setTimeout(resolve, 1000));
  }
  return requests;
}

export const shortVsLong: Scenario = {
  id: 'short-vs-long',
  title: 'Short polling vs long polling vs SSE',
  notPerConfiguration: 'sizes the pool to its clients (one thread each) so that only the polling style differs',
  notFromOutside: 'sizes the pool to its clients (one thread each) on a fresh server so that only the polling style differs',
  async run(settings: BenchSettings, log): Promise<ScenarioResult> {
    const clients = settings.quick ? 5 : 20;
    const messages = settings.quick ? 10 : 25;
    const rows: Array<{ style: Style; requests: number; deliveries: number; perDelivery: number; p50: number; p99: number }> = [];
    for (const style of ['short poll (1 s)', 'long poll', 'SSE'] as const) {
      const server = await startServer({ MAX_THREADS: String(clients), MIN_THREADS: String(clients) });
      try {
        const { session, latest } = await login(server.agent, server.url);
        const sentAt = new Map<string, number>();
        const latencies: number[] = [];
        const stop = sharedAbort();
        const running = Array.from({ length: clients }, () =>
          client(server, session, latest.get(WALL)!, style, stop.signal, (posts) => {
            const now = performance.now();
            for (const post of posts) {
              const sent = sentAt.get(post.content);
              if (sent !== undefined) latencies.push(now - sent);
            }
          }),
        );
        if (style !== 'short poll (1 s)') await until(server.stats, (s) => s.waiting_polls === clients);
        for (let i = 0; i < messages; i++) {
          sentAt.set(`s${i}`, performance.now());
          await postMessage(server.agent, server.url, session, WALL, `s${i}`);
          await new Promise((resolve) => setTimeout(resolve, POST_EVERY_MS));
        }
        // Give the slowest style (1 s short polls) time to pick up the last message.
        await new Promise((resolve) => setTimeout(resolve, 1200));
        stop.abort();
        const requests = (await Promise.all(running)).reduce((a, b) => a + b, 0);
        const summary = summarize(latencies);
        rows.push({
          style,
          requests,
          deliveries: latencies.length,
          perDelivery: requests / Math.max(1, latencies.length),
          p50: summary.p50,
          p99: summary.p99,
        });
        log(`${style}: ${requests} requests for ${latencies.length}/${clients * messages} deliveries, p50 ${summary.p50} ms`);
      } finally {
        await server.stop();
      }
    }
    return {
      id: this.id,
      title: this.title,
      method: `${clients} clients follow wall ${WALL} while one message is posted every ${POST_EVERY_MS} ms (${messages} messages). Short polling asks every second with timeout_ms 0; long polling re-polls as soon as it is answered; SSE holds one stream per client. Requests count every HTTP request the clients made (a stream counts once).`,
      tables: [
        {
          title: 'Requests per delivered message, and delivery latency',
          columns: ['style', 'requests', 'deliveries', 'requests per delivery', 'p50 ms', 'p99 ms'],
          rows: rows.map((r) => [r.style, r.requests, `${r.deliveries}/${clients * messages}`, fmt(r.perDelivery), fmt(r.p50), fmt(r.p99)]),
        },
      ],
      targets: [],
      charts: [],
      data: rows,
    };
  },
};
