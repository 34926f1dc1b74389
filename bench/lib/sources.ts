/**
 * The servers a comparison runs against: one child process per configuration
 * string (`--configs "MAX_THREADS=4" "POLL_MODE=multiplex MAX_THREADS=2"`),
 * or the server the user already runs (`--url http://127.0.0.1:3000`).
 */
import { Agent } from 'undici';
import { ConfigError, loadConfig } from '../../src/config.js';
import { send } from './client.js';
import type { ServerSource } from './scenario.js';
import { BENCH_OWNED, startServer, type BenchServer } from './server.js';

/** A configuration is wrong: the message is the one line to print. */
export class BenchUsageError extends Error {
  override name = 'BenchUsageError';
}

export interface Configuration {
  /** As the user wrote it. */
  label: string;
  env: Record<string, string>;
}

/**
 * Parse `NAME=value NAME=value` as a shell would before `npm start` (no
 * quoting), and check it the way the server will: with loadConfig over the
 * bench's own environment plus this configuration.
 */
export function parseConfiguration(text: string, benchEnv: Record<string, string | undefined> = process.env): Configuration {
  const label = text.trim().replace(/\s+/g, ' ');
  const fail = (why: string): never => {
    throw new BenchUsageError(`configuration "${label}": ${why}`);
  };
  if (!label) fail('empty; write variables as NAME=value');
  const env: Record<string, string> = {};
  for (const word of label.split(' ')) {
    const match = /^([A-Za-z_][A-Za-z0-9_]*)=(.*)$/.exec(word);
    if (!match) fail(`"${word}" is not NAME=value`);
    env[match![1]!] = match![2]!;
  }
  const owned = Object.keys(env).filter((key) => (BENCH_OWNED as readonly string[]).includes(key));
  if (owned.length)
    fail(`${owned.join(', ')} ${owned.length > 1 ? 'are' : 'is'} set by the bench for each child server (${BENCH_OWNED.join(', ')})`);
  // Record which variables loadConfig reads with this very environment, so a
  // misspelt name (MAX_THREAD=4) is caught like a bad value, not ignored.
  const read = new Set<string>();
  const merged: Record<string, string | undefined> = {
    ...benchEnv,
    ...env,
    PORT: '0',
    HOST: '127.0.0.1',
    SOCKET: '',
    DB_PATH: 'bench.db',
    LOG_LEVEL: 'info',
  };
  const recording = new Proxy(merged, {
    get(target, key) {
      if (typeof key === 'string') read.add(key);
      return Reflect.get(target, key);
    },
  });
  try {
    loadConfig(recording);
  } catch (error) {
    if (error instanceof ConfigError) fail(`pollster: ${error.message}`);
    throw error;
  }
  const unknown = Object.keys(env).filter((key) => !read.has(key));
  if (unknown.length)
    fail(
      `pollster reads no variable ${unknown.join(', ')} (it reads ${[...read].filter((k) => !(BENCH_OWNED as readonly string[]).includes(k)).join(', ')})`,
    );
  return { label, env };
}

/** The Pollster variables set in the bench's own environment (they apply to every configuration). */
export function pollsterVariables(benchEnv: Record<string, string | undefined> = process.env): Record<string, string> {
  const read = new Set<string>();
  const recording = new Proxy(
    { ...benchEnv },
    {
      get(target, key) {
        if (typeof key === 'string') read.add(key);
        return Reflect.get(target, key);
      },
    },
  );
  try {
    loadConfig(recording);
  } catch {
    // parseConfiguration reports a bad value with the configuration it breaks.
  }
  return Object.fromEntries(
    [...read]
      .filter((key) => benchEnv[key] !== undefined && !(BENCH_OWNED as readonly string[]).includes(key))
      .map((key) => [key, benchEnv[key]!]),
  );
}

/** Each configuration as a child server: scenario defaults < the bench's environment < the configuration. */
export function childSource(configuration: Configuration): ServerSource {
  return {
    label: configuration.label,
    external: false,
    wall: undefined,
    user: 'demo',
    open(defaults = {}) {
      const needed = Object.fromEntries(Object.entries(defaults).filter(([key]) => process.env[key] === undefined));
      return startServer({ ...needed, ...configuration.env });
    },
  };
}

