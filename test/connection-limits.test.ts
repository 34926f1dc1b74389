/**
 * What one connection may ask of the server: `Connection: close` is honoured
 * on every route (RFC 9112 §9.6: the server closes after the response), and a
 * connection that pipelines without reading is cut before it can queue
 * unbounded answers or keep other clients waiting.
 */
import { connect } from 'node:net';
import { performance } from 'node:perf_hooks';
import { describe, expect, it } from 'vitest';
import { MAX_PIPELINED } from '../src/http/connection-guard.js';
import { captureLog } from './helpers/log.js';
import { startTestServer, type TestServer } from './helpers/server.js';

interface Exchange {
  /** The response head, lower-cased. */
  head: string;
  /** The server closed the connection within the wait. */
  closed: boolean;
}

/** Write `request` and read until the server closes the connection or `ms` pass. */
function exchange(server: TestServer, request: string, ms: number): Promise<Exchange> {
  const { port } = new URL(server.url);
  return new Promise((resolve) => {
    const chunks: Buffer[] = [];
    const socket = connect(Number(port), '127.0.0.1', () => socket.write(request));
    const done = (closed: boolean): void => {
      clearTimeout(timer);
      socket.destroy();
      const text = Buffer.concat(chunks).toString('latin1');
      resolve({ head: text.slice(0, text.indexOf('\r\n\r\n')).toLowerCase(), closed });
    };
    const timer = setTimeout(() => done(false), ms);
    socket.on('data', (chunk) => chunks.push(chunk));
    socket.on('close', () => done(true));
    socket.on('error', () => undefined);
  });
}

describe('Connection: close', () => {
  it('is answered with Connection: close and a closed connection on every kind of route', async () => {
    const server = await startTestServer({ SSE_MAX_MS: '1000', SSE_HEARTBEAT_MS: '200' });
    const session = await server.login();
    const poll = JSON.stringify({ last_post_id: { 1: 0 }, timeout_ms: 0 });
    const requests = [
      'GET /ping',
      'GET /walls',
      'HEAD /check',
      `GET /check?session_id=${session}`,
      'HEAD /hello',
      'POST /bienvendidos',
      'OPTIONS /poll',
      'GET /',
      'GET /no-such-route',
    ].map((line) => `${line} HTTP/1.1\r\nHost: x\r\nConnection: close\r\nContent-Length: 0\r\n\r\n`);
    requests.push(
      `POST /poll HTTP/1.1\r\nHost: x\r\nConnection: close\r\nContent-Type: application/json\r\nContent-Length: ${poll.length}\r\n\r\n${poll}`,
    );
    for (const request of requests) {
      // The stream ends at SSE_MAX_MS; everything else at once.
      const answer = await exchange(server, request, 3000);
      const line = request.slice(0, request.indexOf(' HTTP'));
      expect({ line, connection: /^connection: (.*)$/m.exec(answer.head)?.[1], closed: answer.closed }).toEqual({
        line,
        connection: 'close',
        closed: true,
      });
    }
  });
});

describe('a connection that pipelines and never reads', () => {
  it('is cut before it queues more than a bounded number of answers; other clients stay fast', async () => {
    const log = captureLog('info');
    const server = await startTestServer({ ACCESS_LOG: 'on' }, log.logger);
    const { port } = new URL(server.url);
    const rssBefore = process.memoryUsage().rss;
    const ping = Buffer.from('GET /ping HTTP/1.1\r\nHost: x\r\n\r\n'.repeat(20_000));
    const flooders = Array.from({ length: 50 }, () => {
      const socket = connect(Number(port), '127.0.0.1', () => socket.write(ping));
      socket.on('error', () => undefined);
      // Never read: the answers pile up on the server's side.
      socket.pause();
      return socket;
    });
    const waits: number[] = [];
    try {
      for (let i = 0; i < 20; i++) {
        const started = performance.now();
        const reply = await server.call('GET', '/ping');
        waits.push(performance.now() - started);
        expect(reply.status).toBe(200);
        await new Promise((resolve) => setTimeout(resolve, 25));
      }
    } finally {
      for (const socket of flooders) socket.destroy();
    }
    waits.sort((a, b) => a - b);
    expect(waits[Math.floor(waits.length / 2)]).toBeLessThanOrEqual(100);
    // Each flooding connection got at most MAX_PIPELINED requests answered before it was cut.
    const pings = log.lines().filter((line) => line.msg === 'request' && line.route === '/ping').length;
    expect(pings).toBeLessThanOrEqual(50 * (MAX_PIPELINED + 1) + 20);
    // A loose bound: this process also holds the flooding clients' buffers, and
    // Node 24 keeps about 210 MiB of it where Node 20 keeps under 200. Uncut,
    // the flood queued 466,610 answers and grew the server alone by 550 MiB.
    expect(process.memoryUsage().rss - rssBefore).toBeLessThan(400 * 1024 * 1024);
  });
});
