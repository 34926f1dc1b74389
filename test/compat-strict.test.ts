/**
 * Text is well-formed Unicode counted in code
 * points; numbers are canonical decimals up to 2^53−1; a wall the client may
 * not read answers exactly like a wall that does not exist. These checks run
 * on the main thread before any wait, so one mode is enough.
 */
import { describe, expect, it } from 'vitest';
import { startTestServer, type TestServer } from './helpers/server.js';

const FORM = { 'content-type': 'application/x-www-form-urlencoded' };
const MAX_SAFE = '9007199254740991';
const TOO_BIG = '9007199254740992';
/** Every spelling of a hostile value we know of, plus a few more. Query values are percent-encoded where needed. */
const NOT_CANONICAL = ['01', '007', '1e3', '0x10', '-1', '%205', '5%20', '+5', '1.0', TOO_BIG, '%EF%BC%95' /* fullwidth 5 */];

async function expectError(reply: Promise<{ status: number; json: unknown }>, status: number, error: string, what: string) {
  const { status: got, json } = await reply;
  expect([got, json], what).toEqual([status, { errors: [error] }]);
}

describe('strict numbers', () => {
  it('ids, wall keys, ms, after, limit and Last-Event-ID accept canonical decimals only', async () => {
    const server = await startTestServer();
    const session = await server.login('demo');
    const get = (path: string, headers: Record<string, string> = {}) => server.call('GET', path, { session, headers });
    for (const bad of NOT_CANONICAL) {
      await expectError(get(`/walls/${bad}/messages`), 400, 'Wall id must be a positive integer', `wall ${bad}`);
      await expectError(get(`/walls/1/messages?after=${bad}`), 400, 'after must be a non-negative integer', `after ${bad}`);
      await expectError(get(`/walls/1/messages?limit=${bad}`), 400, 'limit must be an integer from 1 to 500', `limit ${bad}`);
      await expectError(get(`/hello?ms=${bad}`), 400, 'ms must be a non-negative integer', `ms ${bad}`);
      await expectError(get(`/check?last_event_id=${bad}`), 400, 'Last-Event-ID must be a non-negative integer', `cursor ${bad}`);
      await expectError(get(`/check?walls=1,${bad}`), 400, 'Invalid parameters!', `walls ${bad}`);
      const key = decodeURIComponent(bad);
      await expectError(
        server.call('POST', '/poll', { session, body: { last_post_id: { [key]: 0 } } }),
        400,
        'Invalid parameters!',
        `key ${bad}`,
      );
      await expectError(
        server.call('POST', '/poll', { session, body: { last_post_id: { 1: key } } }),
        400,
        'Invalid parameters!',
        `id ${bad}`,
      );
      await expectError(
        server.call('POST', '/poll', { session, body: { last_post_id: { 1: 0 }, timeout_ms: key } }),
        400,
        'Invalid parameters!',
        `timeout ${bad}`,
      );
      await expectError(
        server.call('POST', '/', { rawBody: `session_id=${session}&last_post_id[${bad}]=0`, headers: FORM }),
        400,
        'Invalid parameters!',
        `form key ${bad}`,
      );
      await expectError(
        server.call('POST', '/', { rawBody: `session_id=${session}&last_post_id[1]=${bad}`, headers: FORM }),
        400,
        'Invalid parameters!',
        `form id ${bad}`,
      );
    }
    for (const bad of ['01', '1e3', '-1', '0x10']) {
      await expectError(get('/check', { 'last-event-id': bad }), 400, 'Last-Event-ID must be a non-negative integer', `header ${bad}`);
    }
    for (const bad of [-1, 1.5, 2 ** 53, 1e300]) {
      await expectError(
        server.call('POST', '/poll', { session, body: { last_post_id: { 1: bad } } }),
        400,
        'Invalid parameters!',
        `number ${bad}`,
      );
    }
  });

  it('accepts the largest safe integer everywhere (ids pass 2^31 in time)', async () => {
    const server = await startTestServer();
    const session = await server.login('demo');
    expect((await server.call('GET', `/walls/${MAX_SAFE}/messages`, { session })).status).toBe(404);
    expect((await server.call('GET', `/walls/1/messages?after=${MAX_SAFE}`, { session })).json).toEqual({ messages: [] });
    const poll = await server.call('POST', '/poll', { session, body: { last_post_id: { 1: Number(MAX_SAFE) }, timeout_ms: 0 } });
    expect(poll.json).toEqual({ walls: {} });
    const form = await server.call('POST', '/', {
      rawBody: `session_id=${session}&last_post_id[1]=${MAX_SAFE}&timeout_ms=0`,
      headers: FORM,
    });
    expect(form.json).toEqual({ walls: {} });
    expect((await server.call('HEAD', `/check?session_id=${session}&last_event_id=${MAX_SAFE}`)).status).toBe(200);
    // 0 is canonical too.
    expect((await server.call('GET', '/hello?ms=0')).text).toBe('Hello!\n');
  });
});

