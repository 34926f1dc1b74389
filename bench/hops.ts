/**
 * `npx tsx bench/hops.ts [--rounds 300] [--idle 3]`: the delivery path of one post to
 * one waiting poll, hop by hop, in one process with Pollster's
 * own parts — the store, the board, a Piscina pool of one thread, the task
 * runner — and no HTTP client in the way. Each round puts a poll on the
 * thread, waits until it sleeps on the board, then times: parse (the poll's
 * JSON body), write (SQLite INSERT), publish (board + Atomics.notify), wake +
 * read + result message (from the notify until the outcome is on the main
 * thread), serialise (the answer's JSON). The round trip of an empty task and
 * a main-thread read are timed apart, to split the middle hop. HTTP parsing
 * and the socket write are the same for any Node server; the vs-baseline
 * scenario's one-poll figure holds them.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { performance } from 'node:perf_hooks';
import { PoolExecutor } from '../src/poll/executors.js';
import { TaskRunner } from '../src/poll/task-runner.js';
import { Board, createCancelCell } from '../src/shared/board.js';
import type { PollTask } from '../src/shared/types.js';
import { SqliteStore as Store } from '../src/storage/sqlite-store.js';
import { pollBody } from '../src/http/answer-bytes.js';
import { parsePollRequest } from '../src/http/validate.js';
import { percentile } from './lib/stats.js';

const { values } = parseArgs({ options: { rounds: { type: 'string', default: '300' }, idle: { type: 'string', default: '3' } } });
const rounds = Number(values.rounds);
/** Quiet time before each post, ms: 50 is the delivery scenarios' spacing, where a sleeping vCPU must be woken. */
const idleMs = Number(values.idle);
const WALL = 1;

const dir = mkdtempSync(join(tmpdir(), 'pollster-hops-'));
const dbPath = join(dir, 'hops.db');
const store = new Store(dbPath);
const board = new Board();
const executor = new PoolExecutor({ board, dbPath, minThreads: 1, maxThreads: 1, tasksPerThread: 1, onError: (e) => console.error(e) });
const runner = new TaskRunner({ executor, board, capacity: 1, maxQueue: 1 });
const author = store.userByName('demo')!;

const hops: Record<string, number[]> = {
  parse: [],
  write: [],
  publish: [],
  'wake + read + result message': [],
  serialise: [],
  'empty task round trip': [],
  'read (main thread)': [],
};
const us = (from: number, to: number): number => (to - from) * 1000;

try {
  await executor.sleep({ ms: 0, cancel: createCancelCell() });
  for (let round = 0; round < rounds + 20; round++) {
    const after = store.messagesAfter(WALL, 0, 1_000_000).at(-1)?.id ?? 0;
    const body = JSON.stringify({ last_post_id: { [WALL]: after }, timeout_ms: 10_000 });
    const t0 = performance.now();
    const request = parsePollRequest(JSON.parse(body));
    const t1 = performance.now();
    const task: PollTask = {
      walls: request.lastPostIds,
      deadline: Date.now() + 10_000,
      wake: 'notify',
      intervalMs: 100,
      limit: 100,
      cancel: createCancelCell(),
    };
    const answer = runner.poll(task);
    // Long enough for the thread to take the task and sleep on the board.
    await new Promise((resolve) => setTimeout(resolve, idleMs));
    const t2 = performance.now();
    const message = store.postMessage(WALL, author, `hop ${round}`);
    const t3 = performance.now();
    board.publish(WALL, message.id);
    const t4 = performance.now();
    const outcome = await answer;
    const t5 = performance.now();
    if (outcome.outcome !== 'data') throw new Error(`round ${round}: ${outcome.outcome}`);
    pollBody(outcome.walls);
    const t6 = performance.now();
    const e0 = performance.now();
    await executor.sleep({ ms: 0, cancel: createCancelCell() });
    const e1 = performance.now();
    store.messagesAfter(WALL, after, 100);
    const r1 = performance.now();
    // The first rounds warm up the JIT and the thread.
    if (round < 20) continue;
    hops.parse!.push(us(t0, t1));
    hops.write!.push(us(t2, t3));
    hops.publish!.push(us(t3, t4));
    hops['wake + read + result message']!.push(us(t4, t5));
    hops.serialise!.push(us(t5, t6));
    hops['empty task round trip']!.push(us(e0, e1));
    hops['read (main thread)']!.push(us(e1, r1));
  }
  console.log(`| hop (${rounds} rounds, ${idleMs} ms quiet before each post, µs) | p50 | p99 |\n|---|---|---|`);
  for (const [name, times] of Object.entries(hops)) {
    console.log(`| ${name} | ${percentile(times, 50).toFixed(1)} | ${percentile(times, 99).toFixed(1)} |`);
  }
} finally {
  await runner.close(100);
  store.close();
  rmSync(dir, { recursive: true, force: true });
}
