/**
 * Everything Pollster reads from the environment, read once at start-up and
 * validated. Nothing else in the code base looks at `process.env`; worker
 * threads get what they need through `workerData`.
 */

import { isIP } from 'node:net';
import { type AuthConfig, authConfig, DEFAULT_JWT_CLOCK_SKEW_S } from './config/auth-config.js';
import { ConfigError, type Env, integer, oneOf, text } from './config/env-readers.js';

export type { AuthConfig, JwtKey } from './config/auth-config.js';
export { ConfigError } from './config/env-readers.js';

export type PollMode = 'pool' | 'inline' | 'multiplex';
export type WakeMode = 'notify' | 'sleep';

export interface Config {
  port: number;
  host: string;
  /** Unix socket path; when set the server listens there instead of TCP. */
  socket: string | null;
  minThreads: number;
  maxThreads: number;
  /** Polls allowed to wait for a free thread; beyond it the server answers 503. */
  maxQueue: number;
  /** Concurrent waiting tasks per thread in `multiplex` mode. */
  tasksPerThread: number;
  pollMode: PollMode;
  wake: WakeMode;
  pollIntervalMs: number;
  pollTimeoutMs: number;
  /** How often external writes are looked for while a poll waits. */
  watchIntervalMs: number;
  sseMaxMs: number;
  /** Time allowed to receive a whole request (not to answer it). */
  requestTimeoutMs: number;
  /** Time allowed to receive the request headers. */
  headersTimeoutMs: number;
  sseHeartbeatMs: number;
  dbPath: string;
  /** `postgres://…`: keep everything in PostgreSQL instead of SQLite at `dbPath`. */
  databaseUrl: string | null;
  /** Most PostgreSQL connections this process's pool opens (the LISTEN connection is one more). */
  pgPoolSize: number;
  /** `*`, or a comma-separated list of origins `scheme://host[:port]`. */
  corsOrigin: string;
  /** Session lifetime since its last use (sliding), seconds. */
  sessionTtlS: number;
  /** Newest messages kept per wall; older ones are pruned in the background. 0: keep all. */
  historyMaxPerWall: number;
  /** Messages older than this many seconds are pruned in the background. 0: no age limit. */
  historyMaxAgeS: number;
  /** When set, `/stats` and `/metrics` require `Authorization: Bearer <token>`. */
  metricsToken: string | null;
  /** When set, the server API under `/api/` is on and requires `Authorization: Bearer <key>`; unset, `/api/…` is 404. */
  apiKey: string | null;
  /** One `info` line per finished request. */
  accessLog: boolean;
  logLevel: 'fatal' | 'error' | 'warn' | 'info' | 'debug' | 'trace' | 'silent';
  webConcurrency: number;
  /** `/hello` jobs running at once, in their own lane (never on the poll pool). */
  helloConcurrency: number;
  /** `/hello` jobs allowed to wait for the lane; beyond it 503. */
  helloQueue: number;
  /** A stream whose client has not read for this long is ended. */
  sseStallMs: number;
  /** Concurrent waits (polls plus streams) one session may hold. */
  maxWaitsPerSession: number;
  /** Concurrent waits one client address may hold, its sessions and anonymous requests together. */
  maxWaitsPerClient: number;
  /** Peers whose X-Forwarded-For / X-Real-IP is believed: `loopback` (incl. unix sockets) and IP addresses. */
  trustProxy: string[];
  /** Who a request is: the demo's pick-a-name login, or tokens the application signs (AUTH). */
  auth: AuthConfig;
}

/** A `postgres://` or `postgresql://` URL, as opposed to a SQLite file path. */
export function isPostgresUrl(target: string): boolean {
  return /^postgres(ql)?:\/\//.test(target);
}

/**
 * `*` or ASCII origins, as browsers send them in `Origin`: a lower-case
 * scheme, a host name (IDN in punycode) or bracketed IPv6, an optional port.
 * Anything else could inject into a header (CRLF) or crash the first
 * response (non-Latin-1), so it stops start-up.
 */
const ORIGIN =
  /^[a-z][a-z0-9+.-]*:\/\/(?:[A-Za-z0-9](?:[A-Za-z0-9-]*[A-Za-z0-9])?(?:\.[A-Za-z0-9](?:[A-Za-z0-9-]*[A-Za-z0-9])?)*|\[[0-9A-Fa-f:.]+\])(?::\d{1,5})?$/;

function corsOrigin(env: Env): string {
  const raw = env.CORS_ORIGIN;
  if (raw === undefined || raw.trim() === '') return defaults.corsOrigin;
  if (raw.trim() === '*') return '*';
  const origins = raw.split(',').map((part) => part.trim());
  if (origins.some((origin) => !ORIGIN.test(origin) || Number(/:(\d+)$/.exec(origin)?.[1] ?? 0) > 65535)) {
    throw new ConfigError(
      `CORS_ORIGIN must be * or a comma-separated list of origins scheme://host[:port] in ASCII (got ${JSON.stringify(raw)})`,
    );
  }
  return origins.join(',');
}

