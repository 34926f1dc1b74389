/**
 * A request target that does not parse gets 400;
 * an exception while a handler sets headers or writes becomes a logged 500
 * (or a cut connection once headers are out), never a crashed process; no
 * response carries a stack trace. Plus CORS with a list of origins.
 */
import { once } from 'node:events';
import type { AddressInfo } from 'node:net';
import { Agent, request } from 'undici';
import { describe, expect, it, onTestFinished } from 'vitest';
import { loadConfig } from '../src/config.js';
import { createHttpServer } from '../src/http/http-server.js';
import type { Method, RouteHandler } from '../src/http/context.js';
import { captureLog } from './helpers/log.js';
import { rawText } from './helpers/raw-http.js';
import { call, startTestServer } from './helpers/server.js';

const raw = (url: string, data: string): Promise<string> => rawText(url, data);

/** A bare HTTP server with the given routes, on port 0, closed after the test. */
async function serve(routes: Array<[Method, string, RouteHandler]>, env: Record<string, string> = {}) {
  const log = captureLog('debug');
  const server = createHttpServer(loadConfig({ PORT: '0', ...env }), routes, log.logger);
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  const agent = new Agent();
  onTestFinished(async () => {
    server.closeAllConnections();
    server.close();
    await agent.close();
  });
  const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  return { url, log, agent };
}

describe('error responses', () => {
  it('answers a request target that cannot be parsed with 400 Malformed request', async () => {
    const server = await startTestServer();
    const answer = await raw(server.url, 'GET http://[ HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n');
    expect(answer).toMatch(/^HTTP\/1\.1 400 /);
    expect(answer.slice(answer.indexOf('\r\n\r\n') + 4)).toBe('{"errors":["Malformed request"]}');
    expect((await server.call('GET', '/ping')).status).toBe(200);
  });

  it('reads a target that starts with // as a path, and an absolute target by its path', async () => {
    const server = await startTestServer();
    const get = (target: string) => raw(server.url, `GET ${target} HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n`);
    // Resolved against a base, //evil/ping would be host "evil", path "/ping".
    expect(await get('//evil/ping')).toMatch(/^HTTP\/1\.1 404 /);
    expect(await get('http://elsewhere.example/ping')).toMatch(/^HTTP\/1\.1 200 /);
  });

  it('turns a header Node refuses into a logged 500, and keeps serving', async () => {
    const { url, log, agent } = await serve([
      ['GET', '/bad-header', ({ res }) => void res.setHeader('X-Bad', 'a\r\nInjected: yes')],
      ['GET', '/bad-latin1', ({ res }) => void res.writeHead(200, { 'X-Bad': 'ünïcödé ✓' }).end()],
      ['GET', '/ok', ({ res }) => void res.writeHead(200).end('ok')],
    ]);
    for (const path of ['/bad-header', '/bad-latin1']) {
      const reply = await call(agent, url, 'GET', path);
      expect(reply.status).toBe(500);
      expect(reply.json).toEqual({ errors: ['Internal error'] });
      expect(reply.headers.injected).toBeUndefined();
    }
    expect(log.text()).toContain('ERR_INVALID_CHAR');
    expect((await call(agent, url, 'GET', '/ok')).text).toBe('ok');
  });

  it('cuts the connection when a handler fails after its headers went out', async () => {
    const { url, log, agent } = await serve([
      [
        'GET',
        '/half',
        async ({ res }) => {
          res.writeHead(200, { 'Content-Type': 'text/plain' });
          res.write('partial');
          await new Promise((resolve) => setTimeout(resolve, 10));
          throw new Error('failed mid-body');
        },
      ],
      ['GET', '/ok', ({ res }) => void res.writeHead(200).end('ok')],
    ]);
    const response = await request(`${url}/half`, { dispatcher: agent });
    expect(response.statusCode).toBe(200);
    await expect(response.body.text()).rejects.toThrow();
    expect(log.text()).toContain('failed mid-body');
    expect((await call(agent, url, 'GET', '/ok')).text).toBe('ok');
  });

  it('never puts a stack trace in a response; the log has it', async () => {
    const log = captureLog('debug');
    const server = await startTestServer({}, log.logger);
    const session = await server.login();
    server.pollster.store.wallsOf = () => {
      throw new TypeError('cannot read the walls');
    };
    const reply = await server.call('GET', '/walls', { session });
    expect(reply.status).toBe(500);
    expect(reply.text).toBe('{"errors":["Internal error"]}');
    expect(log.text()).toContain('cannot read the walls');
    expect(log.text()).toMatch(/"stack":"TypeError: cannot read the walls\\n\s+at /);
  });
});

describe('CORS_ORIGIN', () => {
  it('with several origins, echoes a listed Origin and allows no other', async () => {
    const { url, agent } = await serve([['GET', '/ok', ({ res }) => void res.writeHead(200).end('ok')]], {
      CORS_ORIGIN: 'https://chat.example, http://localhost:8080',
    });
    const from = async (origin?: string) => (await call(agent, url, 'GET', '/ok', { headers: origin ? { origin } : {} })).headers;
    expect((await from('http://localhost:8080'))['access-control-allow-origin']).toBe('http://localhost:8080');
    expect((await from('https://chat.example'))['access-control-allow-origin']).toBe('https://chat.example');
    expect((await from('https://evil.example'))['access-control-allow-origin']).toBeUndefined();
    expect((await from())['access-control-allow-origin']).toBeUndefined();
    expect((await from('https://evil.example')).vary).toBe('Origin');
  });
});
