/**
 * PostgreSQL going away and coming back, with a real cluster stopped and
 * started under a running Pollster: requests that need the database get one
 * clear 503, waiting polls keep waiting and get their messages afterwards,
 * a lost NOTIFY is caught up, and an unreachable DATABASE_URL fails start-up
 * with one line.
 */
import { spawn } from 'node:child_process';
import pg from 'pg';
import { describe, expect, it, onTestFinished } from 'vitest';
import { ConfigError, loadConfig } from '../src/config.js';
import { freePort } from './helpers/pg-cluster.js';
import { usePostgres } from './helpers/postgres.js';
import { ROOT } from './helpers/process.js';
import { eventually, newestOn, startTestServer } from './helpers/server.js';

const postgres = usePostgres();

async function sql(url: string, text: string, values: unknown[] = []): Promise<pg.QueryResult> {
  const client = new pg.Client({ connectionString: url });
  await client.connect();
  try {
    return await client.query(text, values);
  } finally {
    await client.end();
  }
}

describe('PostgreSQL down and back', () => {
  it('answers 503 Database unavailable while it is down; polls wait through it and get their messages after', async () => {
    const url = await postgres.freshDatabase();
    const cluster = await postgres.cluster();
    const server = await startTestServer({ DATABASE_URL: url, MAX_THREADS: '4' });
    onTestFinished(() => cluster.start().catch(() => {}));
    const session = await server.login();
    const last = await newestOn(server, session, 1);
    const longPoll = server.call('POST', '/poll', { session, body: { last_post_id: { 1: last }, timeout_ms: 25_000 }, timeoutMs: 30_000 });
    const shortPoll = server.call('POST', '/poll', { session, body: { last_post_id: { 1: last }, timeout_ms: 1500 } });
    await eventually(() => server.pollster.stats().waiting_polls === 2);

    await cluster.stop('fast');
    await eventually(() => (server.pollster.stats() as any).database.listening === false);

    const started = Date.now();
    const replies = await Promise.all([
      ...Array.from({ length: 20 }, () => server.call('GET', '/walls', { session })),
      server.call('POST', '/sessions', { body: { user: 'demo' } }),
      server.call('POST', '/walls/1/messages', { session, body: { content: 'lost?' } }),
      server.call('POST', '/poll', { session, body: { last_post_id: { 1: 0 } } }),
      server.call('GET', `/check?session_id=${session}`),
    ]);
    for (const reply of replies) {
      expect(reply.status).toBe(503);
      expect(reply.json).toEqual({ errors: ['Database unavailable'] });
      expect(Number(reply.headers['retry-after'])).toBeGreaterThan(0);
    }
    // A refused connection is reported at once, not after a timeout.
    expect(Date.now() - started).toBeLessThan(5000);
    expect((await server.call('GET', '/ping')).json).toEqual({ ack: 'huzzah!' });
    const stats = await server.call('GET', '/stats');
    expect(stats.status).toBe(200);
    expect(stats.json.database).toMatchObject({ backend: 'postgres', listening: false });
    expect(stats.json.pool.failed).toBe(0);

    // The short poll answers empty at its timeout; the long one keeps waiting.
    expect((await shortPoll).json).toEqual({ walls: {} });
    expect(server.pollster.stats().waiting_polls).toBe(1);

    await cluster.start();
    // Written by another program the moment the database is back: the
    // listener's catch-up read (or its NOTIFY, if it is back already) delivers it.
    const { rows } = await sql(url, "INSERT INTO messages (wall_id, user_id, content) VALUES (1, 1, 'after the outage') RETURNING id");
    const reply = await longPoll;
    expect(reply.status).toBe(200);
    expect(reply.json.walls['1'].posts.map((p: { id: number; content: string }) => [p.id, p.content])).toEqual([
      [Number(rows[0].id), 'after the outage'],
    ]);
    await eventually(() => (server.pollster.stats() as any).database.listening === true);
    const after = await server.call('POST', '/walls/1/messages', { session, body: { content: 'and new posts' } });
    expect(after.status).toBe(201);
  });

  it('catches up on a message whose NOTIFY was lost while the LISTEN connection was down', async () => {
    const url = await postgres.freshDatabase();
    const server = await startTestServer({ DATABASE_URL: url });
    const session = await server.login('bob');
    const last = await newestOn(server, session, 2);
    const poll = server.call('POST', '/poll', { session, body: { last_post_id: { 2: last }, timeout_ms: 20_000 }, timeoutMs: 25_000 });
    await eventually(() => server.pollster.stats().waiting_polls === 1);
    // One round trip: the listener is cut off, then the row is written before
    // it can reconnect (its first retry waits 100 ms), so its NOTIFY reaches no one.
    const database = new URL(url).pathname.slice(1);
    await sql(
      url,
      `SELECT pg_terminate_backend(pid) FROM pg_stat_activity
         WHERE application_name = 'pollster-listener' AND datname = '${database}';
       INSERT INTO messages (wall_id, user_id, content) VALUES (2, 3, 'while nobody listened');`,
    );
    const reply = await poll;
    expect(reply.json.walls['2'].posts.map((p: { content: string }) => p.content)).toEqual(['while nobody listened']);
    const stats = server.pollster.stats() as any;
    expect(stats.database.reconnects).toBeGreaterThanOrEqual(1);
    expect(stats.database.listening).toBe(true);
  });
});

