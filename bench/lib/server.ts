/**
 * Starts Pollster as its own process — the built `dist/main.js` that
 * `npm start` runs — with the env vars a scenario compares, waits until
 * `/ping` answers, and stops it afterwards.
 */
import { spawn, spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
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

export interface BenchServer {
  url: string;
  dbPath: string;
  env: Record<string, string>;
  /** A client with room for every connection a scenario holds open. */
  agent: Agent;
  stats(): Promise<any>;
  stop(): Promise<void>;
}

export async function startServer(env: Record<string, string>): Promise<BenchServer> {
  const dir = mkdtempSync(join(tmpdir(), 'pollster-bench-'));
  const dbPath = join(dir, 'pollster.db');
  const child = spawn(process.execPath, [join(ROOT, 'dist/main.js')], {
    cwd: ROOT,
    // One bench client holds thousands of waits on purpose (capacity, not
    // fairness, is measured): fair-share caps off unless a scenario sets them.
    env: { ...process.env, PORT: '0', HOST: '127.0.0.1', DB_PATH: dbPath, LOG_LEVEL: 'info', MAX_WAITS_PER_SESSION: '0', MAX_WAITS_PER_CLIENT: '0', ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let output = '';
  child.stderr.on('data', (chunk) => (output += chunk));
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  const url = await new Promise<string>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`server did not start: ${output}`)), 30_000);
    child.once('exit', () => reject(new Error(`server exited: ${output}`)));
    child.stdout.on('data', (chunk) => {
      output += chunk;
      const match = /"url":"(http:[^"]+)"/.exec(output);
      if (match) {
        clearTimeout(timer);
        resolve(match[1]!);
      }
    });
  });
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
  return {
    url,
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
