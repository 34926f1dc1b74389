/** `POST /sessions` (log in) and `DELETE /sessions` (log out). */
import { readBody } from '../body.js';
import type { Route } from '../context.js';
import { Errors } from '../http-error.js';
import type { Identity } from '../identity.js';
import { sendJson } from '../respond.js';
import type { RouteDeps } from '../route-deps.js';
import { parseUserName } from '../validate.js';

export function sessionRoutes({ store, logout }: RouteDeps, identity: Identity): Route[] {
  return [
    [
      'POST',
      '/sessions',
      async ({ req, res }) => {
        const name = parseUserName(await readBody(req));
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
