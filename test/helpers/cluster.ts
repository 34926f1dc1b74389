/**
 * Talking to a WEB_CONCURRENCY cluster: a connection of its own per call, so
 * the primary hands each to a process in turn, and a way to make sure waits
 * land in every process.
 */
import { Agent } from 'undici';
import { call, eventually, type CallOptions, type Reply } from './server.js';

/** Each call on a connection of its own, so the cluster spreads them round-robin. */
export function fresh(url: string, method: string, path: string, options: CallOptions = {}): Promise<Reply> {
  const agent = new Agent({ pipelining: 0 });
  return call(agent, url, method, path, options).finally(() => agent.close());
}

/** `/stats` of every process, keyed by pid (six connections reach both of two). */
export async function statsByPid(url: string): Promise<Map<number, any>> {
  const seen = new Map<number, any>();
  for (let i = 0; i < 6; i++) {
    const { json } = await fresh(url, 'GET', '/stats');
    seen.set(json.pid, json);
  }
  return seen;
}

/**
 * Open waits one at a time (`open` resolves once one is sent) until both
 * processes hold at least one, as counted by `held` from each process's
 * /stats. Strict round-robin with an even number of /stats connections
 * between opens would send every open to the same process, so every other
 * open goes after one extra /ping connection that shifts the turn. Callers
 * turn the per-session fair share off (MAX_WAITS_PER_SESSION=0): several waits
 * of one session may land in one process before the other gets any.
 */
export async function spreadOverProcesses<T>(url: string, open: () => Promise<T>, held: (stats: any) => number): Promise<T[]> {
  const opened: T[] = [];
  let counts: number[] = [];
  for (let i = 0; i < 12; i++) {
    if (i % 2) await fresh(url, 'GET', '/ping');
    opened.push(await open());
    try {
      await eventually(async () => {
        counts = [...(await statsByPid(url)).values()].map(held);
        return counts.reduce((a, b) => a + b, 0) === opened.length;
      }, 10_000);
    } catch {
      throw new Error(`after ${opened.length} opens the processes hold ${JSON.stringify(counts)}`);
    }
    if (counts.length === 2 && counts.every((n) => n > 0)) return opened;
  }
  throw new Error(`the cluster never spread waits over both processes: ${JSON.stringify(counts)}`);
}
