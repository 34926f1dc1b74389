/**
 * Paced posters for the sustained-throughput scenario: a few keep-alive
 * connections (undici, pipelining off), each owning some walls and sending
 * its share of a step's posts at its slot times. A poster waits for each
 * answer before its next post, so a wall's posts are stored in the order they
 * were sent — the order every subscriber must see — and a server that falls
 * behind shows as an accepted rate below the offered one (the slots still
 * due when the step ends are dropped), not as a queue in the client.
 */
import { fork, type ChildProcess } from 'node:child_process';
import { performance } from 'node:perf_hooks';
import { fileURLToPath } from 'node:url';
import { Client } from 'undici';
import type { SentPost } from './sustained-check.js';
import type { FromPosters, ToPosters } from './sustained-poster-process.js';

/** How a post is written to one kind of server, and which id the subscribers will see for it. */
export interface PostTarget {
  origin: string;
  request(wall: number, seq: number): { path: string; body: string; headers: Record<string, string> };
  /** Pollster: the stored message's id from the 201 answer; Nchan: the sequence number sent as the content. */
  idOf(seq: number, answer: string): number;
}

export interface StepPosting {
  posts: SentPost[];
  /** Posts answered with anything but 2xx, or not at all. */
  failed: number;
  /** Each post's request round trip, ms. */
  roundTrips: number[];
  /** Posts never sent: their poster was still behind when the step ended. */
  unsent: number;
  /** Seconds from the step's start to the last answer. */
  spanS: number;
}

export class Posters {
  readonly #clients: Client[];
  /** A sequence number per post over the whole run: Nchan's message ids. */
  #seq = 0;

  constructor(
    readonly target: PostTarget,
    /** The walls each poster owns: walls[p] for poster p, posted in turn. */
    readonly walls: readonly (readonly number[])[],
  ) {
    this.#clients = walls.map(
      () => new Client(target.origin, { pipelining: 1, keepAliveTimeout: 10_000, headersTimeout: 10_000, bodyTimeout: 10_000 }),
    );
  }

  /** `rate` posts per second in all for `durationMs`, spread evenly over the posters and their walls. */
  async step(rate: number, durationMs: number): Promise<StepPosting> {
    const posts: SentPost[] = [];
    const roundTrips: number[] = [];
    let failed = 0;
    let unsent = 0;
    const count = this.#clients.length;
    const start = performance.now();
    let lastAnswer = start;
    await Promise.all(
      this.#clients.map(async (client, p) => {
        const walls = this.walls[p]!;
        for (let k = 0; ; k++) {
          // Slot k * count + p of the step: the posters take turns.
          const due = start + ((k * count + p) * 1000) / rate;
          if (due >= start + durationMs) break;
          // A poster still behind when the step ends drops the rest of its slots: the step lasts what it says.
          if (performance.now() >= start + durationMs) {
            unsent++;
            continue;
          }
          const wait = due - performance.now();
          if (wait > 1) await new Promise((resolve) => setTimeout(resolve, wait));
          const wall = walls[k % walls.length]!;
          const seq = ++this.#seq;
          const { path, body, headers } = this.target.request(wall, seq);
          const sentAt = performance.now();
          try {
            const reply = await client.request({ method: 'POST', path, body, headers });
            const text = await reply.body.text();
            const now = performance.now();
            if (reply.statusCode >= 300) {
              failed++;
              continue;
            }
            roundTrips.push(now - sentAt);
            lastAnswer = Math.max(lastAnswer, now);
            posts.push({ id: this.target.idOf(seq, text), wall, sentAt });
          } catch {
            failed++;
          }
        }
      }),
    );
    return { posts, failed, unsent, roundTrips, spanS: Math.max(durationMs, lastAnswer - start) / 1000 };
  }

  async close(): Promise<void> {
    await Promise.all(this.#clients.map((client) => client.destroy()));
  }
}

