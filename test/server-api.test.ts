/**
 * The server API under `/api/` for an application's backend: off (404)
 * without API_KEY, 401 for every route without the key, the key never in a
 * log line, and each route's answers — happy paths and errors — on SQLite
 * and PostgreSQL. What a change of access does to held polls and streams:
 * revocation*.test.ts.
 */
import { describe, expect, it } from 'vitest';
import { ConfigError, loadConfig } from '../src/config.js';
import { captureLog } from './helpers/log.js';
import { backends, usePostgres } from './helpers/postgres.js';
import { API_KEY } from './helpers/revocation.js';
import { eventually, newestOn, startTestServer, type TestServer } from './helpers/server.js';
import { openStream } from './helpers/sse.js';

const postgres = usePostgres();

/** Every route, with a body where it takes one. */
const ROUTES: Array<[string, string, unknown?]> = [
  ['POST', '/api/walls', { name: 'Team' }],
  ['PATCH', '/api/walls/1', { public: false }],
  ['DELETE', '/api/walls/1'],
  ['POST', '/api/users', { name: 'carol' }],
  ['DELETE', '/api/users/bob'],
  ['PUT', '/api/walls/2/members/alice'],
  ['DELETE', '/api/walls/2/members/bob'],
  ['POST', '/api/walls/1/messages', { user: 'alice', content: 'hi' }],
  ['DELETE', '/api/users/bob/sessions'],
];

const withKey = { authorization: `Bearer ${API_KEY}` };

function api(server: TestServer, method: string, path: string, body?: unknown, headers: Record<string, string> = withKey) {
  return server.call(method, path, { body, headers });
}

describe('switched on by API_KEY', () => {
  it('answers 404 Not found on every route while API_KEY is unset, like any unknown path', async () => {
    const server = await startTestServer();
    for (const [method, path, body] of ROUTES) {
      const reply = await api(server, method, path, body);
      expect(reply.status, `${method} ${path}`).toBe(404);
      expect(reply.json).toEqual({ errors: ['Not found'] });
    }
    expect((await server.call('GET', '/api/walls')).status).toBe(404);
  });

  it('refuses a key that is too short or not printable ASCII, without echoing it', () => {
    for (const value of ['short-key', 'sixteen chars ok', 'ключ'.repeat(8)]) {
      expect(() => loadConfig({ API_KEY: value })).toThrow(ConfigError);
      expect(() => loadConfig({ API_KEY: value })).toThrow('API_KEY must be 16 to 512 printable ASCII characters without spaces');
      try {
        loadConfig({ API_KEY: value });
      } catch (error) {
        expect((error as Error).message).not.toContain(value);
      }
    }
    expect(loadConfig({ API_KEY }).apiKey).toBe(API_KEY);
    expect(loadConfig({}).apiKey).toBeNull();
  });

  it('answers 401 on every route without the key, with a wrong one or another scheme, and changes nothing', async () => {
    const server = await startTestServer({ API_KEY });
    const session = await server.login('bob');
    const refused: Array<Record<string, string>> = [
      {},
      { authorization: `Bearer ${API_KEY}x` },
      { authorization: `Bearer ${API_KEY.slice(0, -1)}` },
      { authorization: `Basic ${API_KEY}` },
      // A user's session is not the key.
      { authorization: `Bearer ${session}` },
    ];
    for (const [method, path, body] of ROUTES) {
      for (const headers of refused) {
        const reply = await api(server, method, path, body, headers);
        expect(reply.status, `${method} ${path} ${JSON.stringify(headers)}`).toBe(401);
        expect(reply.json).toEqual({ errors: ['Unauthorized'] });
        expect(reply.headers['www-authenticate']).toBe('Bearer');
      }
    }
    // Nothing happened: bob still has his session and walls, wall 1 its messages, no carol.
    expect((await server.call('GET', '/walls', { session })).json.walls.map((w: { id: number }) => w.id)).toEqual([2, 3]);
    expect((await server.call('POST', '/sessions', { body: { user: 'carol' } })).status).toBe(400);
    expect((await server.call('GET', '/walls/1/messages')).json.messages).toHaveLength(2);
  });

  it('never writes the key, or a wrong one, into a log line', async () => {
    const log = captureLog('trace');
    const server = await startTestServer({ API_KEY, LOG_LEVEL: 'trace' }, log.logger);
    const wrong = 'wrong-key-but-looks-real-0123456789';
    await api(server, 'POST', '/api/walls', { name: 'Logged' });
    await api(server, 'POST', '/api/walls', { name: 'Logged' }, { authorization: `Bearer ${wrong}` });
    await server.call('POST', '/api/walls', { rawBody: '{"name":', headers: { ...withKey, 'content-type': 'application/json' } });
    await api(server, 'PUT', '/api/walls/1/members/nobody');
    await api(server, 'DELETE', `/api/users/${API_KEY}`);
    await server.call('GET', `/api/nothing?key=${API_KEY}`, { headers: withKey });
    await server.pollster.close();
    await eventually(() => log.lines().filter((line) => line.msg === 'request').length >= 6);
    expect(log.text()).not.toContain(API_KEY);
    expect(log.text()).not.toContain(wrong);
    expect(
      log
        .lines()
        .map((line) => line.route)
        .filter(Boolean),
    ).toContain('/api/users/:name');
  });
});

