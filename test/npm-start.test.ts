/**
 * `npm start` under a supervisor: SIGTERM (or SIGINT) sent to the npm
 * process must reach the server, so that nothing of the tree is left
 * listening. npm forwards both signals to the shell it runs the script in;
 * the script has to `exec` node so that the shell is the server, not an
 * intermediate that dies and orphans it.
 *
 * The project is copied to a temporary directory (node_modules and public/
 * linked), so the build the start script runs writes its own dist/, never
 * the checkout's.
 */
import { spawn } from 'node:child_process';
import { cpSync, mkdirSync, readdirSync, readFileSync, rmSync, symlinkSync } from 'node:fs';
import { connect } from 'node:net';
import { join } from 'node:path';
import { describe, expect, onTestFinished, test } from 'vitest';
import { ROOT } from './helpers/process.js';
import { tempDir } from './helpers/server.js';

/** Pids of every process whose environment holds `marker` (readable for our own children). */
function processesWith(marker: string): number[] {
  const pids: number[] = [];
  for (const entry of readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    try {
      if (readFileSync(`/proc/${entry}/environ`, 'latin1').includes(marker)) pids.push(Number(entry));
    } catch {
      // Gone meanwhile, or not ours.
    }
  }
  return pids;
}

function portOpen(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = connect(port, '127.0.0.1');
    socket.once('connect', () => {
      socket.destroy();
      resolve(true);
    });
    socket.once('error', () => resolve(false));
  });
}

async function until(check: () => boolean | Promise<boolean>, ms: number): Promise<boolean> {
  const deadline = Date.now() + ms;
  while (Date.now() < deadline) {
    if (await check()) return true;
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
  return check();
}

/** A copy of the project that `npm start` can build and run in. */
function projectCopy(): string {
  const dir = tempDir('pollster-npm-start-');
  for (const file of ['package.json', 'tsconfig.json', 'tsconfig.build.json']) cpSync(join(ROOT, file), join(dir, file));
  cpSync(join(ROOT, 'src'), join(dir, 'src'), { recursive: true });
  symlinkSync(join(ROOT, 'node_modules'), join(dir, 'node_modules'));
  symlinkSync(join(ROOT, 'public'), join(dir, 'public'));
  return dir;
}

describe('npm start', () => {
  for (const signal of ['SIGTERM', 'SIGINT'] as const) {
    test(`${signal} to the npm process stops the server and leaves no process behind`, { timeout: 120_000 }, async () => {
      const dir = projectCopy();
      // A path no other process has in its environment: it finds this tree's processes.
      const marker = join(dir, `marker-${process.pid}-${signal}`);
      mkdirSync(marker);
      onTestFinished(() => {
        for (const pid of processesWith(marker)) {
          try {
            process.kill(pid, 'SIGKILL');
          } catch {
            // Already gone.
          }
        }
        rmSync(dir, { recursive: true, force: true });
      });

      const npm = spawn('npm', ['start'], {
        cwd: dir,
        env: { ...process.env, PORT: '0', HOST: '127.0.0.1', DB_PATH: join(marker, 'pollster.db'), MIN_THREADS: '1', MAX_THREADS: '2' },
        stdio: ['ignore', 'pipe', 'pipe'],
      });
      const npmExited = new Promise<void>((resolve) => npm.once('exit', () => resolve()));
      let output = '';
      npm.stdout.on('data', (chunk) => (output += chunk));
      npm.stderr.on('data', (chunk) => (output += chunk));

      const listening = await until(() => /"url":"http:\/\/127\.0\.0\.1:\d+"/.test(output) || npm.exitCode !== null, 90_000);
      const port = Number(/"url":"http:\/\/127\.0\.0\.1:(\d+)"/.exec(output)?.[1]);
      expect(listening && port > 0, `npm start did not listen:\n${output}`).toBe(true);
      const ping = await fetch(`http://127.0.0.1:${port}/ping`);
      expect(ping.status).toBe(200);
      expect(processesWith(marker).length).toBeGreaterThan(0);

      npm.kill(signal);
      await Promise.race([npmExited, new Promise((resolve) => setTimeout(resolve, 10_000))]);
      expect(npm.exitCode !== null || npm.signalCode !== null, 'npm did not exit').toBe(true);
      // The server's graceful shutdown takes well under 2 s.
      const leftovers = (await until(() => processesWith(marker).length === 0, 5_000)) ? [] : processesWith(marker);
      const commands = leftovers.map((pid) => {
        try {
          return `${pid}: ${readFileSync(`/proc/${pid}/cmdline`, 'utf8').replaceAll('\0', ' ')}`;
        } catch {
          return `${pid}`;
        }
      });
      expect(commands, 'processes of the npm start tree still running').toEqual([]);
      expect(await portOpen(port), `port ${port} still accepts connections`).toBe(false);
      expect(output).toContain(`"signal":"${signal}"`);
    });
  }
});
