/**
 * Polls and streams pipelined on one keep-alive connection. Only the first has
 * the socket; Node queues the others' responses behind it. When the client
 * closes the connection, every one of them must see it leave — free its wait,
 * its place in `waiting_polls` and its fair share — not just the first.
 */
import { connect, type Socket } from 'node:net';
import { describe, expect, it } from 'vitest';
import { captureLog } from './helpers/log.js';
import { eventually, startTestServer, type TestServer } from './helpers/server.js';

function openSocket(server: TestServer): Promise<Socket> {
  const { port } = new URL(server.url);
  return new Promise((resolve, reject) => {
    const socket = connect(Number(port), '127.0.0.1', () => resolve(socket));
    socket.on('error', reject);
  });
}

describe.each<{ mode: string; env: Record<string, string> }>([
  { mode: 'pool', env: {} },
  { mode: 'multiplex', env: { POLL_MODE: 'multiplex' } },
])('pipelined waits ($mode)', ({ env }) => {
  it('all leave with their client when it closes the connection', async () => {
    // One session's default fair share is 4 waits per process: the four
    // pipelined below use all of it, so one left behind would refuse the next.
    const log = captureLog('info');
    const server = await startTestServer({ MAX_THREADS: '4', POLL_TIMEOUT_MS: '30000', SSE_MAX_MS: '30000', ...env }, log.logger);
    const session = await server.login();
    const { json } = await server.call('GET', '/walls', { session });
    const body = JSON.stringify({ last_post_id: { 1: json.walls[0].latest_message_id } });
    const poll = `POST /poll HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer ${session}\r\nContent-Type: application/json\r\nContent-Length: ${body.length}\r\n\r\n${body}`;
    const stream = `GET /check?session_id=${session} HTTP/1.1\r\nHost: x\r\nAccept: text/event-stream\r\n\r\n`;

    const socket = await openSocket(server);
    socket.on('error', () => undefined);
    socket.write(poll + poll + poll + stream);
    // The stream's batch wait counts among the waiting polls too.
    await eventually(() => server.pollster.stats().waiting_polls === 4 && server.pollster.stats().open_streams === 1);

    socket.destroy();
    await eventually(() => server.pollster.stats().waiting_polls === 0 && server.pollster.stats().open_streams === 0, 3000);
    expect(server.pollster.stats().pool).toMatchObject({ queued: 0 });
    // Each is logged once as a client that left (the stream had begun its
    // answer, so it shows 200); the three never handed the socket put no bytes on it.
    const departed = log.lines().filter((line) => line.msg === 'request' && line.route !== '/sessions' && line.route !== '/walls');
    expect(departed.map((line) => [line.route, line.status, line.client_left])).toEqual([
      ['/poll', 499, true],
      ['/poll', 499, true],
      ['/poll', 499, true],
      ['/check', 200, true],
    ]);
    expect(departed.slice(1).map((line) => line.bytes)).toEqual([0, 0, 0]);

    // Their fair share came back: the session can hold four waits again.
    const again = Array.from({ length: 4 }, () =>
      server.call('POST', '/poll', { session, body: { ...JSON.parse(body), timeout_ms: 1500 } }),
    );
    await eventually(() => server.pollster.stats().waiting_polls === 4);
    const answers = await Promise.all(again);
    expect(answers.map((reply) => [reply.status, reply.json])).toEqual(Array(4).fill([200, { walls: {} }]));
  });
});
