/**
 * Two Pollster hosts on one PostgreSQL database: a change of access made on
 * host A — through the server API, or a user's own logout — ends the waits
 * it concerns on host B within 1 s, through the database's NOTIFY on
 * `pollster_changes`. Before, a logout was relayed only between the
 * processes of one cluster: B's stream went on delivering private messages
 * and its held poll answered 200 `{"walls":{}}` after its timeout.
 */
import { describe, expect, it } from 'vitest';
import { usePostgres } from './helpers/postgres.js';
import { API_KEY, CHANGES, changeEndsWaits, once, stream, within } from './helpers/revocation.js';
import { eventually, newestOn, startTestServer, type TestServer } from './helpers/server.js';

const postgres = usePostgres();

async function twoHosts(): Promise<[TestServer, TestServer]> {
  const url = await postgres.freshDatabase();
  const a = await startTestServer({ DATABASE_URL: url, POLL_MODE: 'pool', API_KEY });
  const b = await startTestServer({ DATABASE_URL: url, POLL_MODE: 'multiplex', API_KEY });
  return [a, b];
}

describe('changes of access across two hosts on PostgreSQL', () => {
  it.each(CHANGES)('%s on host A ends the waits it concerns on host B', async (change) => {
    const [a, b] = await twoHosts();
    await changeEndsWaits({ apiUrl: a.url, clientUrl: b.url }, change);
  });

  it("a logout on host A ends the session's stream and held poll on host B", async () => {
    const [a, b] = await twoHosts();
    const session = await b.login('bob');
    const other = await b.login('bob');
    const last = await newestOn(b, session, 2);
    const mine = await stream(b.url, '/check?walls=2', session);
    const theirs = await stream(b.url, '/check?walls=2', other);
    const poll = b
      .call('POST', '/poll', { session, body: { last_post_id: { 2: last }, timeout_ms: 8000 }, timeoutMs: 15_000 })
      .then((reply) => ({ reply, at: Date.now() }));
    await eventually(() => b.pollster.stats().waiting_polls === 3);

    const started = Date.now();
    expect((await once(a.url, 'DELETE', '/sessions', { session })).status).toBe(204);
    await within(mine.ended, 'the stream on B');
    const { reply, at } = await within(poll, 'the held poll on B');
    expect(Date.now() - started).toBeLessThan(1000);
    expect(at - started).toBeLessThan(1000);
    expect(reply.status).toBe(400);
    expect(reply.json).toEqual({ errors: ['Invalid user!'] });
    // The next private messages reach the session that is still logged in, not the ended one.
    for (const content of ['private one', 'private two']) {
      expect((await a.call('POST', '/walls/2/messages', { session: other, body: { content } })).status).toBe(201);
    }
    const event = await theirs.next((e) => e.event === 'refresh' && e.data!.includes('private two'));
    expect(event).toBeDefined();
    expect(mine.events.filter((e) => e.event === 'refresh')).toEqual([]);
    expect((await b.call('GET', '/check?walls=2', { session })).status).toBe(401);
  });
});
