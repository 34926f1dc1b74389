/**
 * Verifies the JWTs an application signs for its users (AUTH=jwt) with
 * `jose`: the signature against the configured keys, each pinned to its one
 * algorithm; `exp` (required), `nbf`, `iss` and `aud` with a clock skew; then
 * the claims Pollster uses (token-claims.ts). Verified tokens are remembered
 * until they end (verified-tokens.ts), so a Bearer token on every request
 * costs a hash and a map lookup after the first.
 */
import { decodeProtectedHeader, errors, type JWTPayload, jwtVerify } from 'jose';
import type { AuthConfig, JwtKey } from '../config.js';
import { grantedWallsOf, subjectOf } from './token-claims.js';
import { type RefusalReason, TokenRefused } from './token-refused.js';
import { VerifiedTokens } from './verified-tokens.js';

export { TokenRefused, type RefusalReason } from './token-refused.js';

/**
 * Longest token accepted, in characters. Real ones are a few hundred; the cap
 * keeps a hostile one from costing a base64 decode and a JSON parse of
 * whatever a header (16 KiB) or a body (64 KiB) can carry.
 */
export const MAX_TOKEN_LENGTH = 8192;

/** Compact JWS: three base64url segments (an empty signature still parses, so `alg: none` is refused for its algorithm). */
const COMPACT = /^[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+\.[A-Za-z0-9_-]*$/;

/** What a verified token says, and until when it counts. */
export interface VerifiedToken {
  /** The user, as `sub` names it. */
  sub: string;
  /** Wall ids of the `walls` claim, sorted, without repeats. */
  granted: readonly number[];
  /** Epoch ms after which the token is refused: `exp` plus the clock skew. */
  endsAt: number;
}

export type JwtAuth = Extract<AuthConfig, { mode: 'jwt' }>;

export interface TokenVerifierOptions {
  /** Verified tokens remembered at most (default 10,000: about 1.5 MiB). */
  cacheSize?: number;
  /** The clock, for tests. */
  now?: () => number;
  /** Told of every refusal, with its reason: the token itself is never passed on. */
  onRefused?: (reason: RefusalReason) => void;
}

/** Whether a string is shaped like a JWT rather than a session id (which has no dots). */
export function looksLikeToken(credential: string): boolean {
  return credential.includes('.');
}

export class TokenVerifier {
  readonly #auth: JwtAuth;
  readonly #cache: VerifiedTokens<VerifiedToken>;
  readonly #now: () => number;
  readonly #onRefused: (reason: RefusalReason) => void;

  constructor(auth: JwtAuth, { cacheSize = 10_000, now = Date.now, onRefused = () => {} }: TokenVerifierOptions = {}) {
    this.#auth = auth;
    this.#cache = new VerifiedTokens(cacheSize);
    this.#now = now;
    this.#onRefused = onRefused;
  }

  /** The token's user, grants and end; TokenRefused with the reason otherwise. */
  async verify(token: string): Promise<VerifiedToken> {
    try {
      return await this.#verifyOrRemember(token);
    } catch (error) {
      if (error instanceof TokenRefused) this.#onRefused(error.reason);
      throw error;
    }
  }

  async #verifyOrRemember(token: string): Promise<VerifiedToken> {
    if (token.length > MAX_TOKEN_LENGTH) throw new TokenRefused('too-large');
    if (!COMPACT.test(token)) throw new TokenRefused('malformed');
    const now = this.#now();
    const key = VerifiedTokens.keyOf(token);
    const known = this.#cache.get(key, now);
    if (known) return known;
    const verified = await this.#verify(token, now);
    this.#cache.set(key, verified);
    return verified;
  }

  async #verify(token: string, now: number): Promise<VerifiedToken> {
    let alg: unknown;
    try {
      alg = decodeProtectedHeader(token).alg;
    } catch {
      throw new TokenRefused('malformed');
    }
    // Only keys whose algorithm the token names: HS256 over an RSA key's PEM
    // finds no candidate at all (algorithm confusion), `none` never does.
    const candidates = this.#auth.keys.filter((key) => typeof alg === 'string' && key.algorithms.includes(alg));
    if (candidates.length === 0) throw new TokenRefused('algorithm');
    for (const candidate of candidates) {
      try {
        const { payload } = await jwtVerify(token, candidate.key, this.#optionsFor(candidate, now));
        return this.#accept(payload);
      } catch (error) {
        if (error instanceof TokenRefused) throw error;
        const reason = reasonOf(error);
        // A signature that fails may be one for the next key (rotation); every other failure is final.
        if (reason !== 'signature') throw new TokenRefused(reason);
      }
    }
    throw new TokenRefused('signature');
  }

  #optionsFor(key: JwtKey, now: number) {
    const { issuer, audience, clockSkewS } = this.#auth;
    return {
      algorithms: [...key.algorithms],
      requiredClaims: ['exp', 'sub'],
      clockTolerance: clockSkewS,
      currentDate: new Date(now),
      ...(issuer === null ? {} : { issuer }),
      ...(audience === null ? {} : { audience }),
    };
  }

  #accept(payload: JWTPayload): VerifiedToken {
    const sub = subjectOf(payload.sub);
    const granted = grantedWallsOf(payload.walls);
    // jose checked that exp is a number; JSON's 1e999 is one too, and would never end.
    if (!Number.isFinite(payload.exp)) throw new TokenRefused('claims');
    const endsAt = Math.min(Math.ceil((payload.exp! + this.#auth.clockSkewS) * 1000), Number.MAX_SAFE_INTEGER);
    return { sub, granted, endsAt };
  }
}

/** jose's error classes, as Pollster's refusal reasons. */
function reasonOf(error: unknown): RefusalReason {
  if (error instanceof errors.JWTExpired) return 'expired';
  if (error instanceof errors.JWTClaimValidationFailed) {
    if (error.claim === 'nbf') return 'not-yet-valid';
    if (error.claim === 'iss') return 'issuer';
    if (error.claim === 'aud') return 'audience';
    return 'claims';
  }
  if (error instanceof errors.JOSEAlgNotAllowed || error instanceof errors.JOSENotSupported) return 'algorithm';
  if (error instanceof errors.JWSSignatureVerificationFailed) return 'signature';
  return 'malformed';
}
