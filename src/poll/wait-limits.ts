/**
 * Fair shares of the waiting capacity: concurrent waits (long polls that
 * really wait, plus open streams) are capped per session and per client
 * address, so one client cannot hold most of what the mode can
 * keep waiting. Counted on the main thread, per process.
 */
import { WaitCapError } from './errors.js';

export interface WaitLimitOptions {
  /** 0: no cap. */
  maxWaitsPerSession: number;
  /** 0: no cap. */
  maxWaitsPerClient: number;
}

/**
 * Who is asking: a session id (absent for anonymous clients) and a client
 * key, which the caller derives (the HTTP side: the client's address).
 */
export interface Waiter {
  session?: string | undefined;
  client: string;
}

/** Gives the place back; calling it twice is harmless. */
export type Release = () => void;

export class WaitLimits {
  readonly #perSession: number;
  readonly #perClient: number;
  readonly #sessions = new Map<string, number>();
  readonly #clients = new Map<string, number>();
  #refused = 0;

  constructor(options: WaitLimitOptions) {
    this.#perSession = options.maxWaitsPerSession;
    this.#perClient = options.maxWaitsPerClient;
  }

  /** Take one wait for `waiter`, or throw WaitCapError when its session or client is at its cap. */
  acquire(waiter: Waiter): Release {
    const { session, client } = waiter;
    const overSession = session !== undefined && this.#perSession > 0 && (this.#sessions.get(session) ?? 0) >= this.#perSession;
    const overClient = this.#perClient > 0 && (this.#clients.get(client) ?? 0) >= this.#perClient;
    if (overSession || overClient) {
      this.#refused++;
      throw new WaitCapError();
    }
    if (session !== undefined) add(this.#sessions, session, +1);
    add(this.#clients, client, +1);
    let released = false;
    return () => {
      if (released) return;
      released = true;
      if (session !== undefined) add(this.#sessions, session, -1);
      add(this.#clients, client, -1);
    };
  }

  /** Figures only: no session ids or addresses leave this class. */
  stats(): { max_per_session: number; max_per_client: number; sessions_waiting: number; clients_waiting: number; refused: number } {
    return {
      max_per_session: this.#perSession,
      max_per_client: this.#perClient,
      sessions_waiting: this.#sessions.size,
      clients_waiting: this.#clients.size,
      refused: this.#refused,
    };
  }
}

function add(counts: Map<string, number>, key: string, delta: number): void {
  const next = (counts.get(key) ?? 0) + delta;
  if (next > 0) counts.set(key, next);
  else counts.delete(key);
}
