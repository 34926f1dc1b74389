/**
 * Tokens verified lately, so a client that sends the same token with every
 * request (a Bearer header, or `?token=` on each stream) pays for the
 * signature once. Bounded (least recently used goes first), keyed by a
 * SHA-256 of the token so a full cache holds no token text and costs the same
 * whatever the tokens' length, and never answers for a token past its end.
 */
import { createHash } from 'node:crypto';

export class VerifiedTokens<T extends { endsAt: number }> {
  readonly #entries = new Map<string, T>();
  readonly #capacity: number;

  constructor(capacity: number) {
    this.#capacity = capacity;
  }

  static keyOf(token: string): string {
    return createHash('sha256').update(token).digest('base64url');
  }

  /** The entry for `key` while it is still valid at `now`; an expired one is dropped. */
  get(key: string, now: number): T | undefined {
    const entry = this.#entries.get(key);
    if (entry === undefined) return undefined;
    this.#entries.delete(key);
    if (now >= entry.endsAt) return undefined;
    // Re-inserted: Map keeps insertion order, so the front is the least recently used.
    this.#entries.set(key, entry);
    return entry;
  }

  set(key: string, entry: T): void {
    this.#entries.delete(key);
    this.#entries.set(key, entry);
    if (this.#entries.size > this.#capacity) this.#entries.delete(this.#entries.keys().next().value!);
  }

  get size(): number {
    return this.#entries.size;
  }
}
