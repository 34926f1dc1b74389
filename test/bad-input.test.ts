/**
 * A table of malformed and hostile requests. Each gets a clear 4xx or a
 * closed connection; the server stays up and no pool thread stays busy.
 */
import { connect } from 'node:net';
import { describe, expect, it } from 'vitest';
import { rawText } from './helpers/raw-http.js';
import { eventually, startTestServer, type TestServer } from './helpers/server.js';

const raw = (server: TestServer, data: string, ms?: number): Promise<string> => rawText(server.url, data, ms);

const status = (answer: string): number => Number(/^HTTP\/1\.1 (\d{3})/.exec(answer)?.[1] ?? 0);

describe('bad input', () => {
  it('gets a clear 4xx, and leaves the server up with no thread busy', async () => {
    const server = await startTestServer({ REQUEST_TIMEOUT_MS: '600', HEADERS_TIMEOUT_MS: '300', POLL_TIMEOUT_MS: '300' });
    const session = await server.login();
    const json = (body: unknown) => ({ session, body });
    // Hostile form bodies: bounded parsing, 400 or 413, never a slow server.
    const form = (rawBody: string) => ({ rawBody, headers: { 'content-type': 'application/x-www-form-urlencoded' } });
    const sid = `session_id=${session}`;
    const cases: Array<{ name: string; send: () => Promise<{ status: number; error?: string }> }> = [
      ...(
        [
          ['broken JSON', 'POST', '/poll', { session, rawBody: '{"last_post_id": {1: 2}' }, 400, 'Malformed JSON'],
          ['last_post_id as a string', 'POST', '/poll', json({ last_post_id: '1:2' }), 400, 'Invalid parameters!'],
          ['last_post_id 1e20', 'POST', '/poll', json({ last_post_id: { 1: 1e20 } }), 400, 'Invalid parameters!'],
          ['last_post_id negative', 'POST', '/poll', json({ last_post_id: { 1: -4 } }), 400, 'Invalid parameters!'],
          ['last_post_id fractional', 'POST', '/poll', json({ last_post_id: { 1: 1.5 } }), 400, 'Invalid parameters!'],
          ['only unknown walls', 'POST', '/poll', json({ last_post_id: { 424242: 0 } }), 400, 'Invalid parameters!'],
          ['a wall id of 20 digits', 'POST', '/poll', json({ last_post_id: { '99999999999999999999': 0 } }), 400, 'Invalid parameters!'],
          ['a JSON array body', 'POST', '/poll', json([1, 2, 3]), 400, 'Invalid parameters!'],
          ['a JSON string body', 'POST', '/sessions', { rawBody: '"demo"' }, 400, 'Invalid user!'],
          ['user as an object', 'POST', '/sessions', { body: { user: { name: 'demo' } } }, 400, 'Invalid user!'],
          ['content as an array', 'POST', '/walls/1/messages', json({ content: ['hi'] }), 400, 'content must be a string'],
          ['negative wall id', 'GET', '/walls/-1/messages', { session }, 400, 'Wall id must be a positive integer'],
          ['huge wall id', 'GET', '/walls/123456789012345678901234/messages', { session }, 400, 'Wall id must be a positive integer'],
          ['non-numeric after', 'GET', '/walls/1/messages?after=yesterday', { session }, 400, 'after must be a non-negative integer'],
          ['unknown wall', 'GET', '/walls/31337/messages', { session }, 404, 'Wall not found'],
          ['1 MiB body', 'POST', '/poll', { session, rawBody: 'x'.repeat(1024 * 1024) }, 413, 'Body too large'],
          [
            '1 MiB message',
            'POST',
            '/walls/1/messages',
            { session, rawBody: JSON.stringify({ content: 'y'.repeat(1024 * 1024) }) },
            413,
            'Body too large',
          ],
          ['form: 6,000 keys', 'POST', '/', form(Array.from({ length: 6000 }, (_, i) => `k${i}=1`).join('&')), 400, 'Malformed form body'],
          [
            'form: 3,000 walls',
            'POST',
            '/',
            form(`${sid}&${Array.from({ length: 3000 }, (_, i) => `last_post_id[${i + 1}]=0`).join('&')}`),
            400,
            'Malformed form body',
          ],
          [
            'form: 150 walls',
            'POST',
            '/',
            form(`${sid}&${Array.from({ length: 150 }, (_, i) => `last_post_id[${i + 1}]=0`).join('&')}`),
            400,
            'Invalid parameters!',
          ],
          ['form: nesting 5,000 deep', 'POST', '/', form(`${sid}&a${'[b]'.repeat(5000)}=1`), 400, 'Malformed form body'],
          ['form: nesting 3 deep', 'POST', '/', form(`${sid}&last_post_id[1][2][3]=1`), 400, 'Malformed form body'],
          ['form: a 60,000-digit id', 'POST', '/', form(`${sid}&last_post_id[1]=${'9'.repeat(60_000)}`), 400, 'Invalid parameters!'],
          ['form: a 60,000-digit wall key', 'POST', '/', form(`${sid}&last_post_id[${'9'.repeat(60_000)}]=1`), 400, 'Malformed form body'],
          ['form: a repeated key', 'POST', '/', form(`${sid}&last_post_id[1]=1&last_post_id[1]=2`), 400, 'Malformed form body'],
          ['form: two session ids', 'POST', '/', form(`${sid}&session_id=other&last_post_id[1]=1`), 400, 'Malformed form body'],
          ['form: a value that is also a hash', 'POST', '/', form(`${sid}&last_post_id=1&last_post_id[1]=2`), 400, 'Malformed form body'],
          ['form: an array', 'POST', '/', form(`${sid}&last_post_id[]=1`), 400, 'Malformed form body'],
          ['form: unbalanced brackets', 'POST', '/', form(`${sid}&last_post_id[1=1`), 400, 'Malformed form body'],
          ['form: an empty key', 'POST', '/', form(`${sid}&=1`), 400, 'Malformed form body'],
          ['form: bad percent-encoding', 'POST', '/', form(`${sid}&last_post_id%5B1%5D=%zz`), 400, 'Malformed form body'],
          ['form: a truncated escape', 'POST', '/', form(`${sid}&last_post_id[1]=1%4`), 400, 'Malformed form body'],
          ['form: an escape that is not UTF-8', 'POST', '/', form(`${sid}&last_post_id[1]=%C0%AF`), 400, 'Malformed form body'],
          ['form: __proto__ keys', 'POST', '/', form(`${sid}&__proto__[polluted]=1&last_post_id[__proto__]=1`), 400, 'Invalid parameters!'],
          ['form: 64 KiB of ampersands', 'POST', '/', form('&'.repeat(60_000)), 400, 'Invalid parameters!'],
          ['form: 1 MiB', 'POST', '/', form(`${sid}&content=${'z'.repeat(1024 * 1024)}`), 413, 'Body too large'],
          [
            'form: a message post with a repeated content',
            'POST',
            '/walls/1/messages',
            form(`${sid}&content=a&content=b`),
            400,
            'Malformed form body',
          ],
          [
            'form: multipart',
            'POST',
            '/',
            { session, rawBody: '--x\r\n', headers: { 'content-type': 'multipart/form-data; boundary=x' } },
            415,
            'Content-Type must be application/json or application/x-www-form-urlencoded (UTF-8)',
          ],
        ] as const
      ).map(([name, method, path, options, expected, error]) => ({
        name,
        send: async () => {
          const reply = await server.call(method, path, options as never);
          expect(reply.status, name).toBe(expected);
          if (reply.json !== undefined) expect(reply.json.errors?.[0], name).toBe(error);
          return { status: reply.status, error: reply.json?.errors?.[0] ?? error };
        },
      })),
      {
        name: 'header flood (20 KB of headers)',
        send: async () => ({
          status: status(await raw(server, `GET /ping HTTP/1.1\r\nHost: x\r\nX-Flood: ${'a'.repeat(20_000)}\r\n\r\n`)),
        }),
      },
      {
        name: 'thousands of headers',
        send: async () => {
          const headers = Array.from({ length: 3000 }, (_, i) => `X-H${i}: v`).join('\r\n');
          return { status: status(await raw(server, `GET /ping HTTP/1.1\r\nHost: x\r\n${headers}\r\n\r\n`)) };
        },
      },
      {
        name: 'headers that never finish',
        send: async () => ({ status: status(await raw(server, 'POST /poll HTTP/1.1\r\nHost: x\r\nContent-')) }),
      },
      {
        name: 'a body that never finishes',
        send: async () => ({
          status: status(
            await raw(server, 'POST /poll HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: 100\r\n\r\n{"last_pos'),
          ),
        }),
      },
      {
        name: 'a request line that is not HTTP',
        send: async () => ({ status: status(await raw(server, '\u0000\u0001garbage\r\n\r\n')) }),
      },
    ];

    const outcomes: Record<string, number> = {};
    for (const { name, send } of cases) {
      const { status: code } = await send();
      outcomes[name] = code;
      expect((await server.call('GET', '/ping')).status, `server down after ${name}`).toBe(200);
      expect(server.pollster.stats().pool, `thread left busy by ${name}`).toMatchObject({ busy: 0, queued: 0 });
    }
    expect(outcomes).toMatchObject({
      'header flood (20 KB of headers)': 431,
      'thousands of headers': 431,
      'headers that never finish': 408,
      'a body that never finishes': 408,
      'a request line that is not HTTP': 400,
    });
  });

  it('a poll whose client leaves right after sending it does not hold a thread', async () => {
    const server = await startTestServer({ MAX_THREADS: '1' });
    const session = await server.login();
    const { json } = await server.call('GET', '/walls', { session });
    const body = JSON.stringify({ last_post_id: { 1: json.walls[0].latest_message_id }, timeout_ms: 20_000 });
    const { port } = new URL(server.url);
    for (let i = 0; i < 5; i++) {
      const socket = connect(Number(port), '127.0.0.1', () => {
        socket.end(
          `POST /poll HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer ${session}\r\nContent-Type: application/json\r\nContent-Length: ${body.length}\r\n\r\n${body}`,
          () => socket.destroy(),
        );
      });
      socket.on('error', () => undefined);
    }
    await new Promise((resolve) => setTimeout(resolve, 300));
    await eventually(() => server.pollster.stats().waiting_polls === 0, 2000);
    expect(server.pollster.stats().pool).toMatchObject({ busy: 0, queued: 0 });
  });

  it('a timeout_ms beyond POLL_TIMEOUT_MS is capped, not refused', async () => {
    const server = await startTestServer({ POLL_TIMEOUT_MS: '200' });
    const session = await server.login();
    const { json } = await server.call('GET', '/walls', { session });
    const started = Date.now();
    const reply = await server.call('POST', '/poll', {
      session,
      body: { last_post_id: { 1: json.walls[0].latest_message_id }, timeout_ms: 1e12 },
    });
    expect(reply.json).toEqual({ walls: {} });
    expect(Date.now() - started).toBeLessThan(5000);
  });
});
