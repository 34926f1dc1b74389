/**
 * The access log: one line per finished request with the route pattern,
 * status, duration and bytes (and, for polls and streams, how long they
 * waited) — and no session id or bearer token in any log line, however the
 * client sent it: query string, JSON body, form body or Authorization header,
 * on every route, including aborted bodies, departed clients, malformed
 * requests and unexpected errors.
 */
import { connect } from 'node:net';
import { join } from 'node:path';
import { Agent, request } from 'undici';
import { describe, expect, it, onTestFinished } from 'vitest';
import { spawnServer } from './helpers/process.js';
import { eventually, startTestServer, tempDir, type CallOptions, type TestServer } from './helpers/server.js';
import { captureLog } from './helpers/log.js';
import { rawText } from './helpers/raw-http.js';
import { openStream } from './helpers/sse.js';

/** Send `head` and `body` on a raw socket, then cut the connection: a body that never finishes. */
function abortedBody(server: TestServer, head: string, body: string): Promise<void> {
  const { port } = new URL(server.url);
  return new Promise((resolve) => {
    const socket = connect(Number(port), '127.0.0.1', () => {
      socket.write(head + body);
      setTimeout(() => socket.destroy(), 100);
    });
    socket.on('close', () => resolve());
    socket.on('error', () => undefined);
  });
}

const rawRequest = (server: TestServer, data: string): Promise<string> => rawText(server.url, data);

type Transport = 'query' | 'json' | 'form' | 'bearer';

/** The request options that carry `session` the way `transport` says, with `fields` beside it. */
function carry(transport: Transport, session: string, fields: Record<string, unknown> = {}): { query: string; options: CallOptions } {
  switch (transport) {
    case 'query':
      return { query: `session_id=${session}`, options: Object.keys(fields).length ? { body: fields } : {} };
    case 'json':
      return { query: '', options: { body: { ...fields, session_id: session } } };
    case 'form': {
      const form = new URLSearchParams({ session_id: session });
      // Rack-style nested keys, as jQuery sends them: last_post_id[1]=56.
      for (const [key, value] of Object.entries(fields)) {
        if (typeof value === 'object' && value !== null) {
          for (const [inner, innerValue] of Object.entries(value)) form.set(`${key}[${inner}]`, String(innerValue));
        } else {
          form.set(key, String(value));
        }
      }
      return {
        query: '',
        options: { rawBody: form.toString(), headers: { 'content-type': 'application/x-www-form-urlencoded' } },
      };
    }
    case 'bearer':
      return {
        query: '',
        options: { headers: { authorization: `Bearer ${session}` }, ...(Object.keys(fields).length ? { body: fields } : {}) },
      };
  }
}

const withQuery = (path: string, query: string): string => (query ? `${path}${path.includes('?') ? '&' : '?'}${query}` : path);