describe('text is text', () => {
  async function post(server: TestServer, session: string, content: string) {
    return server.call('POST', '/walls/1/messages', { session, body: { content } });
  }

  it('counts code points: 2,000 emoji fit, 2,001 letters do not, in JSON and in forms', async () => {
    const server = await startTestServer();
    const session = await server.login('demo');
    const emoji = '😀'.repeat(2000);
    const stored = await post(server, session, emoji);
    expect(stored.status).toBe(201);
    expect(stored.json.content).toBe(emoji);
    await expectError(post(server, session, 'x'.repeat(2001)), 400, 'content must be 1 to 2000 characters', '2001 letters');
    await expectError(post(server, session, `${'x'.repeat(1999)}😀😀`), 400, 'content must be 1 to 2000 characters', '2001 mixed');
    const formEmoji = await server.call('POST', '/walls/1/messages', {
      rawBody: `session_id=${session}&content=${encodeURIComponent(emoji)}`,
      headers: FORM,
    });
    expect(formEmoji.status).toBe(201);
    await expectError(
      server.call('POST', '/walls/1/messages', { rawBody: `session_id=${session}&content=${'x'.repeat(2001)}`, headers: FORM }),
      400,
      'content must be 1 to 2000 characters',
      'form 2001 letters',
    );
  });

  it('refuses lone surrogates and bytes that are not UTF-8, and stores nothing for them', async () => {
    const server = await startTestServer();
    const session = await server.login('demo');
    const before = (await server.call('GET', '/walls/1/messages?limit=500', { session })).json.messages.length;
    const json = (text: string) =>
      server.call('POST', '/walls/1/messages', {
        session,
        rawBody: `{"content":"${text}"}`,
        headers: { 'content-type': 'application/json' },
      });
    for (const escaped of ['\\ud800', '\\udc00', 'a\\ud800b', '\\udc00\\ud800', '\\ud800'.repeat(2000)]) {
      await expectError(json(escaped), 400, 'content must be well-formed Unicode', escaped.slice(0, 20));
    }
    const rawBytes = Buffer.concat([Buffer.from('{"content":"'), Buffer.from([0xff, 0xfe, 0xed, 0xa0, 0x80]), Buffer.from('"}')]);
    await expectError(
      server.call('POST', '/walls/1/messages', { session, rawBody: rawBytes, headers: { 'content-type': 'application/json' } }),
      400,
      'Malformed JSON',
      'bytes that are not UTF-8',
    );
    for (const encoded of ['%ED%A0%80', '%FF', '%C0%AF', 'a%F0%9F%98']) {
      await expectError(
        server.call('POST', '/walls/1/messages', { rawBody: `session_id=${session}&content=${encoded}`, headers: FORM }),
        400,
        'Malformed form body',
        encoded,
      );
    }
    await expectError(server.call('POST', '/sessions', { rawBody: '{"user":"demo\\ud800"}' }), 400, 'Invalid user!', 'user name');
    expect((await server.call('GET', '/walls/1/messages?limit=500', { session })).json.messages.length).toBe(before);
  });
});

describe('no existence oracle', () => {
  it('a wall the client may not read answers exactly like a missing one, on every route that takes a wall id', async () => {
    const server = await startTestServer();
    const alice = await server.login('alice'); // member of General (1) only
    const bob = await server.login('bob'); // member of 2 and 3
    const asAlice = { session: alice };
    const probes: Array<[string, (wall: number, who: { session?: string }) => Promise<{ status: number; text: string }>]> = [
      ['history', (wall, who) => server.call('GET', `/walls/${wall}/messages`, who)],
      ['history (HEAD)', (wall, who) => server.call('HEAD', `/walls/${wall}/messages`, who)],
      ['post', (wall, who) => server.call('POST', `/walls/${wall}/messages`, { ...who, body: { content: 'probe' } })],
      ['form post', (wall, who) => server.call('POST', `/walls/${wall}/messages`, { ...who, rawBody: 'content=probe', headers: FORM })],
      ['poll', (wall, who) => server.call('POST', '/poll', { ...who, body: { last_post_id: { [wall]: 0 }, timeout_ms: 0 } })],
      ['form poll', (wall, who) => server.call('POST', '/', { ...who, rawBody: `last_post_id[${wall}]=0&timeout_ms=0`, headers: FORM })],
      ['stream', (wall, who) => server.call('GET', `/check?walls=${wall}`, who)],
      ['stream (HEAD)', (wall, who) => server.call('HEAD', `/check?walls=${wall}`, who)],
    ];
    for (const [route, probe] of probes) {
      for (const who of [asAlice, {}] as Array<{ session?: string }>) {
        const hidden = await probe(2, who);
        const missing = await probe(424242, who);
        const label = `${route} as ${who.session ? 'alice' : 'anonymous'}`;
        expect(hidden.status, label).toBeGreaterThanOrEqual(400);
        expect([hidden.status, hidden.text], label).toEqual([missing.status, missing.text]);
      }
    }
    // A public wall is no secret: a non-member reads it, and is told plainly that posting needs membership.
    expect((await server.call('GET', '/walls/1/messages', { session: bob })).status).toBe(200);
    expect(
      (await server.call('POST', '/poll', { session: bob, body: { last_post_id: { 1: 0 }, timeout_ms: 0 } })).json.walls,
    ).toHaveProperty('1');
    expect((await server.call('HEAD', `/check?session_id=${bob}&walls=1`)).status).toBe(200);
    await expectError(
      server.call('POST', '/walls/1/messages', { session: bob, body: { content: 'hi' } }),
      403,
      'Wall not writable',
      'bob on General',
    );
  });
});
