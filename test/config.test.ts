import { describe, expect, it } from 'vitest';
import { ConfigError, loadConfig } from '../src/config.js';

describe('loadConfig', () => {
  it('has the documented defaults', () => {
    expect(loadConfig({})).toMatchObject({
      port: 3000,
      host: '127.0.0.1',
      socket: null,
      minThreads: 1,
      maxThreads: 16,
      pollMode: 'pool',
      wake: 'notify',
      pollIntervalMs: 500,
      pollTimeoutMs: 60_000,
      dbPath: 'data/pollster.db',
      corsOrigin: '*',
    });
  });

  it.each([
    [{ PORT: '70000' }, 'PORT must be an integer from 0 to 65535 (got "70000")'],
    [{ PORT: '3e3' }, 'PORT must be an integer from 0 to 65535 (got "3e3")'],
    [{ MAX_THREADS: '0' }, 'MAX_THREADS must be an integer from 1 to 1024 (got "0")'],
    [{ MIN_THREADS: '8', MAX_THREADS: '4' }, 'MIN_THREADS must not exceed MAX_THREADS (got 8 > 4)'],
    [{ POLL_MODE: 'threads' }, 'POLL_MODE must be one of pool, inline, multiplex (got "threads")'],
    [{ WAKE: 'poll' }, 'WAKE must be one of notify, sleep (got "poll")'],
    [{ MAX_QUEUE: '-1' }, 'MAX_QUEUE must be an integer from 0 to 1000000 (got "-1")'],
    [{ POLL_TIMEOUT_MS: '0' }, 'POLL_TIMEOUT_MS must be an integer from 1 to 3600000 (got "0")'],
    [{ HOST: 'bad host' }, 'HOST must be a hostname or IP address (got "bad host")'],
  ])('%o is refused', (env, message) => {
    expect(() => loadConfig(env)).toThrow(new ConfigError(message));
  });

  it('raises MAX_THREADS to MIN_THREADS when only MIN_THREADS is set high', () => {
    expect(loadConfig({ MIN_THREADS: '32' })).toMatchObject({ minThreads: 32, maxThreads: 32 });
  });
});
