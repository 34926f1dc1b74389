/**
 * Who a request is: its session id (Bearer header, body or query), the user
 * behind it, and its fair share of the waits.
 */
import type { IncomingMessage } from 'node:http';
import type { Release, WaitLimits } from '../poll/wait-limits.js';
import type { Storage } from '../storage/storage.js';
import type { User } from '../storage/model.js';
import { bearerToken } from './bearer.js';
import type { RequestContext } from './context.js';
import { Errors, type HttpError } from './http-error.js';
import { sessionIdFromBody } from './validate.js';

export interface IdentityDeps {
  store: Storage;
  /** Per-session and per-address caps on concurrent waits. */
  waitLimits: WaitLimits;
  /** The address a request's share is counted under (see client-address.ts). */
  clientOf: (req: IncomingMessage) => string;
}

export interface Identity {
  sessionIdOf(ctx: RequestContext, body?: unknown): string | undefined;
  /** The user of the request's session; 401 without a live one. */
  requireUser(ctx: RequestContext, body?: unknown): Promise<User>;
  /**
   * Who asks: a user, or `null` when the request carries no session at all
   * (public walls only). A session that is given but unknown is refused with
   * `invalid()`, so a stale client learns to log in again.
   */
  viewer(ctx: RequestContext, invalid: () => HttpError, body?: unknown): Promise<User | null>;
  /** A fair share of the waits for this request's session and address (anonymous: address only); WaitCapError past a cap. */
  admitWait(ctx: RequestContext, body?: unknown): Release;
}

export function createIdentity({ store, waitLimits, clientOf }: IdentityDeps): Identity {
  const sessionIdOf = (ctx: RequestContext, body?: unknown): string | undefined =>
    bearerToken(ctx.req) ?? sessionIdFromBody(body) ?? ctx.query.get('session_id') ?? undefined;

  return {
    sessionIdOf,
    async requireUser(ctx, body) {
      const id = sessionIdOf(ctx, body);
      const user = id ? await store.sessionUser(id) : undefined;
      if (!user) throw Errors.unauthorized();
      return user;
    },
    async viewer(ctx, invalid, body) {
      const id = sessionIdOf(ctx, body);
      if (!id) return null;
      const user = await store.sessionUser(id);
      if (!user) throw invalid();
      return user;
    },
    admitWait(ctx, body) {
      return waitLimits.acquire({ session: sessionIdOf(ctx, body), client: clientOf(ctx.req) });
    },
  };
}
