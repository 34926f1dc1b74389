/**
 * Who a request is: its credential (Bearer header, body or query) — a
 * session id, or with AUTH=jwt an application's token — the user behind it
 * with what a token grants, and its fair share of the waits.
 */
import type { IncomingMessage } from 'node:http';
import { looksLikeToken, TokenRefused, type TokenVerifier } from '../auth/token-verifier.js';
import type { Release, WaitLimits } from '../poll/wait-limits.js';
import type { SessionUser } from '../storage/model.js';
import type { Storage } from '../storage/storage.js';
import { bearerToken } from './bearer.js';
import type { RequestContext } from './context.js';
import { Errors, type HttpError } from './http-error.js';
import { sessionIdFromBody } from './validate.js';

export interface IdentityDeps {
  store: Storage;
  /** AUTH=jwt: verifies tokens; null in demo mode. */
  tokens: TokenVerifier | null;
  /** Per-session and per-address caps on concurrent waits. */
  waitLimits: WaitLimits;
  /** The address a request's share is counted under (see client-address.ts). */
  clientOf: (req: IncomingMessage) => string;
}

export interface Identity {
  /** The request's session id: its credential, unless that is a token (AUTH=jwt). */
  sessionIdOf(ctx: RequestContext, body?: unknown): string | undefined;
  /** The user of the request's session or token; 401 without a live one. */
  requireUser(ctx: RequestContext, body?: unknown): Promise<SessionUser>;
  /**
   * Who asks: a user, or `null` when the request carries no credential at
   * all (public walls only). A session that is given but unknown is refused
   * with `invalid()`, so a stale client learns to log in again; a token that
   * is refused gets 401 `Invalid token` or `Token expired` on every route.
   */
  viewer(ctx: RequestContext, invalid: () => HttpError, body?: unknown): Promise<SessionUser | null>;
  /** AUTH=jwt: the user a token names (created the first time), with its grant; 401 for a refused token. */
  tokenUser(token: string): Promise<Required<SessionUser>>;
  /** A fair share of the waits for this request's session and address (anonymous: address only); WaitCapError past a cap. */
  admitWait(ctx: RequestContext, body?: unknown): Release;
}

export function createIdentity({ store, tokens, waitLimits, clientOf }: IdentityDeps): Identity {
  // `?token=` is for EventSource, which cannot set a header; a token goes wherever a session id does.
  const credentialOf = (ctx: RequestContext, body?: unknown): string | undefined =>
    bearerToken(ctx.req) ?? sessionIdFromBody(body) ?? ctx.query.get('session_id') ?? ctx.query.get('token') ?? undefined;
  const isToken = (credential: string): boolean => tokens !== null && looksLikeToken(credential);
  /** A token's user counts its waits as one, however many tokens it is given: a fresh token is no fresh share. */
  const tokenShares = new WeakMap<RequestContext, string>();

  async function tokenUser(token: string): Promise<Required<SessionUser>> {
    let verified: Awaited<ReturnType<TokenVerifier['verify']>>;
    try {
      verified = await tokens!.verify(token);
    } catch (error) {
      if (!(error instanceof TokenRefused)) throw error;
      throw error.reason === 'expired' ? Errors.tokenExpired() : Errors.invalidToken();
    }
    const user = await store.ensureUser(verified.sub);
    return { ...user, granted: verified.granted, endsAt: verified.endsAt };
  }

  /** The credential's user: undefined for an unknown or ended session, 401 for a refused token. */
  async function userOf(ctx: RequestContext, credential: string): Promise<SessionUser | undefined> {
    if (!isToken(credential)) return store.sessionUser(credential);
    const user = await tokenUser(credential);
    tokenShares.set(ctx, `user:${user.id}`);
    return user;
  }

  return {
    sessionIdOf(ctx, body) {
      const credential = credentialOf(ctx, body);
      return credential !== undefined && !isToken(credential) ? credential : undefined;
    },
    async requireUser(ctx, body) {
      const credential = credentialOf(ctx, body);
      const user = credential ? await userOf(ctx, credential) : undefined;
      if (!user) throw Errors.unauthorized();
      return user;
    },
    async viewer(ctx, invalid, body) {
      const credential = credentialOf(ctx, body);
      if (!credential) return null;
      const user = await userOf(ctx, credential);
      if (!user) throw invalid();
      return user;
    },
    tokenUser: (token) => (tokens ? tokenUser(token) : Promise.reject(Errors.invalidToken())),
    admitWait(ctx, body) {
      return waitLimits.acquire({ session: tokenShares.get(ctx) ?? credentialOf(ctx, body), client: clientOf(ctx.req) });
    },
  };
}
