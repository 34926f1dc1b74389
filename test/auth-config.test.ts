/**
 * AUTH and the JWT settings: the demo login stays the silent default only
 * on loopback, and every JWT key setting that cannot work stops start-up
 * with one line naming the variable (and never repeating a secret).
 */
import { spawnSync } from 'node:child_process';
import { generateKeyPairSync } from 'node:crypto';
import { chmodSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { ConfigError, loadConfig } from '../src/config.js';
import { keyPair, SECRET } from './helpers/jwt.js';
import { ROOT } from './helpers/process.js';
import { startTestServer, tempDir } from './helpers/server.js';
import { captureLog } from './helpers/log.js';

const refusal = (env: Record<string, string>): string => {
  try {
    loadConfig(env);
  } catch (error) {
    expect(error).toBeInstanceOf(ConfigError);
    return (error as Error).message;
  }
  throw new Error(`accepted ${JSON.stringify(env)}`);
};

describe('AUTH', () => {
  it.each(['127.0.0.1', '127.0.0.2', '::1', 'localhost'])('is demo by default on loopback (HOST=%s)', (host) => {
    expect(loadConfig({ HOST: host }).auth).toEqual({ mode: 'demo', exposed: false });
  });

  it.each([
    [{ HOST: '0.0.0.0' }, 'HOST=0.0.0.0'],
    [{ HOST: '192.168.1.5' }, 'HOST=192.168.1.5'],
    [{ HOST: '::' }, 'HOST=::'],
    [{ HOST: 'chat.example' }, 'HOST=chat.example'],
    [{ SOCKET: '/run/pollster/pollster.sock' }, 'SOCKET=/run/pollster/pollster.sock'],
  ])('must be set beyond loopback (%j)', (env, where) => {
    expect(refusal(env)).toBe(
      `AUTH must be set (jwt, or demo to let anyone log in as any user) when Pollster listens beyond loopback (${where})`,
    );
  });

  it('may be demo beyond loopback when set explicitly, and says so', () => {
    expect(loadConfig({ HOST: '0.0.0.0', AUTH: 'demo' }).auth).toEqual({ mode: 'demo', exposed: true });
    expect(loadConfig({ SOCKET: '/tmp/p.sock', AUTH: 'demo' }).auth).toEqual({ mode: 'demo', exposed: true });
    expect(loadConfig({ AUTH: 'demo' }).auth).toEqual({ mode: 'demo', exposed: false });
  });

  it('accepts only demo and jwt', () => {
    expect(refusal({ AUTH: 'none' })).toBe('AUTH must be one of demo, jwt (got "none")');
  });

  it('logs a warning at start when AUTH=demo is set beyond loopback', async () => {
    const log = captureLog('info');
    await startTestServer({ SOCKET: join(tempDir(), 'p.sock'), AUTH: 'demo', LOG_LEVEL: 'info' }, log.logger);
    const warning = log.lines().find((line) => line.level === 40);
    expect(warning?.msg).toBe('AUTH=demo while listening beyond loopback: anyone who reaches Pollster can log in as any user');
  });

  it('does not warn on loopback', async () => {
    const log = captureLog('info');
    await startTestServer({ AUTH: 'demo', LOG_LEVEL: 'info' }, log.logger);
    expect(log.lines().filter((line) => line.level >= 40)).toEqual([]);
  });
});

describe('AUTH=jwt keys', () => {
  it('takes a secret of 32 bytes or more, and a previous one for rotation', () => {
    const auth = loadConfig({ AUTH: 'jwt', JWT_SECRET: SECRET, JWT_SECRET_PREVIOUS: 'p'.repeat(32) }).auth;
    expect(auth.mode === 'jwt' && auth.keys.map((key) => key.algorithms)).toEqual([['HS256'], ['HS256']]);
    expect(auth).toMatchObject({ issuer: null, audience: null, clockSkewS: 30 });
  });

  it('takes issuer, audience and the clock skew', () => {
    const env = { AUTH: 'jwt', JWT_SECRET: SECRET, JWT_ISSUER: 'https://app.example', JWT_AUDIENCE: 'pollster', JWT_CLOCK_SKEW_S: '5' };
    expect(loadConfig(env).auth).toMatchObject({ issuer: 'https://app.example', audience: 'pollster', clockSkewS: 5 });
  });

  it.each(['RS256', 'ES256', 'EdDSA'] as const)('pins a %s public key to its algorithm', (alg) => {
    const auth = loadConfig({ AUTH: 'jwt', JWT_PUBLIC_KEY_FILE: keyPair(alg).file }).auth;
    expect(auth.mode === 'jwt' && auth.keys.map((key) => key.algorithms)).toEqual([alg === 'EdDSA' ? ['EdDSA', 'Ed25519'] : [alg]]);
  });

  it('reads every key of a file holding several (rotation)', () => {
    const file = join(tempDir(), 'keys.pem');
    writeFileSync(file, `current\n${keyPair('ES256').pem}\nprevious\n${keyPair('RS256').pem}`);
    const auth = loadConfig({ AUTH: 'jwt', JWT_PUBLIC_KEY_FILE: file }).auth;
    expect(auth.mode === 'jwt' && auth.keys.map((key) => key.algorithms)).toEqual([['ES256'], ['RS256']]);
  });

  it('refuses a short secret without repeating it', () => {
    const message = refusal({ AUTH: 'jwt', JWT_SECRET: 'short-secret' });
    expect(message).toBe('JWT_SECRET must be at least 32 bytes');
    expect(refusal({ AUTH: 'jwt', JWT_SECRET: SECRET, JWT_SECRET_PREVIOUS: 'x'.repeat(31) })).toBe(
      'JWT_SECRET_PREVIOUS must be at least 32 bytes',
    );
  });

  it.each([
    [{ AUTH: 'jwt' }, 'AUTH=jwt needs JWT_SECRET (HS256) or JWT_PUBLIC_KEY_FILE (RS256, ES256, EdDSA)'],
    [{ AUTH: 'jwt', JWT_SECRET_PREVIOUS: SECRET }, 'JWT_SECRET_PREVIOUS needs JWT_SECRET (the current secret)'],
    [{ JWT_SECRET: SECRET }, 'JWT_SECRET needs AUTH=jwt (AUTH is demo)'],
    [{ AUTH: 'demo', JWT_ISSUER: 'x' }, 'JWT_ISSUER needs AUTH=jwt (AUTH is demo)'],
  ])('refuses %j', (env, message) => {
    expect(refusal(env)).toBe(message);
  });

  it('refuses a secret and a key file together', () => {
    expect(refusal({ AUTH: 'jwt', JWT_SECRET: SECRET, JWT_PUBLIC_KEY_FILE: keyPair('ES256').file })).toBe(
      'AUTH=jwt takes JWT_SECRET or JWT_PUBLIC_KEY_FILE, not both',
    );
  });

  it('refuses a key file that is missing, unreadable, empty, malformed, private or of another kind', () => {
    const dir = tempDir();
    const missing = join(dir, 'missing.pem');
    expect(refusal({ AUTH: 'jwt', JWT_PUBLIC_KEY_FILE: missing })).toBe(`JWT_PUBLIC_KEY_FILE cannot be read (ENOENT: "${missing}")`);
    expect(refusal({ AUTH: 'jwt', JWT_PUBLIC_KEY_FILE: dir })).toBe(`JWT_PUBLIC_KEY_FILE cannot be read (EISDIR: "${dir}")`);
    if (process.getuid?.() !== 0) {
      // root reads any file: the mode proves nothing there.
      const locked = join(dir, 'locked.pem');
      writeFileSync(locked, keyPair('ES256').pem);
      chmodSync(locked, 0o000);
      expect(refusal({ AUTH: 'jwt', JWT_PUBLIC_KEY_FILE: locked })).toBe(`JWT_PUBLIC_KEY_FILE cannot be read (EACCES: "${locked}")`);
    }
    const write = (name: string, text: string): string => {
      const path = join(dir, name);
      writeFileSync(path, text);
      return path;
    };
    const empty = write('empty.pem', 'not a key at all\n');
    expect(refusal({ AUTH: 'jwt', JWT_PUBLIC_KEY_FILE: empty })).toBe(`JWT_PUBLIC_KEY_FILE holds no PEM public key ("${empty}")`);
    const garbled = write('garbled.pem', '-----BEGIN PUBLIC KEY-----\nAAAAbm90IGEga2V5\n-----END PUBLIC KEY-----\n');
    expect(refusal({ AUTH: 'jwt', JWT_PUBLIC_KEY_FILE: garbled })).toBe(
      `JWT_PUBLIC_KEY_FILE key 1 is not a valid PEM public key ("${garbled}")`,
    );
    const pair = keyPair('ES256');
    const privatePem = pair.privateKey.export({ type: 'pkcs8', format: 'pem' }) as string;
    const secretFile = write('private.pem', `${pair.pem}${privatePem}`);
    expect(refusal({ AUTH: 'jwt', JWT_PUBLIC_KEY_FILE: secretFile })).toBe(
      'JWT_PUBLIC_KEY_FILE must hold public keys only (it holds a private key)',
    );
    const p384 = generateKeyPairSync('ec', { namedCurve: 'P-384' }).publicKey.export({ type: 'spki', format: 'pem' }) as string;
    const small = generateKeyPairSync('rsa', { modulusLength: 1024 }).publicKey.export({ type: 'spki', format: 'pem' }) as string;
    for (const [name, pem] of [
      ['p384.pem', p384],
      ['rsa1024.pem', small],
    ] as const) {
      expect(refusal({ AUTH: 'jwt', JWT_PUBLIC_KEY_FILE: write(name, pem) })).toBe(
        'JWT_PUBLIC_KEY_FILE key 1 must be RSA of 2048 bits or more (RS256), EC P-256 (ES256) or Ed25519 (EdDSA)',
      );
    }
  });
});

describe('start-up', () => {
  const start = (env: Record<string, string>) =>
    spawnSync(process.execPath, ['--import', 'tsx', 'src/main.ts'], {
      cwd: ROOT,
      env: { ...process.env, AUTH: '', PORT: '0', ...env },
      encoding: 'utf8',
      timeout: 20_000,
    });

  it('refuses a non-loopback HOST without AUTH, with one line naming AUTH', () => {
    const result = start({ HOST: '0.0.0.0' });
    expect(result.status).toBe(1);
    expect(result.stderr.trim()).toBe(
      'pollster: AUTH must be set (jwt, or demo to let anyone log in as any user) when Pollster listens beyond loopback (HOST=0.0.0.0)',
    );
  });

  it('refuses AUTH=jwt with a short secret, with one line that does not repeat it', () => {
    const result = start({ AUTH: 'jwt', JWT_SECRET: 'hunter2-hunter2' });
    expect(result.status).toBe(1);
    expect(result.stderr.trim()).toBe('pollster: JWT_SECRET must be at least 32 bytes');
    expect(result.stdout + result.stderr).not.toContain('hunter2');
  });

  it('refuses AUTH=jwt with an unreadable key file', () => {
    const result = start({ AUTH: 'jwt', JWT_PUBLIC_KEY_FILE: '/nonexistent/key.pem' });
    expect(result.status).toBe(1);
    expect(result.stderr.trim()).toBe('pollster: JWT_PUBLIC_KEY_FILE cannot be read (ENOENT: "/nonexistent/key.pem")');
  });
});
