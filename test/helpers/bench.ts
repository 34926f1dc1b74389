/** `npm run bench` in its own process, as a user runs it; stopped by the test if still running. */
import { spawn } from 'node:child_process';
import { onTestFinished } from 'vitest';
import { ROOT } from './process.js';

export interface BenchRun {
  /** Resolves with the exit code once the bench ends. */
  done: Promise<{ code: number | null; stdout: string; stderr: string }>;
  /** Everything printed so far. */
  stdout(): string;
  /** `done`, or a failure showing what the bench printed if it runs longer than `ms`. */
  finished(ms: number): Promise<{ code: number | null; stdout: string; stderr: string }>;
}

export function runBench(args: string[], env: Record<string, string> = {}, timeoutMs = 120_000): BenchRun {
  const child = spawn(process.execPath, ['--import', 'tsx', 'bench/run.ts', ...args], {
    cwd: ROOT,
    env: { ...process.env, ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
    timeout: timeoutMs,
  });
  let stdout = '';
  let stderr = '';
  child.stdout.on('data', (chunk) => (stdout += chunk));
  child.stderr.on('data', (chunk) => (stderr += chunk));
  const done = new Promise<{ code: number | null; stdout: string; stderr: string }>((resolve, reject) => {
    child.on('error', reject);
    child.on('close', (code) => resolve({ code, stdout, stderr }));
  });
  onTestFinished(async () => {
    if (child.exitCode === null && child.signalCode === null) child.kill('SIGTERM');
    await done.catch(() => undefined);
  });
  return {
    done,
    stdout: () => stdout,
    async finished(ms) {
      let timer: NodeJS.Timeout | undefined;
      const late = new Promise<never>((_, reject) => {
        timer = setTimeout(() => reject(new Error(`the bench did not finish within ${ms} ms; it printed:\n${stdout}${stderr}`)), ms);
      });
      try {
        return await Promise.race([done, late]);
      } finally {
        clearTimeout(timer);
      }
    },
  };
}
