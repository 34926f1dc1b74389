/** What the route handlers are built from: the parts of a running Pollster they use. */
import type { IncomingMessage } from 'node:http';
import type { TokenVerifier } from '../auth/token-verifier.js';
import type { Config } from '../config.js';
import type { WaitMeter } from '../observability/wait-meter.js';
import type { JobLane } from '../poll/job-lane.js';
import type { MessageWaiter } from '../poll/message-waiter.js';
import type { TaskRunner } from '../poll/task-runner.js';
import type { WaitLimits } from '../poll/wait-limits.js';
import type { HistoryFloors } from '../storage/history-floors.js';
import type { Storage } from '../storage/storage.js';
import type { StreamCounter } from './check-stream.js';
import type { HeldWaits } from './held-waits.js';

export interface RouteDeps {
  config: Config;
  store: Storage;
  /** Walls' history floors: a cursor below one is told of its gap (bounded history). */
  history: HistoryFloors;
  /** AUTH=jwt: verifies the application's tokens. Null in demo mode, where a token is an unknown session. */
  tokens: TokenVerifier | null;
  /** Wake the polls waiting on `wallId` (in this process and any others). */
  publish: (wallId: number, messageId: number) => void;
  runner: TaskRunner;
  /** Runs `/hello` jobs apart from polls and streams. */
  lane: JobLane;
  /** Per-session and per-address caps on concurrent waits. */
  waitLimits: WaitLimits;
  /** The address a request's share of the waits is counted under. */
  clientOf: (req: IncomingMessage) => string;
  waitForMessages: MessageWaiter;
  /** Times each wait for the access log and delivery metrics. */
  waitMeter: WaitMeter;
  streams: StreamCounter;
  stats: () => unknown;
  /** Prometheus text for `/metrics` (every process's figures under WEB_CONCURRENCY). */
  metrics: () => Promise<{ contentType: string; text: string }>;
  /** Held polls and open streams by user and wall, so a change of access (logout included) can end them. */
  heldWaits: HeldWaits;
  /**
   * Call after this process changed access (`/api/`, logout): SQLite's
   * `data_version` tells only the other processes, so this one reads the
   * `changes` log at once. PostgreSQL's NOTIFY reaches every process itself.
   */
  changed: () => void;
  /** Why this process cannot serve now (`/readyz`); null when it can. */
  readiness: () => Promise<string | null>;
  /** Log a session out in every process: delete it and end its streams. */
  logout: (sessionId: string) => Promise<boolean>;
}