/** A PostTarget as plain data, to hand to the poster process. */
export type TargetSpec =
  | { kind: 'pollster'; origin: string; sessions: string[] }
  | { kind: 'nchan'; origin: string; channelPrefix: string };

export function targetOf(spec: TargetSpec): PostTarget {
  return spec.kind === 'pollster'
    ? pollsterTarget(spec.origin, spec.sessions)
    : nchanTarget(spec.origin, (wall) => `${spec.channelPrefix}${wall}`);
}

/** Pollster: `POST /walls/:id/messages` as a member, the id from the answer. */
export function pollsterTarget(origin: string, sessions: readonly string[]): PostTarget {
  return {
    origin,
    request: (wall, seq) => ({
      path: `/walls/${wall}/messages`,
      body: JSON.stringify({ content: `sustained ${seq}` }),
      headers: { 'content-type': 'application/json', authorization: `Bearer ${sessions[seq % sessions.length]}` },
    }),
    idOf: (_seq, answer) => (JSON.parse(answer) as { id: number }).id,
  };
}

/** Nchan: `POST /pub?id=<channel>` with the sequence number as the message. */
export function nchanTarget(origin: string, channelOf: (wall: number) => string): PostTarget {
  return {
    origin,
    request: (wall, seq) => ({ path: `/pub?id=${channelOf(wall)}`, body: String(seq), headers: { 'content-type': 'text/plain' } }),
    idOf: (seq) => seq,
  };
}

/** The posters in a child process of their own (bench/lib/sustained-poster-process.ts); the same `step` and `close`. */
export class PosterProcess {
  readonly #child: ChildProcess;
  readonly #exited: Promise<void>;

  private constructor(child: ChildProcess) {
    this.#child = child;
    this.#exited = new Promise((resolve) => child.once('exit', () => resolve()));
  }

  get pid(): number {
    return this.#child.pid!;
  }

  static async start(spec: TargetSpec, walls: readonly (readonly number[])[]): Promise<PosterProcess> {
    // From the project's root, where `--import tsx` resolves, whatever the bench's own working directory.
    const child = fork(fileURLToPath(new URL('./sustained-poster-process.ts', import.meta.url)), [], {
      cwd: fileURLToPath(new URL('../..', import.meta.url)),
      execArgv: ['--import', 'tsx'],
    });
    const kill = (): void => void child.kill('SIGKILL');
    process.once('exit', kill);
    child.once('exit', () => process.off('exit', kill));
    const posters = new PosterProcess(child);
    await posters.#ask({ type: 'start', spec, walls: walls.map((w) => [...w]) }, 'ready');
    return posters;
  }

  #ask(message: ToPosters, answer: FromPosters['type']): Promise<FromPosters> {
    return new Promise((resolve, reject) => {
      const onMessage = (reply: FromPosters): void => {
        if (reply.type !== answer) return;
        this.#child.off('exit', onExit);
        this.#child.off('message', onMessage);
        resolve(reply);
      };
      const onExit = (): void => {
        this.#child.off('message', onMessage);
        reject(new Error('the poster process exited'));
      };
      this.#child.on('message', onMessage);
      this.#child.once('exit', onExit);
      this.#child.send(message);
    });
  }

  async step(rate: number, durationMs: number): Promise<StepPosting> {
    const reply = await this.#ask({ type: 'step', rate, durationMs }, 'done');
    const { posting } = reply as Extract<FromPosters, { type: 'done' }>;
    // Its clock to ours: both count from the epoch through their own timeOrigin (within a fraction of a millisecond).
    for (const post of posting.posts) post.sentAt -= performance.timeOrigin;
    return posting;
  }

  async close(): Promise<void> {
    if (this.#child.exitCode === null && this.#child.connected) this.#child.send({ type: 'close' } satisfies ToPosters);
    const killer = setTimeout(() => this.#child.kill('SIGKILL'), 5000);
    await this.#exited;
    clearTimeout(killer);
  }
}
