/** undici helpers for the connections a scenario holds: every request has a timeout. */
import { setMaxListeners } from 'node:events';
import { request, type Agent } from 'undici';

/** An AbortController meant to stop thousands of requests at once (no listener-leak warning). */
export function sharedAbort(): AbortController {
  const controller = new AbortController();
  setMaxListeners(0, controller.signal);
  return controller;
}

export interface SendOptions {
  body?: unknown;
  session?: string;
  /** Extra request headers (e.g. X-Forwarded-For for a held poll's own client address). */
  headers?: Record<string, string>;
  timeoutMs: number;
  signal?: AbortSignal;
}

export async function send(
  agent: Agent,
  origin: string,
  method: 'GET' | 'POST',
  path: string,
  options: SendOptions,
): Promise<{ status: number; json: any }> {
  const headers: Record<string, string> = { ...options.headers };
  if (options.session) headers.authorization = `Bearer ${options.session}`;
  const signals = [AbortSignal.timeout(options.timeoutMs), ...(options.signal ? [options.signal] : [])];
  const response = await request(new URL(path, origin), {
    method,
    headers,
    body: options.body === undefined ? undefined : JSON.stringify(options.body),
    dispatcher: agent,
    signal: AbortSignal.any(signals),
  });
  const text = await response.body.text();
  return { status: response.statusCode, json: text && text[0] === '{' ? JSON.parse(text) : text };
}

export async function login(agent: Agent, origin: string, user = 'demo'): Promise<{ session: string; latest: Map<number, number> }> {
  const { json } = await send(agent, origin, 'POST', '/sessions', { body: { user }, timeoutMs: 5000 });
  const latest = new Map<number, number>(json.walls.map((w: { id: number; latest_message_id: number }) => [w.id, w.latest_message_id]));
  return { session: json.session_id, latest };
}

export function postMessage(agent: Agent, origin: string, session: string, wall: number, content: string) {
  return send(agent, origin, 'POST', `/walls/${wall}/messages`, { session, body: { content }, timeoutMs: 5000 });
}

/** Hold `count` long polls on `wall` that no post will answer until `release` aborts them. */
export function holdPolls(agent: Agent, origin: string, session: string, wall: number, after: number, count: number, timeoutMs: number) {
  const controller = sharedAbort();
  // A cursor each (after, after + 1, …): identical polls share one task on the
  // server, and these are meant to hold a thread or a queue place each.
  const polls = Array.from({ length: count }, (_, i) =>
    send(agent, origin, 'POST', '/poll', {
      session,
      body: { last_post_id: { [wall]: after + i }, timeout_ms: timeoutMs },
      timeoutMs: timeoutMs + 5000,
      signal: controller.signal,
    }).catch(() => null),
  );
  return {
    polls,
    async release() {
      controller.abort();
      await Promise.all(polls);
    },
  };
}

/** Resolve once `predicate(stats)` holds; throw after `ms`. */
export async function until(read: () => Promise<any>, predicate: (stats: any) => boolean, ms = 15_000): Promise<any> {
  const deadline = Date.now() + ms;
  for (;;) {
    const stats = await read();
    if (predicate(stats)) return stats;
    if (Date.now() > deadline) throw new Error(`condition not met within ${ms} ms: ${JSON.stringify(stats)}`);
    await new Promise((resolve) => setTimeout(resolve, 25));
  }
}

/** `promise`, or `fallback` once `ms` pass; the timer never outlives the race. */
export async function within<T>(promise: Promise<T>, ms: number, fallback: T): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const expired = new Promise<T>((resolve) => (timer = setTimeout(() => resolve(fallback), ms)));
  try {
    return await Promise.race([promise, expired]);
  } finally {
    clearTimeout(timer);
  }
}
