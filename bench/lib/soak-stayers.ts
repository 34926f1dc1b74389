/**
 * What both soaks share: their command line, their log, and the "stayers",
 * clients that follow every wall throughout — by long poll, or by SSE
 * reconnecting with their last id as a browser does — and note every id
 * they see, so the soak can check that each got every message once, in order.
 */
import { parseArgs } from 'node:util';
import type { Agent } from 'undici';
import { send } from './client.js';
import { openEvents } from './events.js';

/** Message ids seen, by wall. */
export type Seen = Map<number, number[]>;

/** Where a stayer's next request goes: one server, or another host each time. */
export type Target = () => { agent: Agent; url: string };

export const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));
export const random = (max: number) => Math.floor(Math.random() * max);

/** `--seconds` (default `fallback`, at least `min`); exits 2 on anything else. */
export function soakSeconds(fallback: number, min: number): number {
  const { values } = parseArgs({ options: { seconds: { type: 'string', default: String(fallback) } } });
  const seconds = Number(values.seconds);
  if (!Number.isSafeInteger(seconds) || seconds < min || seconds > 3600) {
    process.stderr.write(`--seconds must be an integer from ${min} to 3600\n`);
    process.exit(2);
  }
  return seconds;
}

/** A log line with the seconds since `started`. */
export function soakLog(started: number): (line: string) => void {
  return (line) => void process.stdout.write(`[${((Date.now() - started) / 1000).toFixed(0).padStart(4)} s] ${line}\n`);
}

export function followByPoll(
  target: Target,
  session: string,
  latest: Map<number, number>,
  seen: Seen,
  stop: AbortSignal,
  { pollMs, requestMs }: { pollMs: number; requestMs: number },
): Promise<void> {
  const cursor = new Map(latest);
  return (async () => {
    while (!stop.aborted) {
      const { agent, url } = target();
      const reply = await send(agent, url, 'POST', '/poll', {
        session,
        body: { last_post_id: Object.fromEntries(cursor), timeout_ms: pollMs },
        timeoutMs: requestMs,
        signal: stop,
      }).catch(() => null);
      if (reply?.status !== 200) {
        await sleep(100);
        continue;
      }
      for (const [wall, { posts }] of Object.entries(reply.json.walls as Record<string, { posts: Array<{ id: number }> }>)) {
        for (const post of posts) seen.get(Number(wall))!.push(post.id);
        cursor.set(Number(wall), posts[posts.length - 1]!.id);
      }
    }
  })();
}

/** `hopAfterMs`: close the stream after that long and reconnect (to another host), besides when it ends. */
export function followBySse(
  target: Target,
  session: string,
  latest: Map<number, number>,
  seen: Seen,
  stop: AbortSignal,
  hopAfterMs?: () => number,
): Promise<void> {
  let cursor = Math.max(...latest.values());
  return (async () => {
    while (!stop.aborted) {
      const { agent, url } = target();
      // Streams end every SSE_MAX_MS; reconnect with the last id, as a browser does.
      const stream = await openEvents(agent, url, `/check?last_event_id=${cursor}`, session, (messages) => {
        for (const message of messages) {
          seen.get(message.wall_id)!.push(message.id);
          cursor = message.id;
        }
      }).catch(() => null);
      if (!stream) {
        await sleep(100);
        continue;
      }
      const timer = hopAfterMs ? setTimeout(() => stream.close(), hopAfterMs()) : undefined;
      const onStop = () => stream.close();
      stop.addEventListener('abort', onStop, { once: true });
      await stream.done;
      clearTimeout(timer);
      stop.removeEventListener('abort', onStop);
    }
  })();
}

export interface Stayer {
  kind: 'long poll' | 'SSE';
  seen: Seen;
  done: Promise<void>;
}

/** `polls` long-poll stayers, then `streams` SSE stayers, each following `walls` from `latest`. */
export function startStayers(
  target: Target,
  session: string,
  latest: Map<number, number>,
  walls: readonly number[],
  stop: AbortSignal,
  options: { polls: number; streams: number; pollMs: number; requestMs: number; hopAfterMs?: () => number },
): Stayer[] {
  const stayers: Stayer[] = [];
  for (let i = 0; i < options.polls + options.streams; i++) {
    const seen: Seen = new Map(walls.map((w) => [w, []]));
    const done =
      i < options.polls
        ? followByPoll(target, session, latest, seen, stop, options)
        : followBySse(target, session, latest, seen, stop, options.hopAfterMs);
    stayers.push({ kind: i < options.polls ? 'long poll' : 'SSE', seen, done });
  }
  return stayers;
}
