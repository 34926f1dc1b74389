import { connect } from 'node:net';
import { join } from 'node:path';
import { Agent } from 'undici';
import { describe, expect, it } from 'vitest';
import { backends, usePostgres } from './helpers/postgres.js';
import { rawText } from './helpers/raw-http.js';
import { call, startTestServer, tempDir } from './helpers/server.js';

const postgres = usePostgres();

describe.each(backends(postgres))('HTTP API ($name)', (backend) => {
  const start = async (env: Record<string, string> = {}) => startTestServer({ ...(await backend.env()), ...env });

  it('GET /ping acks', async () => {
    const server = await start();
    const reply = await server.call('GET', '/ping');
    expect(reply.status).toBe(200);
    expect(reply.json).toEqual({ ack: 'huzzah!' });
  });

  it("POST /sessions returns an unguessable session with the user's walls", async () => {
    const server = await start();
    const first = await server.call('POST', '/sessions', { body: { user: 'bob' } });
    const second = await server.call('POST', '/sessions', { body: { user: 'bob' } });
    expect(first.status).toBe(201);
    expect(first.json.user).toBe('bob');
    expect(first.json.walls.map((w: { id: number }) => w.id)).toEqual([2, 3]);
    expect(first.json.session_id).toMatch(/^[\w-]{32}$/);
    expect(second.json.session_id).not.toBe(first.json.session_id);
  });

  it('POST /sessions rejects an unknown or missing user', async () => {
    const server = await start();
    for (const body of [{ user: 'mallory' }, {}, { user: 42 }]) {
      const reply = await server.call('POST', '/sessions', { body });
      expect(reply.status).toBe(400);
      expect(reply.json).toEqual({ errors: ['Invalid user!'] });
    }
  });

  it('seeds walls and memberships on first start', async () => {
    const server = await start();
    const demo = await server.login('demo');
    const alice = await server.login('alice');
    const demoWalls = await server.call('GET', '/walls', { session: demo });
    expect(demoWalls.status).toBe(200);
    expect(demoWalls.json.walls.map((w: { id: number }) => w.id)).toEqual([1, 2, 3, 4]);
    for (const wall of demoWalls.json.walls) expect(wall.latest_message_id).toBeGreaterThan(0);
    const aliceWalls = await server.call('GET', '/walls', { session: alice });
    expect(aliceWalls.json.walls.map((w: { id: number }) => w.id)).toEqual([1]);
  });

  it('posts a message and lists history oldest first, paged by id', async () => {
    const server = await start();
    const session = await server.login();
    const posted = [];
    for (const content of ['one', 'two', 'three']) {
      const reply = await server.call('POST', '/walls/2/messages', { session, body: { content } });
      expect(reply.status).toBe(201);
      expect(reply.json).toMatchObject({ wall_id: 2, user: 'demo', content });
      expect(Number.isNaN(Date.parse(reply.json.created_at))).toBe(false);
      posted.push(reply.json);
    }
    expect(posted[1].id).toBeGreaterThan(posted[0].id);
    const page = await server.call('GET', `/walls/2/messages?after=${posted[0].id}&limit=1`, { session });
    expect(page.status).toBe(200);
    expect(page.json.messages).toEqual([posted[1]]);
    const all = await server.call('GET', '/walls/2/messages', { session });
    // Each 201 is the message exactly as stored and read back.
    expect(all.json.messages.slice(-3)).toEqual(posted);
  });

  it('accepts the session as Bearer, body session_id or query session_id', async () => {
    const server = await start();
    const session = await server.login();
    expect((await server.call('GET', `/walls?session_id=${session}`)).status).toBe(200);
    const viaBody = await server.call('POST', '/walls/1/messages', { body: { session_id: session, content: 'x' } });
    expect(viaBody.status).toBe(201);
    expect((await server.call('GET', '/walls', { session })).status).toBe(200);
  });

  it('keeps messages across restarts', async () => {
    const first = await start();
    const session = await first.login();
    const posted = await first.call('POST', '/walls/1/messages', { session, body: { content: 'durable' } });
    await first.pollster.close();
    const second = await startTestServer({
      DB_PATH: first.dbPath,
      ...(backend.name === 'postgres' ? { DATABASE_URL: first.database } : {}),
    });
    const again = await second.login();
    const history = await second.call('GET', `/walls/1/messages?after=${posted.json.id - 1}`, { session: again });
    expect(history.json.messages).toEqual([posted.json]);
  });

  it('answers CORS preflight on any path and adds CORS headers everywhere', async () => {
    const server = await start({ CORS_ORIGIN: 'https://chat.example' });
    const preflight = await server.call('OPTIONS', '/anything/at/all');
    expect(preflight.status).toBe(204);
    expect(preflight.headers['access-control-allow-origin']).toBe('https://chat.example');
    expect(preflight.headers['access-control-allow-methods']).toBe('GET, POST, DELETE, OPTIONS');
    expect(preflight.headers['access-control-allow-headers']).toBe('Content-Type, Authorization, X-CSRF-Token, Last-Event-ID');
    const notFound = await server.call('GET', '/nope');
    expect(notFound.headers['access-control-allow-origin']).toBe('https://chat.example');
  });

  describe('bad input gets a clear error', () => {
    const cases: Array<{
      name: string;
      method: string;
      path: string;
      body?: unknown;
      rawBody?: string;
      auth?: 'demo' | 'alice' | 'bob' | 'none' | 'bogus';
      status: number;
      error: string;
    }> = [
      { name: 'malformed JSON', method: 'POST', path: '/sessions', rawBody: '{"user":', status: 400, error: 'Malformed JSON' },
      {
        name: 'empty content',
        method: 'POST',
        path: '/walls/1/messages',
        body: { content: '   ' },
        auth: 'demo',
        status: 400,
        error: 'content must be 1 to 2000 characters',
      },
      {
        name: 'over-long content',
        method: 'POST',
        path: '/walls/1/messages',
        body: { content: 'x'.repeat(2001) },
        auth: 'demo',
        status: 400,
        error: 'content must be 1 to 2000 characters',
      },
      {
        name: 'content of the wrong type',
        method: 'POST',
        path: '/walls/1/messages',
        body: { content: 7 },
        auth: 'demo',
        status: 400,
        error: 'content must be a string',
      },
      { name: 'invalid session', method: 'GET', path: '/walls', auth: 'bogus', status: 401, error: 'Unauthorized' },
      {
        name: 'post without session',
        method: 'POST',
        path: '/walls/1/messages',
        body: { content: 'hi' },
        auth: 'none',
        status: 401,
        error: 'Unauthorized',
      },
      {
        name: 'a wall the user cannot read (answers like a missing one)',
        method: 'GET',
        path: '/walls/2/messages',
        auth: 'alice',
        status: 404,
        error: 'Wall not found',
      },
      {
        name: 'posting to a wall the user cannot read',
        method: 'POST',
        path: '/walls/3/messages',
        body: { content: 'hi' },
        auth: 'alice',
        status: 404,
        error: 'Wall not found',
      },
      {
        name: 'posting to a public wall the user is not a member of',
        method: 'POST',
        path: '/walls/1/messages',
        body: { content: 'hi' },
        auth: 'bob',
        status: 403,
        error: 'Wall not writable',
      },
      {
        name: 'anonymous history of a private wall',
        method: 'GET',
        path: '/walls/2/messages',
        auth: 'none',
        status: 404,
        error: 'Wall not found',
      },
      {
        name: 'history with an unknown session',
        method: 'GET',
        path: '/walls/1/messages',
        auth: 'bogus',
        status: 401,
        error: 'Unauthorized',
      },
      { name: 'an unknown wall', method: 'GET', path: '/walls/999/messages', auth: 'demo', status: 404, error: 'Wall not found' },
      {
        name: 'a non-numeric wall id',
        method: 'GET',
        path: '/walls/abc/messages',
        auth: 'demo',
        status: 400,
        error: 'Wall id must be a positive integer',
      },
      {
        name: 'a negative after',
        method: 'GET',
        path: '/walls/1/messages?after=-1',
        auth: 'demo',
        status: 400,
        error: 'after must be a non-negative integer',
      },
      {
        name: 'a limit too large',
        method: 'GET',
        path: '/walls/1/messages?limit=100000',
        auth: 'demo',
        status: 400,
        error: 'limit must be an integer from 1 to 500',
      },
      { name: 'an unknown path', method: 'GET', path: '/nope', status: 404, error: 'Not found' },
      { name: 'a wrong method', method: 'DELETE', path: '/ping', status: 405, error: 'Method not allowed' },
      { name: 'GET on a POST route', method: 'GET', path: '/poll', status: 405, error: 'Method not allowed' },
    ];

    it.each(cases)('$name → $status', async ({ method, path, body, rawBody, auth, status, error }) => {
      const server = await start();
      const session =
        auth === 'demo' || auth === 'alice' || auth === 'bob' ? await server.login(auth) : auth === 'bogus' ? 'not-a-session' : undefined;
      const reply = await server.call(method, path, {
        ...(body !== undefined ? { body } : {}),
        ...(rawBody !== undefined ? { rawBody } : {}),
        ...(session ? { session } : {}),
      });
      expect(reply.status).toBe(status);
      expect(reply.json).toEqual({ errors: [error] });
      expect((await server.call('GET', '/ping')).status).toBe(200);
      expect(server.pollster.stats().pool).toMatchObject({ busy: 0, queued: 0 });
    });

    it('405 names the allowed methods', async () => {
      const server = await start();
      const reply = await server.call('PUT', '/poll');
      expect(reply.headers.allow).toBe('POST, OPTIONS');
    });

    it('a body over 64 KiB gets 413', async () => {
      const server = await start();
      const reply = await server.call('POST', '/sessions', { rawBody: JSON.stringify({ user: 'x'.repeat(70_000) }) });
      expect(reply.status).toBe(413);
      expect(reply.json).toEqual({ errors: ['Body too large'] });
      expect((await server.call('GET', '/ping')).status).toBe(200);
    });

    it('a chunked body (no Content-Length) over 64 KiB gets 413 too, not a reset connection', async () => {
      const server = await start();
      const chunk = 'x'.repeat(16 * 1024);
      const body = `${Array.from({ length: 6 }, () => `${chunk.length.toString(16)}\r\n${chunk}\r\n`).join('')}0\r\n\r\n`;
      const answer = await rawText(
        server.url,
        `POST /poll HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nTransfer-Encoding: chunked\r\n\r\n${body}`,
      );
      expect(answer).toMatch(/^HTTP\/1\.1 413 /);
      expect(answer).toMatch(/connection: close/i);
      expect(answer).toContain('{"errors":["Body too large"]}');
      expect((await server.call('GET', '/ping')).status).toBe(200);
    });

    it('a malformed request line gets 400 and the server stays up', async () => {
      const server = await start();
      const { port } = new URL(server.url);
      const answer = await new Promise<string>((resolve, reject) => {
        const socket = connect(Number(port), '127.0.0.1', () => socket.write('NOT HTTP AT ALL\r\n\r\n'));
        let data = '';
        socket.on('data', (chunk) => (data += chunk));
        socket.on('end', () => resolve(data));
        socket.on('error', reject);
      });
      expect(answer).toMatch(/^HTTP\/1\.1 400/);
      expect((await server.call('GET', '/ping')).status).toBe(200);
    });
  });
});

describe('SOCKET', () => {
  it('listens on a unix socket instead of TCP, as Thin did behind nginx', async () => {
    const socketPath = join(tempDir(), 'pollster.sock');
    const server = await startTestServer({ SOCKET: socketPath });
    expect(server.url).toBe(`unix:${socketPath}`);
    const agent = new Agent({ connect: { socketPath } });
    try {
      const reply = await call(agent, 'http://localhost', 'GET', '/ping');
      expect(reply.json).toEqual({ ack: 'huzzah!' });
    } finally {
      await agent.close();
    }
  });
});
