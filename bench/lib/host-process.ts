/**
 * A Pollster host for the multi-host benches: the built server on a fixed
 * address, so a restart keeps it, optionally started inside a network
 * namespace (`wrap`: `['ip', 'netns', 'exec', name]`).
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { join } from 'node:path';
import { Agent } from 'undici';
import { send } from './client.js';
import { ROOT } from './server.js';

export class HostProcess {
  readonly url: string;
  readonly agent = new Agent({ connections: null, keepAliveTimeout: 30_000, headersTimeout: 0, bodyTimeout: 0 });
  #child: ChildProcess | null = null;

  constructor(
    readonly name: string,
    readonly address: string,
    readonly port: number,
    readonly env: Record<string, string>,
    readonly wrap: string[] = [],
  ) {
    this.url = `http://${address}:${port}`;
  }

  stats = async (): Promise<any> => (await send(this.agent, this.url, 'GET', '/stats', { timeoutMs: 5000 })).json;

  async start(): Promise<void> {
    const command = [...this.wrap, process.execPath, join(ROOT, 'dist/main.js')];
    const child = spawn(command[0]!, command.slice(1), {
      cwd: ROOT,
      // The bench logs in by name (the demo) on a non-loopback address, which needs AUTH set.
      env: { ...process.env, HOST: this.address, PORT: String(this.port), LOG_LEVEL: 'info', AUTH: 'demo', ...this.env },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    this.#child = child;
    let output = '';
    await new Promise<void>((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`${this.name} did not start: ${output}`)), 30_000);
      child.once('exit', () => reject(new Error(`${this.name} exited: ${output}`)));
      child.stderr!.on('data', (chunk) => (output += chunk));
      child.stdout!.on('data', (chunk) => {
        output += chunk;
        if (output.includes('pollster listening')) {
          clearTimeout(timer);
          resolve();
        }
      });
    });
  }

  /** Stop with `signal` (SIGKILL after 5 s); the agent stays usable for a restart. */
  async kill(signal: NodeJS.Signals): Promise<void> {
    const child = this.#child;
    if (!child || child.exitCode !== null || child.signalCode !== null) return;
    const exited = new Promise((resolve) => child.once('exit', resolve));
    child.kill(signal);
    const killer = setTimeout(() => child.kill('SIGKILL'), 5000);
    await exited;
    clearTimeout(killer);
  }

  async stop(): Promise<void> {
    await this.kill('SIGTERM');
    await this.agent.destroy();
  }
}
