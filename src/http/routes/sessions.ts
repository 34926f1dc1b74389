/** `POST /sessions` (log in, or exchange a token for a session) and `DELETE /sessions` (log out); `GET /auth` says which. */
import { bearerToken } from '../bearer.js';
import { readBody } from '../body.js';
import type { Route } from '../context.js';
import { Errors } from '../http-error.js';
import type { Identity } from '../identity.js';
import { sendJson } from '../respond.js';
import type { RouteDeps } from '../route-deps.js';
import { parseUserName } from '../validate.js';
import { wallsOf } from '../wall-access.js';

/** `{"token":"…"}` or `token=…`. */
function tokenFromBody(body: unknown): string | undefined {
  const token = typeof body === 'object' && body !== null ? (body as Record<string, unknown>).token : undefined;
  return typeof token === 'string' ? token : undefined;
}

export function sessionRoutes(deps: RouteDeps, identity: Identity): Route[] {
  const { store, logout } = deps;
  return [
    // The page asks which login to show: a user picker (demo) or a token (jwt).
    ['GET', '/auth', ({ res }) => sendJson(res, 200, { mode: deps.config.auth.mode })],
    [
      'POST',
      '/sessions',
      async ({ req, res }) => {
        const body = await readBody(req);
        if (deps.config.auth.mode === 'jwt') {
          // A session id for clients written for the originals' session_id; it lives no longer than the token.
          const token = tokenFromBody(body) ?? bearerToken(req);
          if (token === undefined) throw Errors.tokenRequired();
          const user = await identity.tokenUser(token);
          const sessionId = await store.createSession(user.id, Date.now(), { granted: user.granted, endsAt: user.endsAt });
          sendJson(res, 201, { session_id: sessionId, user: user.name, walls: await wallsOf(store, user) });
          return;
        }
        const name = parseUserName(body);
        const user = await store.userByName(name);
        if (!user) throw Errors.invalidUser();
        const sessionId = await store.createSession(user.id);
        sendJson(res, 201, { session_id: sessionId, user: user.name, walls: await store.wallsOf(user.id) });
      },
    ],
    [
      'DELETE',
      '/sessions',
      async (ctx) => {
        const id = identity.sessionIdOf(ctx, await readBody(ctx.req));
        if (!id || !(await logout(id))) throw Errors.unauthorized();
        ctx.res.writeHead(204).end();
      },
    ],
  ];
}