/** The application backend's key for `/api/`. Never echoed, even when refused: it may be a real one mistyped. */
function apiKey(env: Env): string | null {
  const raw = env.API_KEY;
  if (raw === undefined || raw === '') return null;
  if (!/^[\x21-\x7e]{16,512}$/.test(raw)) {
    throw new ConfigError('API_KEY must be 16 to 512 printable ASCII characters without spaces');
  }
  return raw;
}

function metricsToken(env: Env): string | null {
  const raw = env.METRICS_TOKEN;
  if (raw === undefined || raw === '') return null;
  if (!/^[\x21-\x7e]{16,512}$/.test(raw)) {
    throw new ConfigError('METRICS_TOKEN must be 16 to 512 printable ASCII characters without spaces');
  }
  return raw;
}

export const defaults = {
  port: 3000,
  host: '127.0.0.1',
  minThreads: 1,
  maxThreads: 16,
  maxQueue: 1000,
  tasksPerThread: 1000,
  pollIntervalMs: 500,
  pollTimeoutMs: 60_000,
  watchIntervalMs: 100,
  sseMaxMs: 60_000,
  sseHeartbeatMs: 15_000,
  requestTimeoutMs: 30_000,
  headersTimeoutMs: 10_000,
  dbPath: 'data/pollster.db',
  pgPoolSize: 10,
  corsOrigin: '*',
  sseStallMs: 30_000,
  trustProxy: 'loopback',
  sessionTtlS: 86_400,
  jwtClockSkewS: DEFAULT_JWT_CLOCK_SKEW_S,
} as const;

/**
 * Polls and streams that can be *served* at once: threads in `pool` mode,
 * threads × tasks per thread in `multiplex`, one in `inline`. Fair-share
 * defaults are fractions of it rather than of the queue: a client holding
 * most of the queue still leaves the threads to others, one holding most of
 * the threads does not (the hostile-neighbours bench showed it).
 */
export function waitingSlots(config: Pick<Config, 'pollMode' | 'maxThreads' | 'tasksPerThread'>): number {
  return config.pollMode === 'inline' ? 1 : config.maxThreads * (config.pollMode === 'multiplex' ? config.tasksPerThread : 1);
}

function trustList(env: Env): string[] {
  const raw = text(env, 'TRUST_PROXY', defaults.trustProxy);
  if (raw === 'none') return [];
  const entries = raw.split(',').map((entry) => entry.trim());
  for (const entry of entries) {
    if (entry !== 'loopback' && isIP(entry) === 0) {
      throw new ConfigError(`TRUST_PROXY must be none, or a comma-separated list of loopback and IP addresses (got "${raw}")`);
    }
  }
  return entries;
}

/** Puma's config reads `PUMA_WORKERS`; Heroku-style hosts set `WEB_CONCURRENCY`. Either names the processes. */
function webConcurrency(env: Env): number {
  const web = integer(env, 'WEB_CONCURRENCY', 1, 1, 64);
  const puma = integer(env, 'PUMA_WORKERS', 1, 1, 64);
  const webSet = env.WEB_CONCURRENCY !== undefined && env.WEB_CONCURRENCY.trim() !== '';
  const pumaSet = env.PUMA_WORKERS !== undefined && env.PUMA_WORKERS.trim() !== '';
  if (webSet && pumaSet && web !== puma) {
    throw new ConfigError(
      `PUMA_WORKERS and WEB_CONCURRENCY name the same setting; set one, or both to the same value (got ${puma} and ${web})`,
    );
  }
  return pumaSet ? puma : web;
}

