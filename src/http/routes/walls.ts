/** The walls a client may read, their messages, and posting to them. */
import type { SessionUser } from '../../storage/model.js';
import type { Storage } from '../../storage/storage.js';
import { readBody } from '../body.js';
import type { Route } from '../context.js';
import { Errors } from '../http-error.js';
import type { Identity } from '../identity.js';
import { sendJson } from '../respond.js';
import type { RouteDeps } from '../route-deps.js';
import { parseContent, parsePage, parseWallId } from '../validate.js';
import { canPost, canRead, postIfAllowed, wallsOf } from '../wall-access.js';

/** A wall the viewer may not read answers exactly like a missing one: no existence oracle. */
async function readableWall(store: Storage, user: SessionUser | null, rawId: string | undefined): Promise<number> {
  const wallId = parseWallId(rawId);
  if (!(await canRead(store, user, wallId))) throw Errors.wallNotFound();
  return wallId;
}

export function wallRoutes({ store, history, publish }: RouteDeps, identity: Identity): Route[] {
  return [
    [
      'GET',
      '/walls',
      async (ctx) => {
        const user = await identity.viewer(ctx, Errors.unauthorized);
        sendJson(ctx.res, 200, { walls: await (user ? wallsOf(store, user) : store.publicWalls()) });
      },
    ],
    [
      'GET',
      '/walls/:id/messages',
      async (ctx) => {
        const user = await identity.viewer(ctx, Errors.unauthorized);
        const wallId = await readableWall(store, user, ctx.params.id);
        const { after, limit } = parsePage(ctx.query);
        // Bounded history: behind the kept messages, read from the floor and say so (`gap`).
        await history.ensureFresh();
        const messages = await store.messagesAfter(wallId, Math.max(after, history.floorOf(wallId)), limit);
        const gap = (await history.checked([[wallId, after]]))?.[wallId];
        if (gap) history.told({ [wallId]: gap });
        sendJson(ctx.res, 200, gap ? { messages, gap } : { messages });
      },
    ],
    [
      'POST',
      '/walls/:id/messages',
      async (ctx) => {
        const body = await readBody(ctx.req);
        const user = await identity.requireUser(ctx, body);
        const wallId = parseWallId(ctx.params.id);
        // Not a member: 403 on a wall it may read, else the 404 of a missing wall (no existence oracle).
        const refused = async () => ((await canRead(store, user, wallId)) ? Errors.wallNotWritable() : Errors.wallNotFound());
        let content: string;
        try {
          content = parseContent(body);
        } catch (error) {
          // Permission is answered before content, as it always was.
          if (!(await canPost(store, user, wallId))) throw await refused();
          throw error;
        }
        // A member's post is one statement: the membership check and the insert
        // together, a database round trip fewer on PostgreSQL.
        const message = await postIfAllowed(store, user, wallId, content);
        if (!message) throw await refused();
        publish(wallId, message.id);
        sendJson(ctx.res, 201, message);
      },
    ],
  ];
}
