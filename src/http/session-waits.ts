/**
 * The open streams (and held polls) of each session, so that logging out
 * ends them at once instead of letting them run until `SSE_MAX_MS`. Under
 * `WEB_CONCURRENCY` the logout is relayed to every process, and each ends
 * its own.
 */
import type { Departure } from '../poll/departure.js';

/**
 * The abort reason of a request whose wait a logout ended: it tells that
 * from a client leaving, which aborts the same signal.
 */
export const LOGGED_OUT = Symbol('logged out');

/**
 * Each entry is the request's own Departure (RequestContext):
 * no closure or second signal per held request (memory per held poll).
 */
export class SessionWaits {
  readonly #bySession = new Map<string, Set<Departure>>();

  add(sessionId: string, request: Departure): void {
    let requests = this.#bySession.get(sessionId);
    if (!requests) {
      requests = new Set();
      this.#bySession.set(sessionId, requests);
    }
    requests.add(request);
  }

  delete(sessionId: string, request: Departure): void {
    const requests = this.#bySession.get(sessionId);
    if (!requests?.delete(request)) return;
    if (requests.size === 0) this.#bySession.delete(sessionId);
  }

  /** End every wait of `sessionId` (their signals abort with LOGGED_OUT); returns how many there were. */
  endSession(sessionId: string): number {
    const requests = this.#bySession.get(sessionId);
    if (!requests) return 0;
    this.#bySession.delete(sessionId);
    for (const request of requests) request.abort(LOGGED_OUT);
    return requests.size;
  }
}