describe.each(backends(postgres))('server API on $name', (backend) => {
  it('creates, renames, opens and deletes walls; creates and deletes users; adds and removes members; publishes; answers each error plainly', async () => {
    const server = await startTestServer({ ...(await backend.env()), API_KEY });
    // Walls.
    const created = await api(server, 'POST', '/api/walls', { name: 'Team' });
    expect(created.status).toBe(201);
    const team = created.json;
    expect(team).toEqual({ id: expect.any(Number), name: 'Team', public: false });
    expect((await api(server, 'POST', '/api/walls', { name: 'Open', public: true })).json).toMatchObject({ name: 'Open', public: true });
    expect((await api(server, 'PATCH', `/api/walls/${team.id}`, { name: 'Team 2' })).json).toEqual({ ...team, name: 'Team 2' });
    const opened = await api(server, 'PATCH', `/api/walls/${team.id}`, { public: true });
    expect(opened.status).toBe(200);
    expect(opened.json).toEqual({ ...team, name: 'Team 2', public: true });
    expect((await server.call('GET', '/walls')).json.walls.map((w: { name: string }) => w.name)).toContain('Team 2');

    // Users, by names with room for any text (path segments percent-encoded).
    const name = 'Zoë Q. (ops)';
    const path = encodeURIComponent(name);
    const user = await api(server, 'POST', '/api/users', { name });
    expect(user.status).toBe(201);
    expect(user.json).toEqual({ id: expect.any(Number), name });
    expect((await api(server, 'POST', '/api/users', { name })).status).toBe(409);
    expect((await api(server, 'POST', '/api/users', { name })).json).toEqual({ errors: ['User name taken'] });
    const session = await server.login(name);

    // Members: PUT is idempotent, DELETE too.
    for (let i = 0; i < 2; i++) expect((await api(server, 'PUT', `/api/walls/${team.id}/members/${path}`)).status).toBe(204);
    expect((await server.call('GET', '/walls', { session })).json.walls.map((w: { id: number }) => w.id)).toEqual([team.id]);
    const own = await server.call('POST', `/walls/${team.id}/messages`, { session, body: { content: 'as a member' } });
    expect(own.status).toBe(201);
    for (let i = 0; i < 2; i++) expect((await api(server, 'DELETE', `/api/walls/${team.id}/members/${path}`)).status).toBe(204);
    expect((await server.call('POST', `/walls/${team.id}/messages`, { session, body: { content: 'no longer' } })).status).toBe(403);

    // Publishing as any user, member or not.
    const published = await api(server, 'POST', `/api/walls/${team.id}/messages`, { user: name, content: '  from the backend  ' });
    expect(published.status).toBe(201);
    expect(published.json).toEqual({
      id: own.json.id + 1,
      wall_id: team.id,
      user: name,
      content: 'from the backend',
      created_at: expect.any(String),
    });

    // Revocation, then deletion: the user's messages go with her.
    expect((await api(server, 'DELETE', `/api/users/${path}/sessions`)).status).toBe(204);
    expect((await server.call('GET', '/walls', { session })).status).toBe(401);
    expect((await api(server, 'DELETE', `/api/users/${path}`)).status).toBe(204);
    expect((await server.call('POST', '/sessions', { body: { user: name } })).status).toBe(400);
    expect((await server.call('GET', `/walls/${team.id}/messages`)).json.messages).toEqual([]);
    expect((await api(server, 'DELETE', `/api/walls/${team.id}`)).status).toBe(204);
    expect((await server.call('GET', `/walls/${team.id}/messages`)).status).toBe(404);

    const errors: Array<[string, string, unknown, number, string]> = [
      ['POST', '/api/walls', [], 400, 'Body must be a JSON object'],
      ['POST', '/api/walls', {}, 400, 'name must be a string'],
      ['POST', '/api/walls', { name: '' }, 400, 'name must be 1 to 100 characters'],
      ['POST', '/api/walls', { name: 'x'.repeat(101) }, 400, 'name must be 1 to 100 characters'],
      ['POST', '/api/walls', { name: ' padded' }, 400, 'name must not start or end with white space'],
      ['POST', '/api/walls', { name: 'a\u0000b' }, 400, 'name must not contain control characters'],
      ['POST', '/api/walls', { name: '\ud800' }, 400, 'name must be well-formed Unicode'],
      ['POST', '/api/walls', { name: 'Team', public: 'yes' }, 400, 'public must be true or false'],
      ['PATCH', '/api/walls/1', {}, 400, 'name or public is required'],
      ['PATCH', '/api/walls/01', { public: true }, 400, 'Wall id must be a positive integer'],
      ['PATCH', '/api/walls/999', { public: true }, 404, 'Wall not found'],
      ['DELETE', '/api/walls/999', undefined, 404, 'Wall not found'],
      ['DELETE', `/api/walls/${team.id}`, undefined, 404, 'Wall not found'],
      ['POST', '/api/users', { name: 7 }, 400, 'name must be a string'],
      ['POST', '/api/users', { name: 'demo' }, 409, 'User name taken'],
      ['DELETE', '/api/users/nobody', undefined, 404, 'User not found'],
      ['DELETE', '/api/users/nobody/sessions', undefined, 404, 'User not found'],
      ['PUT', '/api/walls/999/members/bob', undefined, 404, 'Wall not found'],
      ['PUT', '/api/walls/1/members/nobody', undefined, 404, 'User not found'],
      ['DELETE', '/api/walls/999/members/bob', undefined, 404, 'Wall not found'],
      ['DELETE', '/api/walls/1/members/nobody', undefined, 404, 'User not found'],
      ['POST', '/api/walls/1/messages', { content: 'hi' }, 400, 'user must be a string'],
      ['POST', '/api/walls/1/messages', { user: 'bob' }, 400, 'content must be a string'],
      ['POST', '/api/walls/1/messages', { user: 'bob', content: ' ' }, 400, 'content must be 1 to 2000 characters'],
      ['POST', '/api/walls/1/messages', { user: 'nobody', content: 'hi' }, 404, 'User not found'],
      ['POST', '/api/walls/999/messages', { user: 'bob', content: 'hi' }, 404, 'Wall not found'],
    ];
    for (const [method, route, body, status, message] of errors) {
      const reply = await api(server, method, route, body);
      expect([reply.status, reply.json], `${method} ${route} ${JSON.stringify(body)}`).toEqual([status, { errors: [message] }]);
    }
    const malformed = await server.call('POST', '/api/users', {
      rawBody: '{"name"',
      headers: { ...withKey, 'content-type': 'application/json' },
    });
    expect([malformed.status, malformed.json]).toEqual([400, { errors: ['Malformed JSON'] }]);
    expect((await server.call('GET', '/api/walls', { headers: withKey })).headers.allow).toBe('POST, OPTIONS');
  });
});

describe('publishing through the API', () => {
  it("wakes held polls and open streams on the wall, as a user's post does", async () => {
    const server = await startTestServer({ API_KEY, POLL_MODE: 'multiplex' });
    const session = await server.login('bob');
    const last = await newestOn(server, session, 2);
    const poll = server.call('POST', '/poll', { session, body: { last_post_id: { 2: last }, timeout_ms: 10_000 } });
    const stream = await openStream(server.agent, `${server.url}/check?walls=2`, { authorization: `Bearer ${session}` });
    await eventually(() => server.pollster.stats().waiting_polls === 2);
    // alice is no member of wall 2: the application may still publish as her.
    const published = (await api(server, 'POST', '/api/walls/2/messages', { user: 'alice', content: 'from the backend' })).json;
    expect((await poll).json).toEqual({ walls: { 2: { posts: [published] } } });
    const event = await stream.next((e) => e.event === 'refresh');
    expect(JSON.parse(event.data!).messages).toEqual([published]);
    stream.close();
  });
});
