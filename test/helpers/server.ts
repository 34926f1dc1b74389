/**
 * Starts a real Pollster on an ephemeral port with its own temporary database,
 * and registers its cleanup with vitest so every test leaves nothing behind.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Logger } from 'pino';
import { Agent, request } from 'undici';
import { onTestFinished } from 'vitest';
import { startPollster, type Pollster } from '../../src/app.js';
import { loadConfig } from '../../src/config.js';

export interface TestServer {
  pollster: Pollster;
  url: string;
  dbPath: string;
  /** What `npm run post -- --db` takes: the DATABASE_URL, or the SQLite file. */
  database: string;
  dir: string;
  agent: Agent;
  call(method: string, path: string, options?: CallOptions): Promise<Reply>;
  /** A fresh session for `user`. */
  login(user?: string): Promise<string>;
}

export interface CallOptions {
  body?: unknown;
  rawBody?: string | Buffer;
  headers?: Record<string, string>;
  session?: string;
  timeoutMs?: number;
  signal?: AbortSignal;
}

export interface Reply {
  status: number;
  headers: Record<string, string | string[] | undefined>;
  text: string;
  json: any;
}

export function tempDir(prefix = 'pollster-test-'): string {
  const dir = mkdtempSync(join(tmpdir(), prefix));
  onTestFinished(() => rmSync(dir, { recursive: true, force: true }));
  return dir;
}

export async function startTestServer(env: Record<string, string> = {}, logger?: Logger): Promise<TestServer> {
  const dir = tempDir();
  const dbPath = join(dir, 'pollster.db');
  const config = loadConfig({ PORT: '0', LOG_LEVEL: 'silent', DB_PATH: dbPath, AUTH: 'demo', ...env });
  const pollster = await startPollster(config, logger);
  // Enough connections that held polls never serialise the client.
  const agent = new Agent({ connections: 256, bodyTimeout: 0, headersTimeout: 0 });
  onTestFinished(async () => {
    await pollster.close();
    await agent.close();
  });
  const server: TestServer = {
    pollster,
    url: pollster.url,
    dbPath,
    database: config.databaseUrl ?? dbPath,
    dir,
    agent,
    call: (method, path, options = {}) => call(agent, pollster.url, method, path, options),
    async login(user = 'demo') {
      const reply = await server.call('POST', '/sessions', { body: { user } });
      if (reply.status !== 201) throw new Error(`login failed: ${reply.status} ${reply.text}`);
      return reply.json.session_id as string;
    },
  };
  return server;
}

export async function call(dispatcher: Agent, origin: string, method: string, path: string, options: CallOptions = {}): Promise<Reply> {
  const headers: Record<string, string> = { ...options.headers };
  let body: string | Buffer | undefined = options.rawBody;
  if (options.body !== undefined) {
    body = JSON.stringify(options.body);
    headers['content-type'] ??= 'application/json';
  }
  if (options.session) headers.authorization = `Bearer ${options.session}`;
  const response = await request(new URL(path, origin), {
    method: method as 'GET',
    headers,
    body,
    dispatcher,
    signal: options.signal ?? AbortSignal.timeout(options.timeoutMs ?? 10_000),
  });
  const text = await response.body.text();
  let json: unknown;
  try {
    json = text ? JSON.parse(text) : undefined;
  } catch {
    json = undefined;
  }
  return { status: response.statusCode, headers: response.headers, text, json };
}

/** Resolve once `predicate` holds, polling every 10 ms; fail after `ms`. */
export async function eventually(predicate: () => boolean | Promise<boolean>, ms = 5000): Promise<void> {
  const deadline = Date.now() + ms;
  while (!(await predicate())) {
    if (Date.now() > deadline) throw new Error(`condition not met within ${ms} ms`);
    await new Promise((resolve) => setTimeout(resolve, 10));
  }
}

/** The newest message id on `wallId`, as `GET /walls` reports it: the cursor of a poll that waits for the next post. */
export async function newestOn(server: TestServer, session: string, wallId: number): Promise<number> {
  const walls = await server.call('GET', '/walls', { session });
  return walls.json.walls.find((w: { id: number }) => w.id === wallId).latest_message_id;
}
