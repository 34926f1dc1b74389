/**
 * A token Pollster will not accept, and why. A domain error: the HTTP side
 * maps it to 401 (http/identity.ts) and logs the reason, never the token.
 */

/** Why a token was refused: stable words for the log and for metrics, never the token or its claims. */
export type RefusalReason =
  /** Not three base64url segments, a header or claims set that is not JSON, or another JWS form. */
  | 'malformed'
  /** Longer than MAX_TOKEN_LENGTH. */
  | 'too-large'
  /** `alg` is none, or not the one algorithm the configured key is taken with. */
  | 'algorithm'
  /** The signature does not match any configured key: tampered, or signed with another key. */
  | 'signature'
  | 'expired'
  /** `nbf` (with the clock skew) is still ahead. */
  | 'not-yet-valid'
  | 'issuer'
  | 'audience'
  /** `exp` or `sub` missing, or a registered claim of the wrong type. */
  | 'claims'
  /** `sub` empty, too long, not well-formed Unicode, or with control characters. */
  | 'subject'
  /** `walls` is not a list of canonical positive integer ids. */
  | 'walls';

export class TokenRefused extends Error {
  override name = 'TokenRefused';
  readonly reason: RefusalReason;

  constructor(reason: RefusalReason) {
    super(`token refused: ${reason}`);
    this.reason = reason;
  }
}