export function loadConfig(env: Env = process.env): Config {
  const minThreads = integer(env, 'MIN_THREADS', defaults.minThreads, 0, 1024);
  const maxThreads = integer(env, 'MAX_THREADS', Math.max(defaults.maxThreads, minThreads), 1, 1024);
  if (minThreads > maxThreads) {
    throw new ConfigError(`MIN_THREADS must not exceed MAX_THREADS (got ${minThreads} > ${maxThreads})`);
  }
  const requestTimeoutMs = integer(env, 'REQUEST_TIMEOUT_MS', defaults.requestTimeoutMs, 100, 600_000);
  const headersTimeoutMs = integer(env, 'HEADERS_TIMEOUT_MS', defaults.headersTimeoutMs, 100, 600_000);
  if (headersTimeoutMs > requestTimeoutMs) {
    throw new ConfigError(`HEADERS_TIMEOUT_MS must not exceed REQUEST_TIMEOUT_MS (got ${headersTimeoutMs} > ${requestTimeoutMs})`);
  }
  const socket = env.SOCKET?.trim() ? env.SOCKET.trim() : null;
  const host = text(env, 'HOST', defaults.host);
  if (!/^[\w.:-]+$/.test(host)) {
    throw new ConfigError(`HOST must be a hostname or IP address (got "${host}")`);
  }
  const databaseUrl = env.DATABASE_URL?.trim() ? env.DATABASE_URL.trim() : null;
  if (databaseUrl !== null && !(isPostgresUrl(databaseUrl) && /^\S+$/.test(databaseUrl))) {
    throw new ConfigError('DATABASE_URL must be a postgres:// or postgresql:// URL (or unset for SQLite at DB_PATH)');
  }
  const pollMode = oneOf(env, 'POLL_MODE', ['pool', 'inline', 'multiplex'] as const, 'pool');
  if (databaseUrl !== null && pollMode === 'inline') {
    // Inline blocks the main thread, where PostgreSQL's answers and notifications arrive.
    throw new ConfigError('POLL_MODE=inline needs SQLite: use pool or multiplex with DATABASE_URL');
  }
  const maxQueue = integer(env, 'MAX_QUEUE', defaults.maxQueue, 0, 1_000_000);
  const tasksPerThread = integer(env, 'TASKS_PER_THREAD', defaults.tasksPerThread, 1, 100_000);
  const slots = waitingSlots({ pollMode, maxThreads, tasksPerThread });
  // Sized like the pool, so MAX_THREADS still sets how many /hello jobs run at once.
  const helloConcurrency = integer(env, 'HELLO_CONCURRENCY', maxThreads, 1, 1024);
  return {
    port: integer(env, 'PORT', defaults.port, 0, 65535),
    host,
    socket,
    minThreads,
    maxThreads,
    maxQueue,
    tasksPerThread,
    pollMode,
    wake: oneOf(env, 'WAKE', ['notify', 'sleep'] as const, 'notify'),
    pollIntervalMs: integer(env, 'POLL_INTERVAL_MS', defaults.pollIntervalMs, 1, 60_000),
    pollTimeoutMs: integer(env, 'POLL_TIMEOUT_MS', defaults.pollTimeoutMs, 1, 3_600_000),
    watchIntervalMs: integer(env, 'WATCH_INTERVAL_MS', defaults.watchIntervalMs, 1, 60_000),
    sseMaxMs: integer(env, 'SSE_MAX_MS', defaults.sseMaxMs, 1, 3_600_000),
    sseHeartbeatMs: integer(env, 'SSE_HEARTBEAT_MS', defaults.sseHeartbeatMs, 1, 3_600_000),
    requestTimeoutMs,
    headersTimeoutMs,
    dbPath: text(env, 'DB_PATH', defaults.dbPath),
    databaseUrl,
    pgPoolSize: integer(env, 'PG_POOL_SIZE', defaults.pgPoolSize, 1, 1000),
    corsOrigin: corsOrigin(env),
    sessionTtlS: integer(env, 'SESSION_TTL_S', defaults.sessionTtlS, 1, 315_360_000),
    // Off by default: pruning deletes messages, which an operator turns on knowingly (docs/design.md).
    historyMaxPerWall: integer(env, 'HISTORY_MAX_PER_WALL', 0, 0, 1_000_000),
    historyMaxAgeS: integer(env, 'HISTORY_MAX_AGE_S', 0, 0, 315_360_000),
    metricsToken: metricsToken(env),
    apiKey: apiKey(env),
    accessLog: oneOf(env, 'ACCESS_LOG', ['on', 'off'] as const, 'on') === 'on',
    logLevel: oneOf(env, 'LOG_LEVEL', ['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'] as const, 'info'),
    webConcurrency: webConcurrency(env),
    helloConcurrency,
    helloQueue: integer(env, 'HELLO_QUEUE', 4 * helloConcurrency, 0, 1_000_000),
    sseStallMs: integer(env, 'SSE_STALL_MS', defaults.sseStallMs, 1, 3_600_000),
    // 0 turns a cap off. A session may hold a quarter of what can wait (at
    // least 4), an address half (at least 8), so a page can poll while it streams.
    maxWaitsPerSession: integer(env, 'MAX_WAITS_PER_SESSION', Math.max(4, Math.floor(slots / 4)), 0, 10_000_000),
    maxWaitsPerClient: integer(env, 'MAX_WAITS_PER_CLIENT', Math.max(8, Math.floor(slots / 2)), 0, 10_000_000),
    trustProxy: trustList(env),
    auth: authConfig(env, host, socket),
  };
}
