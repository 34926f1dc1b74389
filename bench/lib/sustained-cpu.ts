/**
 * CPU time from /proc, so a step's figures say where the machine's cores
 * went: the servers measured (with every process they started — PostgreSQL's
 * backends, nginx), the bench itself, and whatever else ran on the machine.
 * Linux only; elsewhere every figure reads NaN.
 */
import { readdirSync, readFileSync } from 'node:fs';

/** Linux reports process times in clock ticks of 1/100 s (USER_HZ) on every architecture Node runs on. */
const TICK_MS = 10;

function statFields(pid: number): string[] | null {
  try {
    const text = readFileSync(`/proc/${pid}/stat`, 'utf8');
    // The name in parentheses may hold spaces: the fields start after its closing one.
    return text.slice(text.lastIndexOf(')') + 2).split(' ');
  } catch {
    return null;
  }
}

/** `roots` and every process below them (children of children too). */
function family(roots: readonly number[]): number[] {
  const parents = new Map<number, number[]>();
  for (const entry of readdirSync('/proc')) {
    const pid = Number(entry);
    if (!Number.isInteger(pid)) continue;
    const fields = statFields(pid);
    if (!fields) continue;
    // Field 4 of stat is the parent's pid; after the name, it is the second.
    const parent = Number(fields[1]);
    parents.set(parent, [...(parents.get(parent) ?? []), pid]);
  }
  const all = new Set(roots);
  const queue = [...roots];
  while (queue.length) {
    for (const child of parents.get(queue.pop()!) ?? []) {
      if (all.has(child)) continue;
      all.add(child);
      queue.push(child);
    }
  }
  return [...all];
}

/** CPU milliseconds (user + system, every thread) used so far by `roots` and their descendants alive now. */
export function cpuMsOf(roots: readonly number[]): number {
  if (roots.length === 0) return 0;
  try {
    let ticks = 0;
    for (const pid of family(roots)) {
      const fields = statFields(pid);
      // utime and stime: fields 14 and 15 of stat, 12 and 13 after the name.
      if (fields) ticks += Number(fields[11]) + Number(fields[12]);
    }
    return ticks * TICK_MS;
  } catch {
    return NaN;
  }
}

/** CPU milliseconds of `pid`'s main thread alone (a Node process's event loop; nginx's only thread). */
export function mainThreadMs(pid: number): number {
  try {
    const text = readFileSync(`/proc/${pid}/task/${pid}/stat`, 'utf8');
    const fields = text.slice(text.lastIndexOf(')') + 2).split(' ');
    return (Number(fields[11]) + Number(fields[12])) * TICK_MS;
  } catch {
    return NaN;
  }
}

/** Busy and total ticks of the whole machine, all cores (/proc/stat; idle and iowait count as not busy). */
export function machineTicks(): { busy: number; total: number } {
  try {
    const fields = readFileSync('/proc/stat', 'utf8').split('\n')[0]!.trim().split(/\s+/).slice(1).map(Number);
    const total = fields.reduce((a, b) => a + b, 0);
    return { busy: total - fields[3]! - (fields[4] ?? 0), total };
  } catch {
    return { busy: NaN, total: NaN };
  }
}