describe('a LISTEN connection that dies silently', () => {
  it('is noticed by its heartbeat, replaced, and caught up', async () => {
    const url = await postgres.freshDatabase();
    const server = await startTestServer({ DATABASE_URL: url });
    const session = await server.login('bob');
    const last = await newestOn(server, session, 3);
    const poll = server.call('POST', '/poll', { session, body: { last_post_id: { 3: last }, timeout_ms: 25_000 }, timeoutMs: 30_000 });
    await eventually(() => server.pollster.stats().waiting_polls === 1);
    // Freeze the listener's server process: its socket stays open, nothing
    // arrives on it, as when a network path dies without a FIN.
    const database = new URL(url).pathname.slice(1);
    const { rows } = await sql(
      url,
      `SELECT pid FROM pg_stat_activity WHERE application_name = 'pollster-listener' AND datname = '${database}'`,
    );
    const frozen = Number(rows[0].pid);
    process.kill(frozen, 'SIGSTOP');
    onTestFinished(() => {
      try {
        process.kill(frozen, 'SIGCONT');
      } catch {
        // Already gone.
      }
    });
    await sql(url, "INSERT INTO messages (wall_id, user_id, content) VALUES (3, 3, 'nobody hears this NOTIFY')");
    const reply = await poll;
    expect(reply.json.walls['3'].posts.map((p: { content: string }) => p.content)).toEqual(['nobody hears this NOTIFY']);
    expect((server.pollster.stats() as any).database.reconnects).toBeGreaterThanOrEqual(1);
    process.kill(frozen, 'SIGCONT');
  });
});

describe('start-up and config', () => {
  it('an unreachable DATABASE_URL fails start-up with one clear line', async () => {
    const port = await freePort();
    const child = spawn(process.execPath, ['--import', 'tsx', 'src/main.ts'], {
      cwd: ROOT,
      env: { ...process.env, PORT: '0', DATABASE_URL: `postgres://pollster:secret@127.0.0.1:${port}/chat` },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    onTestFinished(() => {
      if (child.exitCode === null) child.kill('SIGKILL');
    });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (chunk) => (stdout += chunk));
    child.stderr.on('data', (chunk) => (stderr += chunk));
    const code = await new Promise((resolve) => child.once('exit', resolve));
    expect(code).toBe(1);
    expect(stdout).toBe('');
    expect(stderr).toMatch(
      new RegExp(`^pollster: could not start: cannot connect to PostgreSQL at 127\\.0\\.0\\.1:${port}/chat: .*ECONNREFUSED.*\\n$`),
    );
    expect(stderr).not.toContain('secret');
  });

  it.each([
    [
      { DATABASE_URL: 'mysql://localhost/chat' },
      'DATABASE_URL must be a postgres:// or postgresql:// URL (or unset for SQLite at DB_PATH)',
    ],
    [
      { DATABASE_URL: 'postgres://localhost/chat', POLL_MODE: 'inline' },
      'POLL_MODE=inline needs SQLite: use pool or multiplex with DATABASE_URL',
    ],
    [{ PG_POOL_SIZE: '0' }, 'PG_POOL_SIZE must be an integer from 1 to 1000 (got "0")'],
  ])('%o is refused', (env, message) => {
    expect(() => loadConfig(env)).toThrow(new ConfigError(message));
  });

  it('reads DATABASE_URL and PG_POOL_SIZE', () => {
    expect(loadConfig({ DATABASE_URL: 'postgresql://u:p@db:5432/chat', PG_POOL_SIZE: '4' })).toMatchObject({
      databaseUrl: 'postgresql://u:p@db:5432/chat',
      pgPoolSize: 4,
    });
    expect(loadConfig({})).toMatchObject({ databaseUrl: null, pgPoolSize: 10 });
  });
});

describe('text PostgreSQL cannot hold', () => {
  it('U+0000 in content is refused with 400, and in a user name or session it matches nothing (no 500)', async () => {
    const envs: Array<Record<string, string>> = [{}, { DATABASE_URL: await postgres.freshDatabase() }];
    for (const env of envs) {
      const server = await startTestServer(env);
      const session = await server.login();
      const post = await server.call('POST', '/walls/1/messages', { session, body: { content: 'a\u0000b' } });
      expect(post.status).toBe(400);
      expect(post.json).toEqual({ errors: ['content must not contain U+0000'] });
      const login = await server.call('POST', '/sessions', { body: { user: 'demo\u0000' } });
      expect(login.json).toEqual({ errors: ['Invalid user!'] });
      const walls = await server.call('GET', '/walls?session_id=x%00y');
      expect(walls.status).toBe(401);
    }
  });
});
