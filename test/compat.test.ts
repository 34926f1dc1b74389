/**
 * The originals' wire contract next to today's API — `GET /`
 * negotiates, `POST /` is the long poll, form bodies as jQuery sends them,
 * 415 for anything else, `PUMA_WORKERS`, and the schema step that adds
 * public walls to an existing database.
 */
import Database from '../src/storage/sqlite-driver.js';
import { describe, expect, it } from 'vitest';
import { ConfigError, loadConfig } from '../src/config.js';
import { parseForm } from '../src/http/form-body.js';
import { SQLITE_MIGRATIONS } from '../src/storage/sqlite-schema.js';
import { SqliteStore as Store } from '../src/storage/sqlite-store.js';
import { eventually, newestOn, startTestServer, tempDir, type TestServer } from './helpers/server.js';
import { join } from 'node:path';

const FORM = { 'content-type': 'application/x-www-form-urlencoded; charset=UTF-8' };
/** What Chromium sends when it navigates. */
const BROWSER_ACCEPT = 'text/html,application/xhtml+xml,application/xml;q=0.9,image/avif,image/webp,*/*;q=0.8';

function form(server: TestServer, path: string, body: string, headers: Record<string, string> = {}) {
  return server.call('POST', path, { rawBody: body, headers: { ...FORM, ...headers } });
}

async function latest(server: TestServer, wallId: number): Promise<number> {
  return newestOn(server, await server.login('demo'), wallId);
}

describe('GET / negotiates', () => {
  it.each([
    ['no Accept', 'json', undefined],
    ['*/* (curl, fetch, $.get)', 'json', '*/*'],
    ["jQuery's dataType json", 'json', 'application/json, text/javascript, */*; q=0.01'],
    ['a browser navigating', 'html', BROWSER_ACCEPT],
    ['text/html only', 'html', 'text/html'],
    ['text/* preferred', 'html', 'text/*, application/json;q=0.5'],
    ['text/html refused', 'json', 'text/html;q=0, */*'],
    ['a tie', 'json', 'text/html, application/json'],
    ['garbage', 'json', ';;,,q=;'],
  ])('%s → %s', async (_name, expected, accept) => {
    const server = await startTestServer();
    const reply = await server.call('GET', '/', accept === undefined ? {} : { headers: { accept } });
    expect(reply.status).toBe(200);
    expect(reply.headers.vary).toBe('Accept');
    if (expected === 'json') {
      expect(reply.headers['content-type']).toBe('application/json; charset=utf-8');
      expect(reply.json).toEqual({ ack: 'huzzah!' });
    } else {
      expect(reply.headers['content-type']).toBe('text/html; charset=utf-8');
      expect(reply.text).toContain('<title>Pollster</title>');
    }
  });

  it('keeps Vary: Origin next to Vary: Accept, and answers the preflight as before', async () => {
    const server = await startTestServer({ CORS_ORIGIN: 'https://chat.example' });
    const reply = await server.call('GET', '/');
    expect(reply.headers.vary).toBe('Origin, Accept');
    const preflight = await server.call('OPTIONS', '/');
    expect(preflight.status).toBe(204);
    expect(preflight.headers['access-control-allow-methods']).toBe('GET, POST, DELETE, OPTIONS');
    expect(preflight.headers['access-control-allow-headers']).toContain('X-CSRF-Token');
  });
});

describe('POST / is the long poll, with JSON or form bodies', () => {
  it('answers a jQuery-style form poll with the newer posts, the same as POST /poll', async () => {
    const server = await startTestServer();
    const session = await server.login('demo');
    const last1 = await latest(server, 1);
    const last2 = await latest(server, 2);
    const body = `session_id=${session}&last_post_id%5B1%5D=${last1}&last_post_id%5B2%5D=${last2}`;
    const poll = form(server, '/', body);
    await eventually(() => server.pollster.stats().waiting_polls === 1);
    const posted = await server.call('POST', '/walls/2/messages', { session, body: { content: 'for the form poll' } });
    const reply = await poll;
    expect(reply.status).toBe(200);
    expect(reply.json).toEqual({ walls: { 2: { posts: [posted.json] } } });

    const viaPoll = await form(server, '/poll', `session_id=${session}&last_post_id[2]=${last2}&timeout_ms=0`);
    expect(viaPoll.json).toEqual(reply.json);
    const viaJson = await server.call('POST', '/', { session, body: { last_post_id: { 2: last2 }, timeout_ms: 0 } });
    expect(viaJson.json).toEqual(reply.json);
  });

  it("keeps the originals' errors", async () => {
    const server = await startTestServer();
    const alice = await server.login('alice');
    const cases: Array<[string, string]> = [
      ['session_id=nope&last_post_id[1]=0', 'Invalid user!'],
      ['last_post_id[2]=0', 'Invalid user!'],
      [`session_id=${alice}&last_post_id[2]=0&last_post_id[3]=0`, 'Invalid parameters!'],
      [`session_id=${alice}`, 'Invalid parameters!'],
      [`session_id=${alice}&last_post_id=5`, 'Invalid parameters!'],
      [`session_id=${alice}&last_post_id[1]=x`, 'Invalid parameters!'],
      [`session_id=${alice}&last_post_id[1]=0&timeout_ms=soon`, 'Invalid parameters!'],
    ];
    for (const [body, error] of cases) {
      const reply = await form(server, '/', body);
      expect(reply.status, body).toBe(400);
      expect(reply.json, body).toEqual({ errors: [error] });
    }
  });

  it('refuses other body types with 415 before reading them', async () => {
    const server = await startTestServer();
    const session = await server.login('demo');
    for (const type of ['text/plain', 'multipart/form-data; boundary=x', 'application/xml', 'application/json; charset=latin1']) {
      for (const path of ['/', '/poll', '/sessions', '/walls/1/messages']) {
        const reply = await server.call('POST', path, {
          rawBody: 'x=1',
          headers: { 'content-type': type, authorization: `Bearer ${session}` },
        });
        expect(reply.status, `${type} on ${path}`).toBe(415);
        expect(reply.json).toEqual({
          errors: ['Content-Type must be application/json or application/x-www-form-urlencoded (UTF-8)'],
        });
      }
    }
  });

  it('a plain HTML form logs in and posts a message', async () => {
    const server = await startTestServer();
    const login = await form(server, '/sessions', 'user=demo');
    expect(login.status).toBe(201);
    const session = login.json.session_id as string;
    const posted = await form(server, '/walls/1/messages', `session_id=${session}&content=caf%C3%A9+%F0%9F%8E%89+%26+more`);
    expect(posted.status).toBe(201);
    expect(posted.json).toMatchObject({ wall_id: 1, user: 'demo', content: 'café 🎉 & more' });
    expect((await form(server, '/sessions', 'user=mallory')).json).toEqual({ errors: ['Invalid user!'] });
    expect((await form(server, '/walls/1/messages', 'content=hi')).status).toBe(401);
  });
});