describe('access log', () => {
  it('never logs a session id or bearer token, on any route, however it was sent', async () => {
    const log = captureLog();
    const server = await startTestServer({ LOG_LEVEL: 'trace', POLL_TIMEOUT_MS: '2000' }, log.logger);
    const sessions: string[] = [];

    for (const transport of ['query', 'json', 'form', 'bearer'] as const) {
      const session = await server.login();
      sessions.push(session);
      const send = (method: string, path: string, fields?: Record<string, unknown>) => {
        const { query, options } = carry(transport, session, fields);
        return server.call(method, withQuery(path, query), options);
      };
      await send('GET', '/ping');
      await send('POST', '/sessions', { user: 'demo' });
      await send('POST', '/sessions', { user: 'nobody' });
      await send('GET', '/walls');
      await send('GET', '/walls/1/messages');
      await send('GET', '/walls/999/messages');
      await send('POST', '/walls/1/messages', { content: `via ${transport}` });
      await send('POST', '/poll', { last_post_id: { 1: 0 }, timeout_ms: 0 });
      await send('POST', '/poll', { last_post_id: { 1: 1e9 }, timeout_ms: 50 });
      await send('GET', '/hello?ms=1');
      await send('POST', '/bienvendidos');
      await send('GET', '/stats');
      await send('GET', '/metrics');
      await send('GET', '/');
      await send('GET', '/no/such/route');
      await send('PUT', '/ping');
      await send('OPTIONS', '/walls');
      // A stream, ended by the client.
      const { query, options } = carry(transport, session);
      const stream = await openStream(server.agent, `${server.url}${withQuery('/check', query)}`, options.headers ?? {});
      // JSON and form bodies cannot carry a session on GET /check: 401.
      if (stream.status === 200) await stream.next((event) => event.retry !== undefined);
      stream.close();
      await eventually(() => server.pollster.stats().open_streams === 0);
      // A held poll whose client leaves.
      const leaving = new AbortController();
      const held = send('POST', '/poll', { last_post_id: { 1: 1e9 }, timeout_ms: 5000 });
      void held.catch(() => undefined);
      const poll = server.call('POST', withQuery('/poll', query), {
        ...carry(transport, session, { last_post_id: { 1: 1e9 } }).options,
        signal: leaving.signal,
      });
      await eventually(() => server.pollster.stats().waiting_polls === 2);
      leaving.abort();
      await poll.catch(() => undefined);
      await held;
      await send('DELETE', '/sessions');
    }

    // Bodies that never finish, with the id in the query, the body and a header.
    const id = sessions[0]!;
    await abortedBody(
      server,
      `POST /walls/1/messages?session_id=${id} HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: 200\r\n\r\n`,
      `{"session_id":"${id}",`,
    );
    await abortedBody(
      server,
      `POST /poll HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer ${id}\r\nContent-Length: 200\r\n\r\n`,
      `session_id=${id}&`,
    );
    // A request target that does not parse.
    const malformed = await rawRequest(server, `GET http://[?session_id=${id} HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n`);
    expect(malformed).toMatch(/^HTTP\/1\.1 400/);
    // An unexpected error, logged with its stack.
    const live = await server.login();
    sessions.push(live);
    server.pollster.store.wallsOf = () => {
      throw new Error('disk on fire');
    };
    expect((await server.call('GET', `/walls?session_id=${live}`)).status).toBe(500);
    expect((await server.call('GET', '/walls', { session: live })).status).toBe(500);
    await eventually(() => log.text().includes('client went away') && log.text().includes('disk on fire'));

    const text = log.text();
    for (const session of sessions) expect(text).not.toContain(session);
    // The failure itself is there, found by its route, with its stack.
    const failure = log.lines().find((line) => line.msg === 'request failed')!;
    expect(failure).toMatchObject({ level: 50, method: 'GET', route: '/walls' });
    expect(JSON.stringify(failure.err)).toContain('disk on fire');
    // Departed clients are debug lines without a URL.
    const departed = log.lines().filter((line) => line.msg === 'client went away');
    expect(departed.length).toBeGreaterThanOrEqual(2);
    for (const line of departed) {
      expect(line.level).toBe(20);
      expect(line).not.toHaveProperty('url');
    }
  }, 60_000);

  it('writes one line per finished request: method, route pattern, status, duration, bytes, and the wait of polls and streams', async () => {
    const log = captureLog();
    const server = await startTestServer({}, log.logger);
    const session = await server.login();
    const requests = () => log.lines().filter((line) => line.msg === 'request');

    const page = await server.call('GET', '/walls/2/messages?limit=1', { session });
    await eventually(() => requests().length === 2);
    expect(requests()[1]).toMatchObject({ level: 30, method: 'GET', route: '/walls/:id/messages', status: 200 });
    expect(requests()[1]!.bytes).toBeGreaterThan(page.text.length);
    expect(requests()[1]!.ms).toBeGreaterThanOrEqual(0);
    expect(requests()[1]).not.toHaveProperty('waited_ms');

    await server.call('POST', '/poll', { session, body: { last_post_id: { 1: 1e9 }, timeout_ms: 300 } });
    await eventually(() => requests().length === 3);
    const poll = requests()[2]!;
    expect(poll).toMatchObject({ method: 'POST', route: '/poll', status: 200 });
    expect(poll.waited_ms).toBeGreaterThanOrEqual(250);
    expect(poll.ms).toBeGreaterThanOrEqual(poll.waited_ms as number);

    const stream = await openStream(server.agent, `${server.url}/check?session_id=${session}`);
    await stream.next((event) => event.retry !== undefined);
    await new Promise((resolve) => setTimeout(resolve, 200));
    stream.close();
    await eventually(() => requests().length === 4);
    const streamLine = requests()[3]!;
    expect(streamLine).toMatchObject({ method: 'GET', route: '/check', status: 200, client_left: true });
    expect(streamLine.waited_ms).toBeGreaterThanOrEqual(150);

    await server.call('GET', '/walls/1/nope');
    await eventually(() => requests().length === 5);
    expect(requests()[4]).toMatchObject({ route: 'unmatched', status: 404 });

    // Pipelined on one connection: each counts its own bytes, not those of the answers queued ahead of it.
    const ping = 'GET /ping HTTP/1.1\r\nHost: x\r\n\r\n';
    const answers = await rawText(server.url, `${ping}${ping}${ping}GET /ping HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n`);
    const first = answers.slice(0, answers.indexOf('HTTP/1.1', 1));
    await eventually(() => requests().length === 9);
    expect(
      requests()
        .slice(5, 8)
        .map((line) => line.bytes),
    ).toEqual(Array(3).fill(Buffer.byteLength(first)));
  });

  it('ACCESS_LOG=off leaves the other lines', async () => {
    const log = captureLog();
    const server = await startTestServer({ ACCESS_LOG: 'off' }, log.logger);
    await server.call('GET', '/ping');
    // The line would be written when the response closes, just after the client has it.
    await new Promise((resolve) => setTimeout(resolve, 100));
    expect(log.lines().some((line) => line.msg === 'pollster listening')).toBe(true);
    expect(log.lines().filter((line) => line.msg === 'request')).toEqual([]);
  });
});

