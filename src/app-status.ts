/**
 * What a running Pollster says of itself: why it cannot serve (`/readyz`),
 * and its start-up line.
 */
import type { Backend } from './backend.js';
import type { Config } from './config.js';
import type { Executor } from './poll/executors.js';
import { describeUrl } from './storage/pg-store.js';

/** Why this process cannot serve now, or null: `/readyz`. */
export async function notReadyBecause(config: Config, executor: Executor, backend: Backend): Promise<string | null> {
  if (config.pollMode !== 'inline' && config.minThreads > 0 && executor.threads().length === 0) return 'no worker threads';
  // Without LISTEN, posts from other processes and hosts would not wake anyone here.
  if (backend.kind === 'postgres' && !backend.listener.stats().listening) return 'database unavailable';
  try {
    await backend.store.ping();
  } catch {
    return 'database unavailable';
  }
  return null;
}

/** What the start-up line says: where the data is, and the threads this mode really runs. */
export function describeStart(config: Config, backend: Backend) {
  const pooled = config.pollMode !== 'inline';
  return {
    backend: backend.kind,
    // Host, port and database only: never the password.
    database: backend.kind === 'sqlite' ? config.dbPath : describeUrl(config.databaseUrl ?? ''),
    seeded_demo_data: backend.store.seeded,
    mode: config.pollMode,
    wake: config.wake,
    pool_threads: pooled ? { min: config.minThreads, max: config.maxThreads } : 0,
    ...(config.pollMode === 'multiplex' ? { tasks_per_thread: config.tasksPerThread } : {}),
    // The /hello lane's own threads; inline mode, the blocking control, runs /hello on the main thread.
    hello_threads: pooled ? { min: Math.min(config.minThreads, config.helloConcurrency), max: config.helloConcurrency } : 0,
    auth: config.auth.mode,
  };
}