describe('parseForm', () => {
  const parse = (text: string) => JSON.parse(JSON.stringify(parseForm(Buffer.from(text))));

  it('nests Rack-style keys as jQuery.param writes them', () => {
    expect(parse('session_id=abc&last_post_id%5B1%5D=56&last_post_id%5B2%5D=77')).toEqual({
      session_id: 'abc',
      last_post_id: { 1: '56', 2: '77' },
    });
    expect(parse('a=1+2%2B3&&b=&c&d[e][f]=g')).toEqual({ a: '1 2+3', b: '', c: '', d: { e: { f: 'g' } } });
    expect(parse('')).toEqual({});
    expect(Object.getPrototypeOf(parseForm(Buffer.from('__proto__[x]=1')))).toBe(null);
  });

  it.each(['a=1&a=2', 'a=1&a[b]=2', 'a[b]=1&a=2', 'a[]=1', 'a[b=1', 'a]=1', '[a]=1', '=1', 'a=%', 'a=%G1', 'a=%ff', 'a[b][c][d]=1'])(
    'refuses %s',
    (text) => {
      expect(() => parseForm(Buffer.from(text))).toThrow('Malformed form body');
    },
  );
});

describe('PUMA_WORKERS', () => {
  it('is another name for WEB_CONCURRENCY', () => {
    expect(loadConfig({ PUMA_WORKERS: '3' }).webConcurrency).toBe(3);
    expect(loadConfig({ WEB_CONCURRENCY: '2' }).webConcurrency).toBe(2);
    expect(loadConfig({ PUMA_WORKERS: '4', WEB_CONCURRENCY: '4' }).webConcurrency).toBe(4);
    expect(loadConfig({}).webConcurrency).toBe(1);
  });

  it('stops start-up with one line when both are set and differ, or when it is bad', () => {
    expect(() => loadConfig({ PUMA_WORKERS: '3', WEB_CONCURRENCY: '2' })).toThrow(
      new ConfigError('PUMA_WORKERS and WEB_CONCURRENCY name the same setting; set one, or both to the same value (got 3 and 2)'),
    );
    expect(() => loadConfig({ PUMA_WORKERS: 'three' })).toThrow(
      new ConfigError('PUMA_WORKERS must be an integer from 1 to 64 (got "three")'),
    );
  });
});

describe('schema step 2', () => {
  it('upgrades a version-1 database in place: walls get `public`, General becomes public, nothing is lost', () => {
    const path = join(tempDir(), 'v1.db');
    new Store(path).close();
    // Turn the fresh database back into what version 1 left on disk.
    const db = new Database(path);
    // The access-change log and its triggers came last (a trigger on walls.public would block the drop).
    for (const name of ['sessions', 'users', 'memberships', 'walls_deleted', 'walls_private']) db.exec(`DROP TRIGGER ${name}_changes`);
    db.exec('DROP TRIGGER changes_prune; DROP TABLE changes');
    db.exec('ALTER TABLE walls DROP COLUMN public');
    // Step 3 (session expiry) came later still.
    db.exec('DROP INDEX sessions_expires_at; ALTER TABLE sessions DROP COLUMN expires_at');
    // And a token session's grant and hard end (AUTH=jwt).
    db.exec('ALTER TABLE sessions DROP COLUMN hard_expires_at; ALTER TABLE sessions DROP COLUMN granted_walls');
    // So did bounded history's floor.
    db.exec('ALTER TABLE walls DROP COLUMN history_floor');
    db.prepare("INSERT INTO messages (wall_id, user_id, content, created_at) VALUES (2, 1, 'kept', 0)").run();
    db.pragma('user_version = 1');
    db.close();

    const store = new Store(path);
    try {
      expect(store.publicWalls().map((wall) => [wall.id, wall.name, wall.public])).toEqual([[1, 'General', true]]);
      const demo = store.userByName('demo')!;
      expect(store.wallsOf(demo.id).map((wall) => wall.public)).toEqual([true, false, false, false]);
      expect(store.messagesAfter(2, 0, 100).map((m) => m.content)).toContain('kept');
      expect(store.canRead(null, 1)).toBe(true);
      expect(store.canRead(null, 2)).toBe(false);
    } finally {
      store.close();
    }
    const again = new Database(path, { readonly: true });
    expect(again.pragma('user_version', { simple: true })).toBe(SQLITE_MIGRATIONS.length);
    again.close();
  });
});
