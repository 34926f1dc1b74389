/**
 * The PostgreSQL store offers what the SQLite store does: public walls for
 * anonymous readers, posting for members only, sessions that expire and end
 * on logout, and the schema and seed a fresh database gets (and keeps on a
 * second start).
 */
import pg from 'pg';
import { describe, expect, it } from 'vitest';
import { PG_MIGRATIONS } from '../src/storage/pg-schema.js';
import { usePostgres } from './helpers/postgres.js';
import { startTestServer } from './helpers/server.js';

const postgres = usePostgres();

describe('PostgreSQL store', () => {
  it('serves public walls to anonymous readers and lets only members post', async () => {
    const url = await postgres.freshDatabase();
    const server = await startTestServer({ DATABASE_URL: url });
    const anonymous = await server.call('GET', '/walls');
    expect(anonymous.json.walls.map((w: { id: number; public: boolean }) => [w.id, w.public])).toEqual([[1, true]]);
    expect((await server.call('GET', '/walls/1/messages')).json.messages.length).toBeGreaterThan(0);
    expect((await server.call('GET', '/walls/2/messages')).status).toBe(404);
    const poll = await server.call('POST', '/poll', { body: { last_post_id: { 1: 0, 2: 0 } } });
    expect(Object.keys(poll.json.walls)).toEqual(['1']);

    const bob = await server.login('bob');
    const notMember = await server.call('POST', '/walls/1/messages', { session: bob, body: { content: 'not a member' } });
    expect(notMember.status).toBe(403);
    const member = await server.call('POST', '/walls/2/messages', { session: bob, body: { content: 'a member' } });
    expect(member.status).toBe(201);
  });

  it("checks a poll's walls in one statement, however many it names", async () => {
    const url = await postgres.freshDatabase();
    const server = await startTestServer({ DATABASE_URL: url });
    const bob = await server.login('bob');
    const client = new pg.Client({ connectionString: url });
    await client.connect();
    try {
      // Each pooled statement commits its own transaction; the server's other clients
      // (listener heartbeat, pruners) add a few. Stats reach pg_stat_database within a second.
      const commits = async (): Promise<number> => {
        await new Promise((resolve) => setTimeout(resolve, 1200));
        await client.query('SELECT pg_stat_clear_snapshot()');
        return (await client.query('SELECT xact_commit::int AS n FROM pg_stat_database WHERE datname = current_database()')).rows[0].n;
      };
      const hundred = Object.fromEntries(Array.from({ length: 100 }, (_, i) => [i + 1, 0]));
      const before = await commits();
      const polls = 10;
      for (let i = 0; i < polls; i++) {
        const anonymous = await server.call('POST', '/poll', { body: { last_post_id: hundred, timeout_ms: 0 } });
        expect(Object.keys(anonymous.json.walls)).toEqual(['1']);
        const member = await server.call('POST', '/poll', { session: bob, body: { last_post_id: hundred, timeout_ms: 0 } });
        expect(Object.keys(member.json.walls).sort()).toEqual(['1', '2', '3']);
      }
      // Per poll: the session, the walls' permission, the read (and the session's slide). A check per wall was 100+.
      const perPoll = ((await commits()) - before - 1) / (2 * polls);
      expect(perPoll).toBeLessThan(5);
    } finally {
      await client.end();
    }
  });

  it('ends sessions on logout and after SESSION_TTL_S without use; prunes expired ones', async () => {
    const url = await postgres.freshDatabase();
    const server = await startTestServer({ DATABASE_URL: url, SESSION_TTL_S: '1' });
    const session = await server.login();
    expect((await server.call('GET', '/walls', { session })).status).toBe(200);
    expect((await server.call('DELETE', '/sessions', { session })).status).toBe(204);
    expect((await server.call('GET', '/walls', { session })).status).toBe(401);
    expect((await server.call('DELETE', '/sessions', { session })).status).toBe(401);

    const idle = await server.login();
    await new Promise((resolve) => setTimeout(resolve, 1200));
    expect((await server.call('GET', '/walls', { session: idle })).status).toBe(401);
    const client = new pg.Client({ connectionString: url });
    await client.connect();
    try {
      // The pruner runs every second with this TTL.
      const deadline = Date.now() + 5000;
      let left = 1;
      while (left > 0 && Date.now() < deadline) {
        left = (await client.query('SELECT count(*)::int AS n FROM sessions WHERE expires_at <= $1', [Date.now()])).rows[0].n;
        await new Promise((resolve) => setTimeout(resolve, 200));
      }
      expect(left).toBe(0);
    } finally {
      await client.end();
    }
  });

  it('creates the schema once, seeds an empty database once, and numbers messages with bigint ids', async () => {
    const url = await postgres.freshDatabase();
    const first = await startTestServer({ DATABASE_URL: url });
    await first.pollster.close();
    await startTestServer({ DATABASE_URL: url });
    const client = new pg.Client({ connectionString: url });
    await client.connect();
    try {
      const counts = await client.query(
        `SELECT (SELECT count(*) FROM walls)::int AS walls, (SELECT count(*) FROM users)::int AS users,
                (SELECT count(*) FROM messages)::int AS messages, (SELECT array_agg(version) FROM pollster_schema_version) AS versions`,
      );
      expect(counts.rows[0]).toEqual({ walls: 4, users: 3, messages: 5, versions: PG_MIGRATIONS.map((_, index) => index + 1) });
      const types = await client.query(
        `SELECT table_name, column_name, data_type FROM information_schema.columns
         WHERE table_schema = 'public' AND column_name IN ('id', 'wall_id', 'public', 'expires_at') ORDER BY 1, 2`,
      );
      expect(types.rows.filter((r) => r.column_name === 'id' && r.table_name !== 'sessions').every((r) => r.data_type === 'bigint')).toBe(
        true,
      );
      expect(types.rows).toContainEqual({ table_name: 'walls', column_name: 'public', data_type: 'boolean' });
      expect(types.rows).toContainEqual({ table_name: 'sessions', column_name: 'expires_at', data_type: 'bigint' });
    } finally {
      await client.end();
    }
  });
});
