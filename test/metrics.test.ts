/**
 * `GET /metrics` (Prometheus text from prom-client) and what `/stats` and
 * `/metrics` may show: the pool, task counters, queue-wait and delivery
 * histograms, process metrics and HTTP requests by route pattern — and no
 * session ids, paths or tokens. `METRICS_TOKEN` guards both.
 */
import { describe, expect, it } from 'vitest';
import { eventually, startTestServer, type TestServer } from './helpers/server.js';
import { sampleValue } from './helpers/prometheus.js';
import { openStream } from './helpers/sse.js';

async function scrape(server: TestServer, headers: Record<string, string> = {}): Promise<string> {
  const reply = await server.call('GET', '/metrics', { headers });
  expect(reply.status).toBe(200);
  expect(reply.headers['content-type']).toMatch(/^text\/plain; version=0\.0\.4/);
  return reply.text;
}

describe('GET /metrics', () => {
  it.each(['pool', 'multiplex', 'inline'])('shows the pool, tasks and process metrics in %s mode', async (mode) => {
    const server = await startTestServer({ POLL_MODE: mode, MIN_THREADS: '2', MAX_THREADS: '2' });
    // A poll that waits and times out is a pool task (/hello jobs run in their own lane).
    const session = await server.login();
    const latest = (await server.call('GET', '/walls', { session })).json.walls[0].latest_message_id;
    await server.call('POST', '/poll', { session, body: { last_post_id: { 1: latest }, timeout_ms: 50 } });
    await server.call('GET', '/hello?ms=1');
    const text = await scrape(server);
    expect(sampleValue(text, 'pollster_hello_running')).toBe(0);
    expect(sampleValue(text, 'pollster_hello_queued')).toBe(0);
    expect(sampleValue(text, 'pollster_sse_stalled_total')).toBe(0);
    expect(sampleValue(text, 'pollster_waits_refused_total')).toBe(0);
    expect(sampleValue(text, 'pollster_pool_threads')).toBe(mode === 'inline' ? 0 : 2);
    expect(sampleValue(text, 'pollster_pool_capacity')).toBe(server.pollster.stats().pool.capacity);
    expect(sampleValue(text, 'pollster_tasks_total', { outcome: 'completed' })).toBeGreaterThanOrEqual(1);
    expect(sampleValue(text, 'pollster_tasks_total', { outcome: 'failed' })).toBe(0);
    expect(sampleValue(text, 'pollster_queue_wait_seconds_count')).toBeGreaterThanOrEqual(1);
    // collectDefaultMetrics
    expect(sampleValue(text, 'process_resident_memory_bytes')).toBeGreaterThan(0);
    expect(sampleValue(text, 'nodejs_eventloop_lag_seconds')).toBeDefined();
  });

  it('counts held polls and open streams, and observes delivery post → answer', async () => {
    const server = await startTestServer({ MAX_THREADS: '4' });
    const session = await server.login();
    const latest = (await server.call('GET', '/walls', { session })).json.walls[0].latest_message_id;
    const held = server.call('POST', '/poll', { session, body: { last_post_id: { 1: latest }, timeout_ms: 10_000 } });
    const stream = await openStream(server.agent, `${server.url}/check?session_id=${session}&walls=2`);
    await eventually(() => server.pollster.stats().waiting_polls === 2);
    let text = await scrape(server);
    expect(sampleValue(text, 'pollster_polls_held')).toBe(2);
    expect(sampleValue(text, 'pollster_streams_open')).toBe(1);
    expect(sampleValue(text, 'pollster_pool_busy')).toBe(2);
    expect(sampleValue(text, 'pollster_delivery_seconds_count', { transport: 'poll' })).toBe(0);

    await server.call('POST', '/walls/1/messages', { session, body: { content: 'delivered' } });
    expect((await held).json.walls['1'].posts).toHaveLength(1);
    await server.call('POST', '/walls/2/messages', { session, body: { content: 'streamed' } });
    await stream.next((event) => event.event === 'refresh');
    stream.close();
    await eventually(() => server.pollster.stats().open_streams === 0);

    text = await scrape(server);
    expect(sampleValue(text, 'pollster_delivery_seconds_count', { transport: 'poll' })).toBe(1);
    expect(sampleValue(text, 'pollster_delivery_seconds_count', { transport: 'sse' })).toBe(1);
    // On loopback a wake takes well under a second.
    expect(sampleValue(text, 'pollster_delivery_seconds_bucket', { transport: 'poll', le: '1' })).toBe(1);
    expect(sampleValue(text, 'pollster_streams_open')).toBe(0);
  });

  it('does not count a catch-up (history the client asked for) as delivery', async () => {
    const server = await startTestServer();
    const session = await server.login();
    const reply = await server.call('POST', '/poll', { session, body: { last_post_id: { 1: 0 } } });
    expect(reply.json.walls['1'].posts.length).toBeGreaterThan(0);
    expect(sampleValue(await scrape(server), 'pollster_delivery_seconds_count', { transport: 'poll' })).toBe(0);
  });

  it('counts HTTP requests by method, route pattern and status', async () => {
    const server = await startTestServer();
    const session = await server.login();
    for (const id of [1, 2, 3]) await server.call('GET', `/walls/${id}/messages`, { session });
    await server.call('GET', '/walls/1/messages', { session: 'not-a-session' });
    await server.call('GET', '/no/such/path/123');
    const text = await scrape(server);
    expect(sampleValue(text, 'pollster_http_requests_total', { method: 'GET', route: '/walls/:id/messages', status: '200' })).toBe(3);
    expect(sampleValue(text, 'pollster_http_requests_total', { method: 'GET', route: '/walls/:id/messages', status: '401' })).toBe(1);
    expect(sampleValue(text, 'pollster_http_requests_total', { method: 'POST', route: '/sessions', status: '201' })).toBe(1);
    expect(sampleValue(text, 'pollster_http_requests_total', { route: 'unmatched', status: '404' })).toBe(1);
    expect(sampleValue(text, 'pollster_http_request_duration_seconds_count', { route: '/walls/:id/messages' })).toBe(4);
    // Raw URLs never become labels.
    expect(text).not.toContain('/walls/1/');
    expect(text).not.toContain('/no/such/path');
  });
});

