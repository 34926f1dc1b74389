/**
 * PostgreSQL's access cache (`src/storage/pg-access-cache.ts`): what a
 * returning poll would otherwise ask the database again — its session, the
 * walls it may read — is kept for at most a second, and a revocation
 * announced on `pollster_changes` ends it at once, on every host. The
 * bound holds without the announcement too (the cache's own TTL).
 */
import { describe, expect, it } from 'vitest';
import { sessionKey } from '../src/storage/changes.js';
import { PgAccessCache, TTL_MS } from '../src/storage/pg-access-cache.js';
import { usePostgres } from './helpers/postgres.js';
import { API_KEY, api, once } from './helpers/revocation.js';
import { startTestServer } from './helpers/server.js';

const postgres = usePostgres();
const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

describe('the access cache', () => {
  const bob = { id: 7, name: 'bob' };
  const far = Date.now() + 3_600_000;

  it('forgets a session on its announcement, its user, or a lost connection, and by itself within the TTL', async () => {
    const cache = new PgAccessCache();
    const keep = (id: string) => cache.keepSession(id, bob, far, null, cache.generation);
    keep('s1');
    expect(cache.session('s1', Date.now())?.user).toEqual(bob);
    cache.forget({ kind: 'session', userId: 7, key: sessionKey('s1') });
    expect(cache.session('s1', Date.now())).toBeUndefined();
    keep('s2');
    cache.forget({ kind: 'user', userId: 7 });
    expect(cache.session('s2', Date.now())).toBeUndefined();
    keep('s3');
    cache.forget({ kind: 'all' });
    expect(cache.session('s3', Date.now())).toBeUndefined();
    keep('s4');
    // A session's own expiry ends it as the row would.
    expect(cache.session('s4', far)).toBeUndefined();
    keep('s5');
    await sleep(TTL_MS + 20);
    expect(cache.session('s5', Date.now())).toBeUndefined();
  });

  it('forgets who may read a wall on a member removed or the wall changed; keeps nothing read before a change', () => {
    const cache = new PgAccessCache();
    cache.keepReadable(7, [1, 2], cache.generation);
    cache.keepReadable(null, [1], cache.generation);
    expect([cache.mayRead(7, 1), cache.mayRead(7, 2), cache.mayRead(null, 1), cache.mayRead(8, 1)]).toEqual([true, true, true, false]);
    cache.forget({ kind: 'member', wallId: 2, userId: 7 });
    expect(cache.mayRead(7, 2)).toBe(false);
    cache.forget({ kind: 'wall', wallId: 1 });
    expect([cache.mayRead(7, 1), cache.mayRead(null, 1)]).toEqual([false, false]);
    // A query that began before a change may answer from before it: not kept.
    const began = cache.generation;
    cache.forget({ kind: 'member', wallId: 3, userId: 9 });
    cache.keepReadable(7, [3], began);
    cache.keepSession('late', bob, far, null, began);
    expect(cache.mayRead(7, 3)).toBe(false);
    expect(cache.session('late', Date.now())).toBeUndefined();
  });
});

describe('cached access on two PostgreSQL hosts', () => {
  /** Until `refused` answers true on host B, asking every 10 ms; resolves with the ms since `since`. */
  async function refusedWithin(since: number, refused: () => Promise<boolean>): Promise<number> {
    while (!(await refused())) {
      if (Date.now() - since > 3000) throw new Error('still allowed 3 s after the change');
      await sleep(10);
    }
    return Date.now() - since;
  }

  it('a session revoked or a member removed on host A is refused on host B within 1 s, however warm its cache', async () => {
    const url = await postgres.freshDatabase();
    const a = await startTestServer({ DATABASE_URL: url, API_KEY });
    const b = await startTestServer({ DATABASE_URL: url, API_KEY });
    const wall = (await api(a.url, 'POST', '/api/walls', { name: 'cached' })).json.id as number;
    for (const name of ['carol', 'dave']) {
      expect((await api(a.url, 'POST', '/api/users', { name })).status).toBe(201);
      expect((await api(a.url, 'PUT', `/api/walls/${wall}/members/${name}`)).status).toBe(204);
    }
    const carol = (await once(b.url, 'POST', '/sessions', { body: { user: 'carol' } })).json.session_id as string;
    const dave = (await once(b.url, 'POST', '/sessions', { body: { user: 'dave' } })).json.session_id as string;
    const poll = (session: string) => once(b.url, 'POST', '/poll', { session, body: { last_post_id: { [wall]: 0 }, timeout_ms: 0 } });
    // Warm: the same questions answered from the cache now.
    for (let i = 0; i < 3; i++) {
      expect((await poll(carol)).status).toBe(200);
      expect((await once(b.url, 'GET', `/walls/${wall}/messages`, { session: dave })).status).toBe(200);
    }

    let started = Date.now();
    expect((await api(a.url, 'DELETE', '/api/users/carol/sessions')).status).toBe(204);
    expect(await refusedWithin(started, async () => (await poll(carol)).status === 400)).toBeLessThan(1000);
    expect((await once(b.url, 'GET', '/walls', { session: carol })).status).toBe(401);

    started = Date.now();
    expect((await api(a.url, 'DELETE', `/api/walls/${wall}/members/dave`)).status).toBe(204);
    const wallGone = async () => (await once(b.url, 'GET', `/walls/${wall}/messages`, { session: dave })).status === 404;
    expect(await refusedWithin(started, wallGone)).toBeLessThan(1000);
    expect((await poll(dave)).status).toBe(400);
    const post = await once(b.url, 'POST', `/walls/${wall}/messages`, { session: dave, body: { content: 'not a member' } });
    expect(post.status).toBe(404);
  });
});