describe('access log on standard output', () => {
  const accessLines = (output: string): Array<Record<string, unknown>> =>
    output
      .split('\n')
      .filter((line) => line.startsWith('{'))
      .map((line) => JSON.parse(line) as Record<string, unknown>)
      .filter((line) => line.msg === 'request');

  it('is written in batches: within a second while running, and every line by exit', async () => {
    const server = await spawnServer({ DB_PATH: join(tempDir(), 'pollster.db') });
    const agent = new Agent();
    onTestFinished(() => agent.close());
    const ping = async (): Promise<void> => {
      const response = await request(`${server.url}/ping`, { dispatcher: agent });
      await response.body.text();
    };
    // Ten requests 30 ms apart: one write each would reach the pipe as about
    // ten chunks; batched, they come as one (two if the once-a-second flush
    // falls among them).
    let chunksWithLines = 0;
    server.child.stdout!.on('data', (chunk: Buffer) => {
      if (chunk.includes('"msg":"request"')) chunksWithLines++;
    });
    for (let i = 0; i < 10; i++) {
      await ping();
      await new Promise((resolve) => setTimeout(resolve, 30));
    }
    // No line waits longer than the flush interval, 1 s.
    await eventually(() => accessLines(server.output()).length === 10, 2500);
    expect(chunksWithLines).toBeLessThanOrEqual(2);
    // A line written just before a shutdown is not lost.
    for (let i = 0; i < 2; i++) await ping();
    server.child.kill('SIGTERM');
    expect(await server.exited).toBe(0);
    expect(accessLines(server.output()).map((line) => [line.route, line.status])).toEqual(Array(12).fill(['/ping', 200]));
  });
});
