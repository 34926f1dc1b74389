/**
 * AUTH and the JWT settings: who a request is, and the keys tokens are
 * verified with.
 */
import { createPublicKey, createSecretKey, type KeyObject } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { isIP } from 'node:net';
import { ConfigError, type Env, integer, oneOf } from './env-readers.js';

/** One key tokens may be signed with, and the only algorithms accepted with it (no algorithm confusion). */
export interface JwtKey {
  key: KeyObject;
  algorithms: readonly string[];
}

export type AuthConfig =
  | {
      mode: 'demo';
      /** Set explicitly while Pollster listens beyond loopback (a non-loopback HOST, or SOCKET): start-up warns. */
      exposed: boolean;
    }
  | {
      mode: 'jwt';
      /** Tried in order: the current key first, then the ones being rotated out. */
      keys: readonly JwtKey[];
      issuer: string | null;
      audience: string | null;
      /** Leeway on `exp` and `nbf`, seconds. */
      clockSkewS: number;
    };

/** Leeway on `exp` and `nbf` when JWT_CLOCK_SKEW_S is unset, seconds. */
export const DEFAULT_JWT_CLOCK_SKEW_S = 30;

/** HOST values that keep Pollster on this machine: only there may the demo login be the silent default. */
function isLoopbackHost(host: string): boolean {
  return host === 'localhost' || host === '::1' || (isIP(host) === 4 && host.startsWith('127.'));
}

/** HS256 needs a secret as long as its hash (RFC 7518 §3.2). */
const MIN_SECRET_BYTES = 32;

function jwtSecret(env: Env, key: 'JWT_SECRET' | 'JWT_SECRET_PREVIOUS'): JwtKey | null {
  const raw = env[key];
  if (raw === undefined || raw === '') return null;
  // Never echo a secret, even a short one, into the error.
  if (Buffer.byteLength(raw) < MIN_SECRET_BYTES) throw new ConfigError(`${key} must be at least ${MIN_SECRET_BYTES} bytes`);
  return { key: createSecretKey(Buffer.from(raw)), algorithms: ['HS256'] };
}

const PEM_BLOCK = /-----BEGIN ([A-Z0-9 ]+)-----[\s\S]*?-----END \1-----/g;

/** The one algorithm each key type is taken with: a token naming any other is refused. */
function algorithmsFor(key: KeyObject): readonly string[] | null {
  const details = key.asymmetricKeyDetails;
  if (key.asymmetricKeyType === 'rsa' && (details?.modulusLength ?? 0) >= 2048) return ['RS256'];
  if (key.asymmetricKeyType === 'ec' && details?.namedCurve === 'prime256v1') return ['ES256'];
  if (key.asymmetricKeyType === 'ed25519') return ['EdDSA', 'Ed25519'];
  return null;
}

/** Every PEM public key in the file, in order (several: key rotation). */
function jwtPublicKeys(env: Env): JwtKey[] | null {
  const path = env.JWT_PUBLIC_KEY_FILE?.trim();
  if (!path) return null;
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code ?? 'error';
    throw new ConfigError(`JWT_PUBLIC_KEY_FILE cannot be read (${code}: ${JSON.stringify(path)})`);
  }
  const blocks = [...text.matchAll(PEM_BLOCK)];
  if (blocks.some((block) => block[1]!.includes('PRIVATE'))) {
    throw new ConfigError('JWT_PUBLIC_KEY_FILE must hold public keys only (it holds a private key)');
  }
  if (blocks.length === 0) throw new ConfigError(`JWT_PUBLIC_KEY_FILE holds no PEM public key (${JSON.stringify(path)})`);
  return blocks.map((block, index) => {
    let key: KeyObject;
    try {
      key = createPublicKey(block[0]);
    } catch {
      throw new ConfigError(`JWT_PUBLIC_KEY_FILE key ${index + 1} is not a valid PEM public key (${JSON.stringify(path)})`);
    }
    const algorithms = algorithmsFor(key);
    if (!algorithms) {
      throw new ConfigError(
        `JWT_PUBLIC_KEY_FILE key ${index + 1} must be RSA of 2048 bits or more (RS256), EC P-256 (ES256) or Ed25519 (EdDSA)`,
      );
    }
    return { key, algorithms };
  });
}

/**
 * AUTH and the JWT settings. Every variable is read whatever the mode, so a
 * JWT setting left beside AUTH=demo stops start-up instead of being ignored.
 */
export function authConfig(env: Env, host: string, socket: string | null): AuthConfig {
  const rawMode = env.AUTH?.trim() ? env.AUTH.trim() : undefined;
  const secret = jwtSecret(env, 'JWT_SECRET');
  const previous = jwtSecret(env, 'JWT_SECRET_PREVIOUS');
  const publicKeys = jwtPublicKeys(env);
  const issuer = env.JWT_ISSUER?.trim() || null;
  const audience = env.JWT_AUDIENCE?.trim() || null;
  const clockSkewS = integer(env, 'JWT_CLOCK_SKEW_S', DEFAULT_JWT_CLOCK_SKEW_S, 0, 300);
  const exposed = socket !== null || !isLoopbackHost(host);
  if (rawMode === undefined && exposed) {
    throw new ConfigError(
      `AUTH must be set (jwt, or demo to let anyone log in as any user) when Pollster listens beyond loopback (${socket ? `SOCKET=${socket}` : `HOST=${host}`})`,
    );
  }
  const mode = oneOf(env, 'AUTH', ['demo', 'jwt'] as const, 'demo');
  if (mode === 'demo') {
    const settings = { JWT_SECRET: secret, JWT_SECRET_PREVIOUS: previous, JWT_PUBLIC_KEY_FILE: publicKeys, JWT_ISSUER: issuer };
    const set = Object.entries({ ...settings, JWT_AUDIENCE: audience }).find(([, value]) => value !== null);
    if (set) throw new ConfigError(`${set[0]} needs AUTH=jwt (AUTH is demo)`);
    return { mode, exposed };
  }
  if (secret && publicKeys) throw new ConfigError('AUTH=jwt takes JWT_SECRET or JWT_PUBLIC_KEY_FILE, not both');
  if (previous && !secret) throw new ConfigError('JWT_SECRET_PREVIOUS needs JWT_SECRET (the current secret)');
  const keys = secret ? [secret, ...(previous ? [previous] : [])] : publicKeys;
  if (!keys) throw new ConfigError('AUTH=jwt needs JWT_SECRET (HS256) or JWT_PUBLIC_KEY_FILE (RS256, ES256, EdDSA)');
  return { mode, keys, issuer, audience, clockSkewS };
}
