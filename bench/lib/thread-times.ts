/**
 * CPU time and context switches of each thread of a process, from /proc
 * (Linux): what a profile window cost each thread without a sampler running
 * beside it.
 */
import { readdirSync, readFileSync } from 'node:fs';

export interface ThreadTimes {
  name: string;
  userMs: number;
  systemMs: number;
  /** Times the thread was taken off its core while it could still run. */
  involuntary: number;
  voluntary: number;
}

/** Each thread of a process: CPU (user, system) and context switches so far, from /proc. */
export function threadTimes(pid: number): Map<string, ThreadTimes> {
  const tick = 10; // ms per clock tick (USER_HZ = 100 on Linux)
  const threads = new Map<string, ThreadTimes>();
  for (const tid of readdirSync(`/proc/${pid}/task`)) {
    try {
      const stat = readFileSync(`/proc/${pid}/task/${tid}/stat`, 'utf8');
      const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
      const status = readFileSync(`/proc/${pid}/task/${tid}/status`, 'utf8');
      const count = (key: string): number => Number(new RegExp(`${key}:\\s+(\\d+)`).exec(status)?.[1] ?? 0);
      threads.set(tid, {
        name: stat.slice(stat.indexOf('(') + 1, stat.lastIndexOf(')')),
        userMs: Number(fields[11]) * tick,
        systemMs: Number(fields[12]) * tick,
        involuntary: count('nonvoluntary_ctxt_switches'),
        voluntary: count('voluntary_ctxt_switches'),
      });
    } catch {
      // The thread ended between the listing and the read.
    }
  }
  return threads;
}

/** What each thread did between two snapshots, in thread-id order, the main thread named (threads that did nothing left out). */
function threadDelta(label: string, pid: number, before: Map<string, ThreadTimes>, after: Map<string, ThreadTimes>): string {
  const rows: string[] = [];
  for (const [tid, end] of after) {
    const start = before.get(tid) ?? { name: end.name, userMs: 0, systemMs: 0, involuntary: 0, voluntary: 0 };
    const user = end.userMs - start.userMs;
    const system = end.systemMs - start.systemMs;
    const involuntary = end.involuntary - start.involuntary;
    const voluntary = end.voluntary - start.voluntary;
    if (user + system === 0 && involuntary === 0 && voluntary === 0) continue;
    rows.push(`| ${label} ${tid === String(pid) ? 'main' : `${end.name} ${tid}`} | ${user} | ${system} | ${voluntary} | ${involuntary} |`);
  }
  return rows.join('\n');
}

/** The bench client's threads and a server's, at one moment. */
export interface Snapshot {
  server: Map<string, ThreadTimes>;
  client: Map<string, ThreadTimes>;
}

export function snapshot(serverPid: number): Snapshot {
  return { server: threadTimes(serverPid), client: threadTimes(process.pid) };
}

/** A markdown table of what each thread of the server (`label`) and of the client did between two snapshots. */
export function threadTable(label: string, serverPid: number, before: Snapshot, after: Snapshot, title = 'thread'): string {
  return [
    `| ${title} | user ms | system ms | voluntary switches | involuntary switches |`,
    '|---|---|---|---|---|',
    threadDelta(label, serverPid, before.server, after.server),
    threadDelta('client', process.pid, before.client, after.client),
  ].join('\n');
}
