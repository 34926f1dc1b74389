/**
 * deploy/nginx.conf in front of Pollster on a unix socket: a real nginx on a
 * loopback port delivers a long poll and an SSE stream. `.ci/run` installs
 * Debian's nginx; without it this test fails saying so.
 */
import { join } from 'node:path';
import { Agent } from 'undici';
import { describe, expect, it, onTestFinished } from 'vitest';
import { nginxConfig, startNginx } from './helpers/nginx.js';
import { freePort } from './helpers/pg-cluster.js';
import { call, eventually, startTestServer, tempDir } from './helpers/server.js';
import { openStream } from './helpers/sse.js';

/** Pollster on a unix socket behind deploy/nginx.conf; resolves once nginx answers /ping. */
async function startBehindNginx(env: Record<string, string> = {}) {
  const dir = tempDir();
  const socket = join(dir, 'pollster.sock');
  const server = await startTestServer({ ...env, SOCKET: socket });
  const port = await freePort();
  const url = `http://127.0.0.1:${port}`;
  const agent = new Agent({ connections: 16 });
  onTestFinished(() => agent.close());
  await startNginx(nginxConfig(dir, socket, port), dir, url, agent);
  return { server, url, agent };
}

describe('behind nginx on a unix socket', () => {
  it('delivers a long poll and an SSE stream through deploy/nginx.conf', async () => {
    const { server, url, agent } = await startBehindNginx();

    const login = (await call(agent, url, 'POST', '/sessions', { body: { user: 'demo' } })).json;
    const session = login.session_id;
    const after = login.walls.find((w: { id: number }) => w.id === 1).latest_message_id;

    const poll = call(agent, url, 'POST', '/poll', { session, body: { last_post_id: { 1: after } }, timeoutMs: 20_000 });
    const stream = await openStream(agent, `${url}/check?session_id=${session}&walls=1`);
    await eventually(() => server.pollster.stats().waiting_polls === 2);
    expect(stream.headers['x-accel-buffering']).toBeUndefined(); // consumed by nginx
    expect(stream.headers['content-type']).toBe('text/event-stream; charset=utf-8');

    const posted = (await call(agent, url, 'POST', '/walls/1/messages', { session, body: { content: 'through nginx' } })).json;
    expect((await poll).json).toEqual({ walls: { 1: { posts: [posted] } } });
    const event = await stream.next((e) => e.event === 'refresh');
    expect(JSON.parse(event.data!).messages).toEqual([posted]);
    expect(event.id).toBe(String(posted.id));
    stream.close();
  });

  it('gives two clients behind nginx separate fair shares (X-Forwarded-For from a trusted peer)', async () => {
    const { server, url } = await startBehindNginx({ MAX_WAITS_PER_SESSION: '0', MAX_WAITS_PER_CLIENT: '1' });
    // Two client addresses on loopback: nginx sees each as $remote_addr.
    const [first, second] = ['127.0.0.2', '127.0.0.3'].map((localAddress) => {
      const agent = new Agent({ connections: 4, localAddress });
      onTestFinished(() => agent.close());
      return agent;
    });
    const login = (await call(first!, url, 'POST', '/sessions', { body: { user: 'demo' } })).json;
    const after = login.walls.find((w: { id: number }) => w.id === 1).latest_message_id;
    const wait = (agent: Agent) =>
      call(agent, url, 'POST', '/poll', {
        session: login.session_id,
        body: { last_post_id: { 1: after }, timeout_ms: 10_000 },
        timeoutMs: 15_000,
      });

    const held = wait(first!);
    await eventually(() => server.pollster.stats().waiting_polls === 1);
    const refused = await wait(first!);
    expect(refused.status).toBe(429);
    expect(refused.json).toEqual({ errors: ['Too many requests'] });
    const other = wait(second!);
    await eventually(() => server.pollster.stats().waiting_polls === 2);

    await call(first!, url, 'POST', '/walls/1/messages', { session: login.session_id, body: { content: 'both' } });
    expect((await held).status).toBe(200);
    expect((await other).status).toBe(200);
  });
});
