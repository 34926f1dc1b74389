/**
 * JWTs minted by hand with node:crypto, the way another application's
 * library would: never with jose, the library Pollster verifies with, so a
 * bug they shared could not hide. Keys are written to a temp dir as PEM.
 */
import { createHmac, generateKeyPairSync, type KeyObject, sign } from 'node:crypto';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { tempDir } from './server.js';

export const SECRET = 'a secret of at least thirty-two bytes, for HS256 tests';

const encode = (value: unknown): string => Buffer.from(typeof value === 'string' ? value : JSON.stringify(value)).toString('base64url');

/** Seconds since the epoch, as `exp`, `nbf` and `iat` count. */
export const nowS = (): number => Math.floor(Date.now() / 1000);

export type Claims = Record<string, unknown>;

/** `header.payload`, each base64url JSON (a string is taken as the JSON text itself). */
export function signingInput(header: unknown, payload: unknown): string {
  return `${encode(header)}.${encode(payload)}`;
}

/** HS256 by hand: HMAC-SHA256 over `header.payload` with `secret` (a string, or a PEM given as one). */
export function hs256(payload: unknown, secret: string | Buffer = SECRET, header: unknown = { alg: 'HS256', typ: 'JWT' }): string {
  const input = signingInput(header, payload);
  return `${input}.${createHmac('sha256', secret).update(input).digest('base64url')}`;
}

export interface KeyPair {
  alg: 'RS256' | 'ES256' | 'EdDSA';
  privateKey: KeyObject;
  /** SPKI PEM of the public key. */
  pem: string;
  /** A file holding `pem`, for JWT_PUBLIC_KEY_FILE. */
  file: string;
}

export function keyPair(alg: KeyPair['alg']): KeyPair {
  const { privateKey, publicKey } =
    alg === 'RS256'
      ? generateKeyPairSync('rsa', { modulusLength: 2048 })
      : alg === 'ES256'
        ? generateKeyPairSync('ec', { namedCurve: 'P-256' })
        : generateKeyPairSync('ed25519');
  const pem = publicKey.export({ type: 'spki', format: 'pem' }) as string;
  const file = join(tempDir('pollster-jwt-'), `${alg}.pem`);
  writeFileSync(file, pem);
  return { alg, privateKey, pem, file };
}

/** Signed with node:crypto's `sign`: PKCS#1 v1.5 for RS256, IEEE P1363 (r‖s, what JWS wants) for ES256, Ed25519 for EdDSA. */
export function signWith(pair: KeyPair, payload: unknown, header: unknown = { alg: pair.alg, typ: 'JWT' }): string {
  const input = signingInput(header, payload);
  const data = Buffer.from(input);
  const signature =
    pair.alg === 'EdDSA'
      ? sign(null, data, pair.privateKey)
      : sign('sha256', data, pair.alg === 'ES256' ? { key: pair.privateKey, dsaEncoding: 'ieee-p1363' } : pair.privateKey);
  return `${input}.${signature.toString('base64url')}`;
}

/** Claims for `sub` valid for `seconds` from now. */
export function claims(sub: string, seconds = 300, extra: Claims = {}): Claims {
  return { sub, exp: nowS() + seconds, iat: nowS(), ...extra };
}
