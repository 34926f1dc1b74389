/**
 * The storage model both backends share: the shapes they store and answer
 * with, and the limits every writer (HTTP API, CLI) enforces.
 */
export type { Message, WallSummary } from '../shared/types.js';

/** Longest message, in characters (code points); the API and the CLI both enforce it. */
export const MAX_CONTENT_LENGTH = 2000;

export interface User {
  id: number;
  name: string;
}

/**
 * What a token adds to a user: walls granted on top of memberships, and the
 * instant the token (and a session made from it) stops counting.
 */
export interface TokenGrant {
  /** Wall ids the token grants for reading and posting, beyond memberships. */
  granted: readonly number[];
  /** Epoch ms: nothing the token authorised outlives it. */
  endsAt: number;
}

/** The user behind a session or a token; `granted` and `endsAt` are there when a token is behind it. */
export type SessionUser = User & Partial<TokenGrant>;
