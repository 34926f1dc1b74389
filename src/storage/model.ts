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
