/**
 * Keep `count` long polls waiting on a server whose POLL_TIMEOUT_MS the bench
 * does not know (the user's own): a poll that comes back — timed out, or
 * answered by someone else's post — is sent again at once with the newest
 * cursor. Bounded in time and in re-sends; a 503 is counted, not retried.
 */
import { send, sharedAbort } from './client.js';
import type { BenchServer } from './server.js';

export interface HeldPolls {
  /** Polls the server refused with 503 (MAX_QUEUE reached). */
  readonly rejected: number;
  /** Polls that came back and were sent again. */
  readonly resent: number;
  release(): Promise<void>;
}

export function keepPolls(
  server: BenchServer,
  session: string,
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
  const loop = async (): Promise<void> => {
    for (let sends = 0; sends < 10_000 && !controller.signal.aborted && Date.now() < deadline; sends++) {
      const sentAt = Date.now();
      const reply = await send(server.agent, server.url, 'POST', '/poll', {
        session,
        body: { last_post_id: { [wall]: cursor }, timeout_ms: options.pollTimeoutMs },
        timeoutMs: Math.max(1000, deadline - Date.now()) + 5000,
        signal: controller.signal,
      }).catch(() => null);
      if (controller.signal.aborted || reply === null) return;
      if (reply.status === 503) {
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
