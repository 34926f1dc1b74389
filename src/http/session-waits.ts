/**
 * The open streams (and held polls) of each session, so that logging out
 * ends them at once instead of letting them run until `SSE_MAX_MS`. Under
 * `WEB_CONCURRENCY` the logout is relayed to every process, and each ends
 * its own.
 */
export class SessionWaits {
  readonly #bySession = new Map<string, Set<() => void>>();

  /** Register `end` for `sessionId`; the returned function unregisters it. */
  add(sessionId: string, end: () => void): () => void {
    let ends = this.#bySession.get(sessionId);
    if (!ends) {
      ends = new Set();
      this.#bySession.set(sessionId, ends);
    }
    ends.add(end);
    return () => {
      ends.delete(end);
      if (ends.size === 0 && this.#bySession.get(sessionId) === ends) this.#bySession.delete(sessionId);
    };
  }

  /** End every wait of `sessionId`; returns how many there were. */
  endSession(sessionId: string): number {
    const ends = this.#bySession.get(sessionId);
    if (!ends) return 0;
    this.#bySession.delete(sessionId);
    for (const end of ends) end();
    return ends.size;
  }
}
