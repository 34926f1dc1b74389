/**
 * Replays respect the reader. A stream sends its next
 * batch only once the last one flushed, a client that stops reading costs
 * about one batch and is ended after SSE_STALL_MS, a reading client still
 * gets every message once and in order, and poll answers are bounded in bytes.
 */
import { connect, type Socket } from 'node:net';
import { describe, expect, it, onTestFinished } from 'vitest';
import { BATCH_BYTES } from '../src/poll/message-waiter.js';
import { eventually, startTestServer, type TestServer } from './helpers/server.js';
import { openStream } from './helpers/sse.js';

/** `count` messages of `content` on wall 1, written straight to SQLite, then one by HTTP so the board knows. */
async function fillWall(server: TestServer, session: string, count: number, content: string): Promise<number> {
  const demo = (await server.pollster.store.userByName('demo'))!;
  for (let i = 0; i < count; i++) await server.pollster.store.postMessage(1, demo, content);
  const last = await server.call('POST', '/walls/1/messages', { session, body: { content } });
  return last.json.id;
}

/** A client that sends its request and then never reads. Returns the server's end of the connection. */
async function stalledReader(server: TestServer, path: string): Promise<{ client: Socket; serverSide: Socket }> {
  const accepted = new Promise<Socket>((resolve) => server.pollster.server.once('connection', resolve));
  const { port } = new URL(server.url);
  const client = connect(Number(port), '127.0.0.1');
  onTestFinished(() => void client.destroy());
  await new Promise((resolve) => client.once('connect', resolve));
  client.write(`GET ${path} HTTP/1.1\r\nHost: pollster\r\n\r\n`);
  client.pause();
  return { client, serverSide: await accepted };
}

describe.each([
  { name: 'pool', env: { POLL_MODE: 'pool' } },
  { name: 'multiplex', env: { POLL_MODE: 'multiplex' } },
  // A catch-up is read by the main thread's quick look in every mode, and waiting for 'drain' blocks nothing.
  { name: 'inline', env: { POLL_MODE: 'inline' } },
])('a client that stops reading ($name)', ({ env }) => {
  it('costs about one batch of memory, leaves /ping responsive, and is ended after SSE_STALL_MS', async () => {
    const server = await startTestServer({ ...env, SSE_STALL_MS: '1500', SSE_MAX_MS: '60000' });
    const session = await server.login();
    // 4000 × 2 KB: far more than the kernel's socket buffers hold.
    await fillWall(server, session, 4000, 'x'.repeat(2000));
    const { serverSide } = await stalledReader(server, `/check?session_id=${session}&walls=1&last_event_id=0`);

    let most = 0;
    const sampler = setInterval(() => (most = Math.max(most, serverSide.writableLength)), 5);
    onTestFinished(() => clearInterval(sampler));
    await eventually(() => server.pollster.stats().open_streams === 1);
    for (let i = 0; i < 5; i++) {
      expect((await server.call('GET', '/ping', { timeoutMs: 1000 })).status).toBe(200);
      await new Promise((resolve) => setTimeout(resolve, 100));
    }
    await eventually(() => serverSide.destroyed, 5000);
    clearInterval(sampler);
    // One batch (≤ BATCH_BYTES plus one message and its framing) at most waits in memory.
    expect(most).toBeGreaterThan(0);
    expect(most).toBeLessThan(BATCH_BYTES + 64 * 1024);
    const stats = server.pollster.stats();
    expect(stats.sse_stalled).toBe(1);
    expect(stats.open_streams).toBe(0);
  });
});

describe('a client that reads', () => {
  it('gets every message of a big catch-up once, in order', async () => {
    const server = await startTestServer({ SSE_STALL_MS: '1500', SSE_MAX_MS: '60000' });
    const session = await server.login();
    const newest = await fillWall(server, session, 3000, 'y'.repeat(2000));
    const expected = (await server.pollster.store.messagesAfter(1, 0, 100_000)).map((m) => m.id);
    const stream = await openStream(server.agent, `${server.url}/check?session_id=${session}&walls=1&last_event_id=0`);
    onTestFinished(() => stream.close());
    await stream.next((event) => event.id === String(newest), 0, 30_000);
    const received = stream.events
      .filter((e) => e.event === 'refresh')
      .flatMap((e) => JSON.parse(e.data!).messages.map((m: { id: number }) => m.id));
    expect(received).toEqual(expected);
    expect(server.pollster.stats().sse_stalled).toBe(0);
  });
});

describe('poll answers are bounded in bytes', () => {
  it.each([
    { name: 'pool', env: { POLL_MODE: 'pool' } },
    { name: 'inline', env: { POLL_MODE: 'inline' } },
  ])('cuts a batch of big messages near BATCH_BYTES; the client continues from its last id ($name)', async ({ env }) => {
    const server = await startTestServer(env);
    const session = await server.login();
    const start = (await server.pollster.store.messagesAfter(1, 0, 100_000)).at(-1)!.id;
    // 2000 three-byte characters: 6 KB each, so 100 of them would be 600 KB.
    await fillWall(server, session, 150, '€'.repeat(2000));
    const expected = (await server.pollster.store.messagesAfter(1, start, 100_000)).map((m) => m.id);
    const received: number[] = [];
    let after = start;
    while (received.length < expected.length) {
      const reply = await server.call('POST', '/poll', { session, body: { last_post_id: { 1: after }, timeout_ms: 0 } });
      expect(Buffer.byteLength(reply.text)).toBeLessThanOrEqual(BATCH_BYTES + 8 * 1024);
      const posts: Array<{ id: number }> = reply.json.walls['1'].posts;
      expect(posts.length).toBeGreaterThan(0);
      expect(posts.length).toBeLessThan(100);
      received.push(...posts.map((p) => p.id));
      after = posts.at(-1)!.id;
    }
    expect(received).toEqual(expected);
  });
});
