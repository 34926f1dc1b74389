/**
 * Starts Pollster as its own process — the built `dist/main.js` that
 * `npm start` runs — with the env vars a scenario compares, waits until
 * `/ping` answers, and stops it afterwards. Every server started is
 * announced with its URL, so a user can open its page and watch the pool.
 */
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { closeSync, mkdtempSync, openSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { Agent } from 'undici';
import { send } from './client.js';

export const ROOT = fileURLToPath(new URL('../..', import.meta.url));

export function buildServer(): void {
  const result = spawnSync(process.execPath, ['node_modules/typescript/bin/tsc', '-p', 'tsconfig.build.json'], {
    cwd: ROOT,
    encoding: 'utf8',
  });
  if (result.status !== 0) throw new Error(`build failed:\n${result.stdout}${result.stderr}`);
}

/** Node arguments that start the built Pollster (the default) and the thread-free evented baseline (bench/baseline/). */
export const POLLSTER_ARGS = [join(ROOT, 'dist/main.js')];
export const BASELINE_ARGS = ['--import', 'tsx', join(ROOT, 'bench/baseline/evented-server.ts')];

/** Where the URL of each child server goes (run.ts prints it). */
let announce: (line: string) => void = () => {};

export function onServerStarted(print: (line: string) => void): void {
  announce = print;
}

/** Variables the bench sets on every child: its own port, address and database; the listen line it reads. */
export const BENCH_OWNED = ['PORT', 'HOST', 'SOCKET', 'DB_PATH', 'LOG_LEVEL'] as const;

export interface BenchServer {
  url: string;
  /** The server process's id, when the bench started it (per-thread CPU accounting in profiles). */
  pid?: number;
  dbPath: string;
  env: Record<string, string>;
  /** A client with room for every connection a scenario holds open. */
  agent: Agent;
  stats(): Promise<any>;
  stop(): Promise<void>;
}

export interface StartOptions {
  /** Node arguments of the server; default the built Pollster. */
  args?: string[];
  /** What the announcement calls it. */
  name?: string;
  /** Keep the server's own fair-share caps (scenarios that measure fairness). */
  fairShares?: boolean;
}

/** Children still running: killed if the bench itself is stopped (Ctrl-C, a test's timeout). */
const running = new Set<ChildProcess>();
process.once('exit', () => {
  for (const child of running) child.kill('SIGKILL');
});
for (const signal of ['SIGINT', 'SIGTERM'] as const) {
  process.once(signal, () => {
    for (const child of running) child.kill('SIGKILL');
    process.kill(process.pid, signal);
  });
}

export async function startServer(env: Record<string, string>, options: StartOptions = {}): Promise<BenchServer> {
  const dir = mkdtempSync(join(tmpdir(), 'pollster-bench-'));
  const dbPath = join(dir, 'pollster.db');
  // The server logs (one access-log line per request) to a file, as a
  // deployment would. A pipe to this process would tie the server's
  // synchronous log writes to the load generator: with autocannon busy, the
  // pipe fills and the server waits on it (/ping fell from ~50k to ~5k req/s).
  const logPath = join(dir, 'server.log');
  const logFd = openSync(logPath, 'w');
  const child = spawn(process.execPath, options.args ?? POLLSTER_ARGS, {
    cwd: ROOT,
    // One bench client holds thousands of waits on purpose (capacity, not
    // fairness, is measured): fair-share caps off unless the bench's own
    // environment or a scenario sets them.
    env: {
      ...(options.fairShares ? {} : { MAX_WAITS_PER_SESSION: '0', MAX_WAITS_PER_CLIENT: '0' }),
      ...process.env,
      PORT: '0',
      HOST: '127.0.0.1',
      SOCKET: '',
      DB_PATH: dbPath,
      LOG_LEVEL: 'info',
      ...env,
    },
    stdio: ['ignore', logFd, 'pipe'],
  });
  closeSync(logFd);
  running.add(child);
  child.once('exit', () => running.delete(child));
  let output = '';
  child.stderr!.on('data', (chunk) => (output += chunk));
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  const listening = new Promise<string>((resolve, reject) => {
    const timer = setTimeout(() => {
      clearInterval(look);
      reject(new Error(`server did not start: ${output}${readFileSync(logPath, 'utf8').slice(0, 2000)}`));
    }, 30_000);
    child.once('exit', () => {
      clearTimeout(timer);
      reject(new Error(`server exited: ${output}`));
    });
    const look = setInterval(() => {
      const match = /"url":"(http:[^"]+)"/.exec(readFileSync(logPath, 'utf8'));
      if (match) {
        clearTimeout(timer);
        clearInterval(look);
        resolve(match[1]!);
      }
    }, 20);
    child.once('exit', () => clearInterval(look));
  });
  let url: string;
  try {
    url = await listening;
  } catch (error) {
    child.kill('SIGKILL');
    rmSync(dir, { recursive: true, force: true });
    throw error;
  }
  const agent = new Agent({ connections: null, keepAliveTimeout: 30_000, headersTimeout: 0, bodyTimeout: 0 });
  // Wait until it answers, as undici's benchmarks/wait.js does.
  const deadline = Date.now() + 10_000;
  for (;;) {
    try {
      if ((await send(agent, url, 'GET', '/ping', { timeoutMs: 1000 })).status === 200) break;
    } catch (error) {
      if (Date.now() > deadline) throw error;
    }
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
  const settings = Object.entries(env)
    .map(([key, value]) => `${key}=${value}`)
    .join(' ');
  // Pollster's page shows its pool live; the baseline has no page.
  announce(
    `${options.name ?? 'pollster'} at ${url}${settings ? ` (${settings})` : ''}${options.args ? '' : ': open it to watch the pool'}`,
  );
  return {
    url,
    pid: child.pid!,
    dbPath,
    env,
    agent,
    stats: async () => (await send(agent, url, 'GET', '/stats', { timeoutMs: 5000 })).json,
    async stop() {
      child.kill('SIGTERM');
      const killer = setTimeout(() => child.kill('SIGKILL'), 5000);
      await exited;
      clearTimeout(killer);
      await agent.destroy();
      rmSync(dir, { recursive: true, force: true });
    },
  };
}