const LOOPBACK = /^(localhost|127(\.\d{1,3}){3}|\[::1\]|\[::ffff:127(\.\d{1,3}){3}\]|\[::ffff:7f[0-9a-f]{2}:[0-9a-f]{1,4}\])$/i;

export function isLoopback(url: URL): boolean {
  return LOOPBACK.test(url.hostname);
}

export interface ExternalServer {
  source: ServerSource;
  /** /stats when the run started. */
  stats: any;
  /** Name of the wall posted to. */
  wallName: string;
}

/** Connect to a running server: refuse what is not loopback unless allowed, read /stats, pick the wall. */
export async function urlSource(text: string, options: { allowRemote: boolean; wall?: number; user: string }): Promise<ExternalServer> {
  let url: URL;
  try {
    url = new URL(text);
  } catch {
    throw new BenchUsageError(`--url ${text}: not a URL (e.g. http://127.0.0.1:3000)`);
  }
  if (url.protocol !== 'http:') throw new BenchUsageError(`--url ${text}: only http:// is supported`);
  if (!isLoopback(url) && !options.allowRemote) {
    throw new BenchUsageError(
      `--url ${text}: ${url.hostname} is not a loopback address; the bench loads the server hard, so pass --allow-remote if it is yours`,
    );
  }
  const origin = url.origin;
  const probe = new Agent();
  let stats: any;
  let walls: Array<{ id: number; name: string }>;
  try {
    const reply = await send(probe, origin, 'GET', '/stats', { timeoutMs: 5000 });
    if (reply.status !== 200 || typeof reply.json?.pool?.max_threads !== 'number') {
      throw new BenchUsageError(`--url ${text}: GET /stats answered ${reply.status}, not Pollster's stats`);
    }
    stats = reply.json;
    const session = await send(probe, origin, 'POST', '/sessions', { body: { user: options.user }, timeoutMs: 5000 });
    if (session.status !== 201)
      throw new BenchUsageError(`--url ${text}: cannot log in as "${options.user}" (${session.status}); pick a user with --user`);
    walls = session.json.walls;
  } catch (error) {
    if (error instanceof BenchUsageError) throw error;
    throw new BenchUsageError(`--url ${text}: ${(error as Error).message}`);
  } finally {
    await probe.close();
  }
  // The last wall of the list: in the seeded database "Random", the quietest.
  const wall = options.wall ?? walls[walls.length - 1]?.id;
  const chosen = walls.find((w) => w.id === wall);
  if (!chosen)
    throw new BenchUsageError(
      `--url ${text}: user "${options.user}" cannot post to wall ${wall} (walls: ${walls.map((w) => w.id).join(', ')})`,
    );
  return {
    stats,
    wallName: chosen.name,
    source: {
      label: origin,
      external: true,
      wall: chosen.id,
      user: options.user,
      async open(): Promise<BenchServer> {
        const agent = new Agent({ connections: null, keepAliveTimeout: 30_000, headersTimeout: 0, bodyTimeout: 0 });
        return {
          url: origin,
          dbPath: '',
          env: {},
          agent,
          stats: async () => (await send(agent, origin, 'GET', '/stats', { timeoutMs: 5000 })).json,
          // Not ours to stop: only the connections go.
          stop: () => agent.destroy(),
        };
      },
    },
  };
}

/** The header line of a --url report: the server's configuration as /stats gives it. */
export function describeStats(stats: any): string {
  const pool = stats.pool ?? {};
  const fields: Array<[string, unknown]> = [
    ['mode', stats.mode],
    ['wake', stats.wake],
    ['min_threads', pool.min_threads],
    ['max_threads', pool.max_threads],
    ['tasks_per_thread', pool.tasks_per_thread],
    ['capacity', pool.capacity],
    ['max_queue', pool.max_queue],
  ];
  return fields
    .filter(([, value]) => value !== undefined)
    .map(([key, value]) => `${key} ${value}`)
    .join(', ');
}