describe('what /stats and /metrics expose', () => {
  it('shows no session ids, file paths or environment', async () => {
    const server = await startTestServer({ MAX_THREADS: '2' });
    const session = await server.login();
    const held = server.call('POST', '/poll', { session, body: { last_post_id: { 1: 1e9 }, timeout_ms: 1000 } });
    await eventually(() => server.pollster.stats().waiting_polls === 1);
    const stats = await server.call('GET', `/stats?session_id=${session}`);
    const metrics = await server.call('GET', `/metrics?session_id=${session}`);
    for (const text of [stats.text, metrics.text]) {
      expect(text).not.toContain(session);
      expect(text).not.toContain(server.dir);
      expect(text).not.toContain(process.cwd());
      expect(text).not.toContain('pollster.db');
      expect(text).not.toMatch(/"(env|argv|execArgv|cwd|db_path)"/);
    }
    expect((await held).json).toEqual({ walls: {} });
  });

  it('requires Authorization: Bearer <METRICS_TOKEN> on both when the token is set', async () => {
    const token = 'metrics-token-0123456789abcdef';
    const server = await startTestServer({ METRICS_TOKEN: token });
    const session = await server.login();
    for (const path of ['/stats', '/metrics']) {
      const refused: Array<Record<string, string>> = [
        {},
        { authorization: 'Bearer wrong-token-0123456789abcdef' },
        { authorization: `Basic ${token}` },
        { authorization: `Bearer ${session}` },
      ];
      for (const headers of refused) {
        const reply = await server.call('GET', path, { headers });
        expect(reply.status, `${path} with ${JSON.stringify(headers)}`).toBe(401);
        expect(reply.json).toEqual({ errors: ['Unauthorized'] });
        expect(reply.text).not.toContain(token);
      }
      expect((await server.call('GET', path, { headers: { authorization: `Bearer ${token}` } })).status).toBe(200);
    }
    // Other routes do not care.
    expect((await server.call('GET', '/ping')).status).toBe(200);
  });

  it('needs no token when METRICS_TOKEN is unset', async () => {
    const server = await startTestServer();
    expect((await server.call('GET', '/stats')).status).toBe(200);
    expect((await server.call('GET', '/metrics')).status).toBe(200);
  });
});
