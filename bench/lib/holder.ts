/**
 * Keep `count` long polls waiting on a server whose POLL_TIMEOUT_MS the bench
 * does not know (the user's own): a poll that comes back — timed out, or
 * answered by someone else's post — is sent again at once with the newest
 * cursor. Bounded in time and in re-sends; a 503 or 429 is counted, not retried.
 */
import { login, send, sharedAbort } from './client.js';
import type { BenchServer } from './server.js';

/** Who holds a poll: its session, and the client address it claims (X-Forwarded-For). */
export interface Holder {
  session: string;
  forwardedFor?: string;
}

export interface HeldPolls {
  /** Polls the server refused with 503 (MAX_QUEUE reached) or 429 (a fair-share cap). */
  readonly rejected: number;
  /** Polls that came back and were sent again. */
  readonly resent: number;
  release(): Promise<void>;
}

export function keepPolls(
  server: BenchServer,
  /** Poll i is held by holders[i % holders.length]. */
  holders: readonly Holder[],
  wall: number,
  after: number,
  count: number,
  options: { pollTimeoutMs: number; maxMs: number },
): HeldPolls {
  const controller = sharedAbort();
  const deadline = Date.now() + options.maxMs;
  let cursor = after;
  let rejected = 0;
  let resent = 0;
  const loop = async (_: unknown, index: number): Promise<void> => {
    const { session, forwardedFor } = holders[index % holders.length]!;
    const headers = forwardedFor ? { 'x-forwarded-for': forwardedFor } : undefined;
    for (let sends = 0; sends < 10_000 && !controller.signal.aborted && Date.now() < deadline; sends++) {
      const sentAt = Date.now();
      const reply = await send(server.agent, server.url, 'POST', '/poll', {
        session,
        ...(headers ? { headers } : {}),
        // A cursor each (cursor + index): identical polls share one task on
        // the server, and these are meant to hold a slot each.
        body: { last_post_id: { [wall]: cursor + index }, timeout_ms: options.pollTimeoutMs },
        timeoutMs: Math.max(1000, deadline - Date.now()) + 5000,
        signal: controller.signal,
      }).catch(() => null);
      if (controller.signal.aborted || reply === null) return;
      if (reply.status === 503 || reply.status === 429) {
        rejected++;
        return;
      }
      const posts: Array<{ id: number }> = reply.json?.walls?.[wall]?.posts ?? [];
      if (posts.length) cursor = Math.max(cursor, posts[posts.length - 1]!.id);
      resent++;
      // A server with a tiny POLL_TIMEOUT_MS must not turn this into a busy loop.
      if (Date.now() - sentAt < 20) await new Promise((resolve) => setTimeout(resolve, 20));
    }
  };
  const loops = Array.from({ length: count }, loop);
  return {
    get rejected() {
      return rejected;
    },
    get resent() {
      return resent;
    },
    async release() {
      controller.abort();
      await Promise.all(loops);
    },
  };
}

/**
 * Identities to hold `count` polls within a server's fair-share caps
 * (`wait_limits` in its /stats): a session per `max_per_session` polls, and
 * an address of its own per poll, from 198.18.0.0/15, the range set aside for
 * benchmarks (RFC 2544), sent as X-Forwarded-For. A server believes that
 * header from loopback peers by default (TRUST_PROXY); one that does not
 * shows its caps as refused polls in the report.
 */
export async function holdersFor(
  server: BenchServer,
  user: string | undefined,
  first: string,
  count: number,
  limits: { max_per_session: number } | undefined,
): Promise<Holder[]> {
  const perSession = limits && limits.max_per_session > 0 ? limits.max_per_session : count;
  const sessions = [first];
  while (sessions.length * perSession < count) sessions.push((await login(server.agent, server.url, user)).session);
  return Array.from({ length: count }, (_, index) => ({
    session: sessions[Math.floor(index / perSession)]!,
    forwardedFor: `198.18.${index >> 8}.${index & 255}`,
  }));
}
