/**
 * CORS headers are merged into each response's head when it is written
 * (src/http/cors.ts), not set on the request as it arrives. Every kind of
 * answer must still carry them, and answers that share their bytes and head
 * (coalesced polls) must each carry their own request's origin.
 */
import { describe, expect, it } from 'vitest';
import { eventually, newestOn, startTestServer, type Reply } from './helpers/server.js';
import { openStream } from './helpers/sse.js';

const CORS = {
  'access-control-allow-methods': 'GET, POST, DELETE, OPTIONS',
  'access-control-allow-headers': 'Content-Type, Authorization, X-CSRF-Token, Last-Event-ID',
  'access-control-max-age': '600',
};

describe('CORS headers', () => {
  it('are on every kind of answer: routes, errors, files, polls, streams', async () => {
    const server = await startTestServer({ CORS_ORIGIN: 'https://chat.example', POLL_TIMEOUT_MS: '300' });
    const session = await server.login();
    const latest = await newestOn(server, session, 1);
    const poll = (cursor: number) => server.call('POST', '/poll', { session, body: { last_post_id: { 1: cursor } } });
    const waiting = poll(latest);
    await eventually(() => server.pollster.stats().waiting_polls === 1);
    const posted = await server.call('POST', '/walls/1/messages', { session, body: { content: 'cors' } });
    const answers: Record<string, Reply> = {
      'a poll answered with data': await waiting,
      'a poll that timed out': await poll(posted.json.id),
      'a post': posted,
      'the ping': await server.call('GET', '/ping'),
      'a file': await server.call('GET', '/index.html'),
      'the page': await server.call('GET', '/', { headers: { accept: 'text/html' } }),
      'the ack at /': await server.call('GET', '/'),
      'a preflight': await server.call('OPTIONS', '/poll'),
      '401': await server.call('GET', '/walls', { session: 'nobody' }),
      '404': await server.call('GET', '/nope'),
      '405': await server.call('DELETE', '/ping'),
      '413': await server.call('POST', '/sessions', { rawBody: `{"user":"${'x'.repeat(70_000)}"}` }),
    };
    expect(answers['a poll answered with data']!.json.walls['1'].posts[0].content).toBe('cors');
    expect(answers['a poll that timed out']!.json).toEqual({ walls: {} });
    expect(answers['413']!.status).toBe(413);
    for (const [name, reply] of Object.entries(answers)) {
      expect({ name, ...reply.headers }).toMatchObject({
        name,
        'access-control-allow-origin': 'https://chat.example',
        ...CORS,
        vary: expect.stringMatching(/^Origin/),
      });
    }
    // A route's own Vary adds to CORS's.
    expect(answers['the page']!.headers.vary).toBe('Origin, Accept');
    expect(answers['the ack at /']!.headers.vary).toBe('Origin, Accept');
    const stream = await openStream(server.agent, `${server.url}/check?session_id=${session}`);
    try {
      expect(stream.headers).toMatchObject({
        'access-control-allow-origin': 'https://chat.example',
        ...CORS,
        'content-type': expect.stringContaining('text/event-stream'),
      });
    } finally {
      stream.close();
    }
  });

  it('with any origin (*): no Vary of its own, and the page keeps Vary: Accept', async () => {
    const server = await startTestServer();
    const page = await server.call('GET', '/', { headers: { accept: 'text/html' } });
    expect(page.headers).toMatchObject({ 'access-control-allow-origin': '*', ...CORS, vary: 'Accept' });
    expect((await server.call('GET', '/ping')).headers.vary).toBeUndefined();
  });

  it('gives polls that shared one wait and one answer each their own origin', async () => {
    const server = await startTestServer({
      CORS_ORIGIN: 'https://chat.example,http://localhost:8080',
      POLL_MODE: 'multiplex',
      MAX_WAITS_PER_SESSION: '0',
      MAX_WAITS_PER_CLIENT: '0',
    });
    const session = await server.login();
    const latest = await newestOn(server, session, 1);
    const origins = ['https://chat.example', 'http://localhost:8080', 'https://evil.example', 'http://localhost:8080', undefined];
    const polls = origins.map((origin) =>
      server.call('POST', '/poll', { session, body: { last_post_id: { 1: latest } }, headers: origin ? { origin } : {} }),
    );
    await eventually(() => server.pollster.stats().waiting_polls === origins.length);
    expect(server.pollster.stats().pool.coalescing).toMatchObject({ shared_waits: 1, riders: origins.length - 1 });
    await server.call('POST', '/walls/1/messages', { session, body: { content: 'shared' } });
    const replies = await Promise.all(polls);
    expect(new Set(replies.map((reply) => reply.text)).size).toBe(1);
    expect(replies.map((reply) => reply.headers['access-control-allow-origin'])).toEqual([
      'https://chat.example',
      'http://localhost:8080',
      undefined,
      'http://localhost:8080',
      undefined,
    ]);
    for (const reply of replies)
      expect(reply.headers).toMatchObject({ ...CORS, vary: 'Origin', 'content-type': 'application/json; charset=utf-8' });
  });
});
