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
      sessionTtlS: 86_400,
      metricsToken: null,
      accessLog: true,
    });
  });

  it.each([
    ['*', '*'],
    ['https://chat.example', 'https://chat.example'],
    ['https://chat.example:8443, http://localhost:3000', 'https://chat.example:8443,http://localhost:3000'],
    ['http://[::1]:3000', 'http://[::1]:3000'],
    ['https://xn--bcher-kva.example', 'https://xn--bcher-kva.example'],
  ])('CORS_ORIGIN %j is accepted', (raw, origin) => {
    expect(loadConfig({ CORS_ORIGIN: raw }).corsOrigin).toBe(origin);
  });

  it.each([
    'https://chat.example\r\nSet-Cookie: x=1',
    'https://bücher.example',
    'https://chat.example/path',
    'chat.example',
    'https://chat.example:99999',
    'https://chat.example,',
    '*, https://chat.example',
    'null',
  ])('CORS_ORIGIN %j stops start-up with one line', (raw) => {
    const value = raw.replace('\\r\\n', '\r\n');
    expect(() => loadConfig({ CORS_ORIGIN: value })).toThrow(ConfigError);
    // One line: JSON quoting turns a CR or LF in the value into \r, \n.
    expect(() => loadConfig({ CORS_ORIGIN: value })).toThrow(
      /^CORS_ORIGIN must be \* or a comma-separated list of origins scheme:\/\/host\[:port\] in ASCII \(got ".*"\)$/,
    );
  });

  it('never repeats METRICS_TOKEN in its error', () => {
    expect(() => loadConfig({ METRICS_TOKEN: 'secret' })).toThrow(/^METRICS_TOKEN must be/);
    expect(() => loadConfig({ METRICS_TOKEN: 'secret' })).not.toThrow(/secret/);
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
    [{ ACCESS_LOG: 'yes' }, 'ACCESS_LOG must be one of on, off (got "yes")'],
    [{ SESSION_TTL_S: '0' }, 'SESSION_TTL_S must be an integer from 1 to 315360000 (got "0")'],
    [{ METRICS_TOKEN: 'short' }, 'METRICS_TOKEN must be 16 to 512 printable ASCII characters without spaces'],
    [{ METRICS_TOKEN: 'a token with spaces in it' }, 'METRICS_TOKEN must be 16 to 512 printable ASCII characters without spaces'],
  ])('%o is refused', (env, message) => {
    expect(() => loadConfig(env)).toThrow(new ConfigError(message));
  });

  it('raises MAX_THREADS to MIN_THREADS when only MIN_THREADS is set high', () => {
    expect(loadConfig({ MIN_THREADS: '32' })).toMatchObject({ minThreads: 32, maxThreads: 32 });
  });
});
