/**
 * `/healthz` (the process answers) and `/readyz` (it can serve): ready in
 * every mode, not ready while PostgreSQL is down (and ready again after) or
 * once shutdown has begun.
 */
import { describe, expect, it, onTestFinished } from 'vitest';
import { usePostgres } from './helpers/postgres.js';
import { eventually, startTestServer } from './helpers/server.js';

const postgres = usePostgres();

describe.each([{ POLL_MODE: 'pool' }, { POLL_MODE: 'multiplex' }, { POLL_MODE: 'inline' }])('health ($POLL_MODE)', (env) => {
  it('is alive and ready', async () => {
    const server = await startTestServer(env);
    expect(await server.call('GET', '/healthz')).toMatchObject({ status: 200, json: { alive: true } });
    expect(await server.call('GET', '/readyz')).toMatchObject({ status: 200, json: { ready: true } });
  });
});

describe('readiness', () => {
  it('answers 503 with a reason while PostgreSQL is down, and 200 again once it is back', async () => {
    const url = await postgres.freshDatabase();
    const cluster = await postgres.cluster();
    const server = await startTestServer({ DATABASE_URL: url });
    onTestFinished(() => cluster.start().catch(() => {}));
    expect((await server.call('GET', '/readyz')).status).toBe(200);

    await cluster.stop('fast');
    const down = await server.call('GET', '/readyz');
    expect(down).toMatchObject({ status: 503, json: { ready: false, reason: 'database unavailable' } });
    expect(down.headers['retry-after']).toBe('2');
    // Alive all the same: a supervisor must not restart a process that only waits for its database.
    expect((await server.call('GET', '/healthz')).status).toBe(200);

    await cluster.start();
    await eventually(async () => (await server.call('GET', '/readyz')).status === 200, 15_000);
  });

  it('is not ready once shutdown has begun', async () => {
    const server = await startTestServer();
    expect(await server.pollster.notReady()).toBeNull();
    const closing = server.pollster.close();
    expect(await server.pollster.notReady()).toBe('draining');
    await closing;
  });
});
