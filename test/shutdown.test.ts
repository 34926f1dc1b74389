/**
 * SIGTERM: stop accepting, answer waiting polls with what they have, end SSE
 * streams, close the pool and the database, exit 0 within 2 s. And a message
 * whose POST got 201 is on disk even if the process is killed right after.
 */
import { join } from 'node:path';
import { Agent } from 'undici';
import { describe, expect, it } from 'vitest';
import { SqliteStore as Store } from '../src/storage/sqlite-store.js';
import { spawnServer } from './helpers/process.js';
import { call, eventually, tempDir } from './helpers/server.js';
import { openStream } from './helpers/sse.js';

describe('graceful shutdown', () => {
  it('on SIGTERM answers waiting polls, ends streams and exits 0 within 2 s', async () => {
    const dir = tempDir();
    const server = await spawnServer({ DB_PATH: join(dir, 'p.db'), MAX_THREADS: '4' });
    const agent = new Agent();
    try {
      const login = (await call(agent, server.url, 'POST', '/sessions', { body: { user: 'demo' } })).json;
      const session = login.session_id;
      const poll = call(agent, server.url, 'POST', '/poll', {
        session,
        body: { last_post_id: { 1: login.walls[0].latest_message_id } },
        timeoutMs: 30_000,
      });
      const stream = await openStream(agent, `${server.url}/check?session_id=${session}`);
      await eventually(async () => (await call(agent, server.url, 'GET', '/stats')).json.waiting_polls === 2);

      const signalledAt = Date.now();
      server.child.kill('SIGTERM');
      const reply = await poll;
      expect(reply.status).toBe(200);
      expect(reply.json).toEqual({ walls: {} });
      await stream.ended;
      expect(await server.exited).toBe(0);
      expect(Date.now() - signalledAt).toBeLessThan(2000);
      expect(server.output()).toContain('shutting down');
    } finally {
      await agent.close();
    }
  });

  it('a message that got 201 survives SIGKILL right after', async () => {
    const dir = tempDir();
    const dbPath = join(dir, 'p.db');
    const server = await spawnServer({ DB_PATH: dbPath });
    const agent = new Agent();
    const ids: number[] = [];
    try {
      const session = (await call(agent, server.url, 'POST', '/sessions', { body: { user: 'demo' } })).json.session_id;
      for (let i = 0; i < 20; i++) {
        const reply = await call(agent, server.url, 'POST', '/walls/2/messages', { session, body: { content: `keep ${i}` } });
        expect(reply.status).toBe(201);
        ids.push(reply.json.id);
      }
      server.child.kill('SIGKILL');
      await server.exited;
    } finally {
      await agent.close();
    }
    const store = new Store(dbPath);
    try {
      const stored = store.messagesAfter(2, ids[0]! - 1, 100).map((m) => m.id);
      expect(stored).toEqual(ids);
    } finally {
      store.close();
    }
  });
});
