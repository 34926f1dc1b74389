/**
 * `node dist/main.js --help` (every variable with its default) and
 * `--check-config` (the effective configuration, secrets masked). The
 * README's configuration table says more about each; test/config-help.test.ts
 * keeps this list and the variables `loadConfig` reads in step.
 */
import type { Config } from './config.js';

/** `[variable, default, what it sets]`, in the README table's order. */
export const VARIABLES: ReadonlyArray<readonly [string, string, string]> = [
  ['PORT', '3000', 'TCP port (0 = any free port)'],
  ['HOST', '127.0.0.1', 'address to listen on'],
  ['SOCKET', '-', 'listen on this unix socket instead of TCP'],
  ['MIN_THREADS', '1', 'threads the pool (and the /hello lane) keeps loaded'],
  ['MAX_THREADS', '16', 'most threads the pool grows to, per process'],
  ['MAX_QUEUE', '1000', 'polls allowed to wait for a thread; beyond it 503'],
  ['POLL_MODE', 'pool', 'pool, multiplex or inline: where a poll waits'],
  ['TASKS_PER_THREAD', '1000', 'concurrent waiting polls per thread in multiplex mode'],
  ['WAKE', 'notify', 'notify (Atomics) or sleep (re-check every POLL_INTERVAL_MS)'],
  ['POLL_INTERVAL_MS', '500', 'the sleep of WAKE=sleep'],
  ['POLL_TIMEOUT_MS', '60000', 'longest a poll waits'],
  ['WATCH_INTERVAL_MS', '100', 'how often SQLite is checked for outside writes while polls wait'],
  ['SSE_MAX_MS', '60000', 'a /check stream ends after this; the browser reconnects'],
  ['SSE_HEARTBEAT_MS', '15000', 'interval of the keep-alive comment on idle streams'],
  ['SSE_STALL_MS', '30000', 'a stream whose client reads nothing for this long is ended'],
  ['HELLO_CONCURRENCY', 'MAX_THREADS', '/hello jobs running at once, on their own threads'],
  ['HELLO_QUEUE', '4 x HELLO_CONCURRENCY', '/hello jobs allowed to wait; beyond it 503'],
  ['MAX_WAITS_PER_SESSION', '1/4 of the waiting slots, >= 4', 'concurrent waits one session may hold (0 = no cap)'],
  ['MAX_WAITS_PER_CLIENT', '1/2 of the waiting slots, >= 8', 'concurrent waits one client address may hold (0 = no cap)'],
  ['TRUST_PROXY', 'loopback', 'peers whose X-Forwarded-For / X-Real-IP are believed'],
  ['REQUEST_TIMEOUT_MS', '30000', 'time to receive a whole request'],
  ['HEADERS_TIMEOUT_MS', '10000', 'time to receive the request headers'],
  ['DB_PATH', 'data/pollster.db', 'SQLite database (when DATABASE_URL is unset)'],
  ['DATABASE_URL', '-', 'postgres:// URL: keep everything in PostgreSQL instead'],
  ['PG_POOL_SIZE', '10', 'most PostgreSQL connections per process'],
  ['CORS_ORIGIN', '*', 'Access-Control-Allow-Origin: * or a list of origins'],
  ['SESSION_TTL_S', '86400', 'a session ends this long after its last use'],
  ['METRICS_TOKEN', '-', 'when set, /stats and /metrics need this Bearer token'],
  ['API_KEY', '-', 'when set, the server API under /api/ is on and needs this Bearer key'],
  ['WEB_CONCURRENCY', '1', 'processes sharing the port'],
  ['PUMA_WORKERS', '-', 'another name for WEB_CONCURRENCY'],
  ['LOG_LEVEL', 'info', 'pino level, or silent'],
  ['ACCESS_LOG', 'on', 'one log line per finished request: on or off'],
  ['HISTORY_MAX_PER_WALL', '0 (keep all)', 'keep this many newest messages per wall; a client behind them is told of the gap'],
  ['HISTORY_MAX_AGE_S', '0 (keep all)', 'delete messages older than this many seconds, with the same gap signal'],
  ['AUTH', 'demo on loopback; required otherwise', 'demo (pick a user name) or jwt (tokens your application signs)'],
  ['JWT_SECRET', '-', 'AUTH=jwt: the HS256 secret, at least 32 bytes'],
  ['JWT_SECRET_PREVIOUS', '-', 'AUTH=jwt: a second HS256 secret accepted while rotating'],
  ['JWT_PUBLIC_KEY_FILE', '-', 'AUTH=jwt: PEM public keys (RS256, ES256 or EdDSA) instead of a secret'],
  ['JWT_ISSUER', '-', "AUTH=jwt: a token's iss must equal it"],
  ['JWT_AUDIENCE', '-', "AUTH=jwt: a token's aud must be or contain it"],
  ['JWT_CLOCK_SKEW_S', '30', 'AUTH=jwt: leeway on exp and nbf, seconds'],
  ['API_KEY', '-', 'when set, the server API under /api/ is on and needs this Bearer key'],
];

export function helpText(): string {
  const width = Math.max(...VARIABLES.map(([name]) => name.length));
  const rows = VARIABLES.map(([name, fallback, meaning]) => `  ${name.padEnd(width)}  ${meaning} (default: ${fallback})`);
  return [
    'usage: node dist/main.js [--help | --check-config]   (npm start runs it)',
    '',
    'Pollster is configured by environment variables, read once at start-up:',
    ...rows,
    '',
    '--check-config  print the effective configuration (secrets masked) and exit 0, or the error and exit 1',
    'More on each variable: README.md, "Configuration".',
    '',
  ].join('\n');
}

/** Names whose values are never shown, in any config key. */
const SECRET = /token|secret|key|password/i;

/** The configuration as `--check-config` prints it: secrets (at any depth) and the database password masked. */
export function maskedConfig(config: Config): Record<string, unknown> {
  return maskObject(config as unknown as Record<string, unknown>);
}

function maskObject(object: Record<string, unknown>): Record<string, unknown> {
  const shown: Record<string, unknown> = {};
  for (const [key, value] of Object.entries(object)) {
    if (SECRET.test(key) && value !== null && value !== undefined) shown[key] = '***';
    else if (key === 'databaseUrl' && typeof value === 'string') shown[key] = withoutPassword(value);
    else if (value !== null && typeof value === 'object' && !Array.isArray(value))
      shown[key] = maskObject(value as Record<string, unknown>);
    else shown[key] = value;
  }
  return shown;
}

/** A connection URL with its password replaced by `***`. */
export function withoutPassword(url: string): string {
  try {
    const parsed = new URL(url);
    if (parsed.password) parsed.password = '***';
    return parsed.toString();
  } catch {
    return '(unparseable URL)';
  }
}
