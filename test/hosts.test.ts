/**
 * deploy/nginx-hosts.conf with a real nginx in front of two Pollster
 * processes on one PostgreSQL. Long-poll and SSE clients talk only to nginx;
 * one host is killed with SIGKILL while messages flow. Every client must
 * reconnect through nginx with its cursor and end up with every stored
 * message exactly once, in order.
 */
import pg from 'pg';
import { Agent } from 'undici';
import { describe, expect, it, onTestFinished } from 'vitest';
import type { Message } from '../src/shared/types.js';
import { hostsConfig, startNginx } from './helpers/nginx.js';
import { freePort } from './helpers/pg-cluster.js';
import { usePostgres } from './helpers/postgres.js';
import { spawnServer, type ServerProcess } from './helpers/process.js';
import { call, eventually, tempDir } from './helpers/server.js';
import { openStream } from './helpers/sse.js';

const postgres = usePostgres();
const sleep = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms));

interface Client {
  kind: 'poll' | 'stream';
  received: Message[];
  reconnects: number;
  /** Statuses of answers that were not 200 (each was retried). */
  refused: number[];
  run: Promise<void>;
}

describe('two hosts behind nginx on one PostgreSQL', () => {
  it('a host killed with SIGKILL loses nothing: clients reconnect with their cursors and get every message once, in order', async () => {
    const url = await postgres.freshDatabase();
    const dir = tempDir();
    const hosts: ServerProcess[] = [];
    // All six clients share one session. After the kill all of them are on one
    // host, where the default share (4 waits per session) would answer a
    // reconnecting stream 429 for as long as the others hold theirs: that is
    // fair-share behaviour (test/fair-share.test.ts), not what this test checks.
    for (let i = 0; i < 2; i++) {
      hosts.push(await spawnServer({ DATABASE_URL: url, MAX_THREADS: '8', PG_POOL_SIZE: '4', MAX_WAITS_PER_SESSION: '0' }));
    }
    const port = await freePort();
    const front = `http://127.0.0.1:${port}`;
    const agent = new Agent({ connections: 64 });
    onTestFinished(() => agent.close());
    await startNginx(
      hostsConfig(
        dir,
        hosts.map((h) => new URL(h.url).host),
        port,
      ),
      dir,
      front,
      agent,
    );

    const login = (await call(agent, front, 'POST', '/sessions', { body: { user: 'demo' } })).json;
    const session: string = login.session_id;
    const start = Math.max(
      ...login.walls.filter((w: { id: number }) => w.id <= 2).map((w: { latest_message_id: number }) => w.latest_message_id),
    );

    let stopping = false;
    const deadline = Date.now() + 40_000;
    const running = (): boolean => !stopping && Date.now() < deadline;

    const pollClient = (): Client => {
      const client: Client = { kind: 'poll', received: [], reconnects: 0, refused: [], run: Promise.resolve() };
      // Each client on its own connections, so nginx spreads them over the hosts.
      const own = new Agent({ connections: 2 });
      const cursors: Record<string, number> = { 1: start, 2: start };
      client.run = (async () => {
        while (running()) {
          try {
            const reply = await call(own, front, 'POST', '/poll', {
              session,
              body: { last_post_id: cursors, timeout_ms: 3000 },
              timeoutMs: 10_000,
            });
            if (reply.status !== 200) {
              client.refused.push(reply.status);
              throw new Error(String(reply.status));
            }
            const posts = Object.values(reply.json.walls as Record<string, { posts: Message[] }>).flatMap((w) => w.posts);
            for (const post of posts) {
              client.received.push(post);
              cursors[post.wall_id] = Math.max(cursors[post.wall_id]!, post.id);
            }
          } catch {
            client.reconnects++;
            await sleep(50);
          }
        }
        await own.close();
      })();
      return client;
    };

    const streamClient = (): Client => {
      const client: Client = { kind: 'stream', received: [], reconnects: 0, refused: [], run: Promise.resolve() };
      const own = new Agent({ connections: 2 });
      let lastEventId = start;
      client.run = (async () => {
        while (running()) {
          try {
            const stream = await openStream(own, `${front}/check?walls=1,2`, {
              authorization: `Bearer ${session}`,
              'last-event-id': String(lastEventId),
            });
            // A refusal (429, 503) is retried like a cut connection, and shown if the test fails.
            if (stream.status !== 200) client.refused.push(stream.status);
            let next = 0;
            let ended = false;
            void stream.ended.then(() => (ended = true));
            while (running()) {
              for (; next < stream.events.length; next++) {
                const event = stream.events[next]!;
                if (event.event !== 'refresh') continue;
                client.received.push(...(JSON.parse(event.data!).messages as Message[]));
                lastEventId = Number(event.id);
              }
              if (ended) break;
              await sleep(20);
            }
            stream.close();
          } catch {
            // Connecting failed: try again.
          }
          client.reconnects++;
          await sleep(50);
        }
        await own.close();
      })();
      return client;
    };

    const clients = [pollClient(), pollClient(), pollClient(), streamClient(), streamClient(), streamClient()];
    // Before the kill, both hosts must be holding some of these clients.
    const direct = new Agent();
    onTestFinished(() => direct.close());
    await eventually(async () => {
      const held = await Promise.all(hosts.map(async (h) => (await call(direct, h.url, 'GET', '/stats')).json.waiting_polls));
      return held.every((n: number) => n > 0) && held.reduce((a: number, b: number) => a + b, 0) === clients.length;
    }, 10_000);

    const victim = hosts[0]!;
    const stored: number[] = [];
    for (let i = 0; i < 40; i++) {
      if (i === 15) {
        victim.child.kill('SIGKILL');
        await victim.exited;
      }
      // A post is retried until it is answered; one that was stored before its
      // host died and is then retried shows up twice, with two ids: both count.
      for (;;) {
        const reply = await call(agent, front, 'POST', `/walls/${1 + (i % 2)}/messages`, { session, body: { content: `m${i}` } }).catch(
          () => null,
        );
        if (reply?.status === 201) {
          stored.push(reply.json.id);
          break;
        }
        await sleep(50);
      }
      await sleep(10);
    }

    const db = new pg.Client({ connectionString: url });
    await db.connect();
    onTestFinished(() => db.end());
    const { rows } = await db.query('SELECT id, wall_id FROM messages WHERE id > $1 AND wall_id IN (1, 2) ORDER BY id', [start]);
    const all = rows.map((row) => ({ id: Number(row.id), wall_id: Number(row.wall_id) }));
    expect(all.length).toBeGreaterThanOrEqual(40);
    for (const id of stored) expect(all.map((m) => m.id)).toContain(id);

    await eventually(() => clients.every((client) => client.received.length >= all.length), 20_000).catch(() => {});
    stopping = true;
    await Promise.all(clients.map((client) => client.run));

    for (const client of clients) {
      const ids = client.received.map((m) => m.id);
      if (client.kind === 'stream') {
        expect(ids, `stream: every message once, in id order (answers refused: ${client.refused.join(', ') || 'none'})`).toEqual(
          all.map((m) => m.id),
        );
      } else {
        // A poll answer groups by wall; per wall the order is the id order.
        for (const wall of [1, 2]) {
          expect(
            client.received.filter((m) => m.wall_id === wall).map((m) => m.id),
            `poll, wall ${wall}: every message once, in order (answers refused: ${client.refused.join(', ') || 'none'})`,
          ).toEqual(all.filter((m) => m.wall_id === wall).map((m) => m.id));
        }
      }
    }
    // The kill cut some clients off, and they came back through nginx.
    expect(clients.some((client) => client.reconnects > 0)).toBe(true);
    expect((await call(agent, front, 'GET', '/ping')).json).toEqual({ ack: 'huzzah!' });
  }, 90_000);
});
