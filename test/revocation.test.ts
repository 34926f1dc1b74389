/**
 * A change of access made through the server API ends what it takes away,
 * in one process, in each POLL_MODE that holds waits on threads: a member
 * removed, a wall made private, a wall deleted, a user deleted, a user's
 * sessions revoked. The victim's held poll answers and her stream ends
 * within 1 s; a keeper on the same wall (or on another, when the wall goes)
 * receives every message. (WEB_CONCURRENCY: revocation-cluster.test.ts;
 * hosts on PostgreSQL: revocation-hosts.test.ts.)
 */
import { describe, it } from 'vitest';
import { API_KEY, CHANGES, changeEndsWaits } from './helpers/revocation.js';
import { startTestServer } from './helpers/server.js';

describe.each(['pool', 'multiplex'])('changes of access on one process (%s)', (mode) => {
  it.each(CHANGES)('%s', async (change) => {
    const server = await startTestServer({ POLL_MODE: mode, API_KEY, MAX_THREADS: '8' });
    await changeEndsWaits({ apiUrl: server.url, clientUrl: server.url }, change);
  });
});
