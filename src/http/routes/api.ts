/**
 * The server API for an application's backend (`/api/`): walls, users,
 * memberships, publishing as any user, and ending a user's sessions. On only
 * when API_KEY is set — otherwise no route is registered and `/api/…`
 * answers 404 like any unknown path — and every request needs
 * `Authorization: Bearer <API_KEY>`, checked before its body is read.
 *
 * A change that takes access away reaches held polls and open streams in
 * every process on every host through the database (`storage/changes.ts`);
 * `changed()` makes this process read SQLite's log at once.
 */
import { NameTakenError, nameProblem, type WallChange } from '../../storage/admin.js';
import type { User } from '../../storage/model.js';
import { bearerToken, matchesSecret } from '../bearer.js';
import { readBody } from '../body.js';
import type { Method, RequestContext, Route, RouteHandler } from '../context.js';
import { Errors, HttpError } from '../http-error.js';
import { sendJson } from '../respond.js';
import type { RouteDeps } from '../route-deps.js';
import { parseContent, parseWallId } from '../validate.js';

/** The answers only this API gives; docs/api.md lists them with the rest. */
export const ApiErrors = {
  notAnObject: () => new HttpError(400, 'Body must be a JSON object'),
  publicNotBoolean: () => new HttpError(400, 'public must be true or false'),
  nothingToChange: () => new HttpError(400, 'name or public is required'),
  userNotFound: () => new HttpError(404, 'User not found'),
  userNameTaken: () => new HttpError(409, 'User name taken'),
} as const;

function fields(body: unknown): Record<string, unknown> {
  if (typeof body !== 'object' || body === null || Array.isArray(body)) throw ApiErrors.notAnObject();
  return body as Record<string, unknown>;
}

function validName(value: unknown, field = 'name'): string {
  const problem = nameProblem(value, field);
  if (problem) throw new HttpError(400, problem);
  return value as string;
}

/** `true`/`false` in JSON, or the same words in a form body; undefined when absent. */
function optionalPublic(value: unknown): boolean | undefined {
  if (value === undefined) return undefined;
  if (value === true || value === 'true') return true;
  if (value === false || value === 'false') return false;
  throw ApiErrors.publicNotBoolean();
}

/** Every handler behind the key. The digests compare in constant time (bearer.ts). */
function withKey(apiKey: string, handler: RouteHandler): RouteHandler {
  return (ctx) => {
    if (!matchesSecret(bearerToken(ctx.req), apiKey)) throw Errors.unauthorized();
    return handler(ctx);
  };
}

const noContent = (ctx: RequestContext): void => void ctx.res.writeHead(204).end();

type ApiHandler = (deps: RouteDeps, ctx: RequestContext) => Promise<void>;

async function userNamed({ store }: RouteDeps, name: string | undefined): Promise<User> {
  const user = name === undefined ? undefined : await store.userByName(name);
  if (!user) throw ApiErrors.userNotFound();
  return user;
}

const createWall: ApiHandler = async ({ store }, ctx) => {
  const body = fields(await readBody(ctx.req));
  const wall = await store.admin.createWall(validName(body.name), optionalPublic(body.public) ?? false);
  sendJson(ctx.res, 201, wall);
};

const updateWall: ApiHandler = async (deps, ctx) => {
  const wallId = parseWallId(ctx.params.id);
  const body = fields(await readBody(ctx.req));
  const change: WallChange = {};
  if (body.name !== undefined) change.name = validName(body.name);
  const isPublic = optionalPublic(body.public);
  if (isPublic !== undefined) change.public = isPublic;
  if (change.name === undefined && change.public === undefined) throw ApiErrors.nothingToChange();
  const wall = await deps.store.admin.updateWall(wallId, change);
  if (!wall) throw Errors.wallNotFound();
  deps.changed();
  sendJson(ctx.res, 200, wall);
};

const deleteWall: ApiHandler = async (deps, ctx) => {
  if (!(await deps.store.admin.deleteWall(parseWallId(ctx.params.id)))) throw Errors.wallNotFound();
  deps.changed();
  noContent(ctx);
};

const createUser: ApiHandler = async ({ store }, ctx) => {
  const name = validName(fields(await readBody(ctx.req)).name);
  try {
    sendJson(ctx.res, 201, await store.admin.createUser(name));
  } catch (error) {
    throw error instanceof NameTakenError ? ApiErrors.userNameTaken() : error;
  }
};

const deleteUser: ApiHandler = async (deps, ctx) => {
  const user = await userNamed(deps, ctx.params.name);
  if (!(await deps.store.admin.deleteUser(user.id))) throw ApiErrors.userNotFound();
  deps.changed();
  noContent(ctx);
};

const addMember: ApiHandler = async (deps, ctx) => {
  const wallId = parseWallId(ctx.params.id);
  const user = await userNamed(deps, ctx.params.name);
  if (!(await deps.store.admin.addMember(wallId, user.id))) throw Errors.wallNotFound();
  noContent(ctx);
};

const removeMember: ApiHandler = async (deps, ctx) => {
  const wallId = parseWallId(ctx.params.id);
  const user = await userNamed(deps, ctx.params.name);
  if (!(await deps.store.wallExists(wallId))) throw Errors.wallNotFound();
  // Idempotent: removing someone who is not a member is done already.
  if (await deps.store.admin.removeMember(wallId, user.id)) deps.changed();
  noContent(ctx);
};

const publish: ApiHandler = async (deps, ctx) => {
  const wallId = parseWallId(ctx.params.id);
  const body = fields(await readBody(ctx.req));
  if (typeof body.user !== 'string') throw new HttpError(400, 'user must be a string');
  const content = parseContent(body);
  const user = await userNamed(deps, body.user);
  if (!(await deps.store.wallExists(wallId))) throw Errors.wallNotFound();
  // Any user, member or not: the application decided. Wakes polls and streams as a user's post does.
  const message = await deps.store.postMessage(wallId, user, content);
  deps.publish(wallId, message.id);
  sendJson(ctx.res, 201, message);
};

const revokeSessions: ApiHandler = async (deps, ctx) => {
  const user = await userNamed(deps, ctx.params.name);
  if ((await deps.store.admin.revokeSessions(user.id)) > 0) deps.changed();
  noContent(ctx);
};

const ROUTES: ReadonlyArray<[Method, string, ApiHandler]> = [
  ['POST', '/api/walls', createWall],
  ['PATCH', '/api/walls/:id', updateWall],
  ['DELETE', '/api/walls/:id', deleteWall],
  ['POST', '/api/users', createUser],
  ['DELETE', '/api/users/:name', deleteUser],
  ['PUT', '/api/walls/:id/members/:name', addMember],
  ['DELETE', '/api/walls/:id/members/:name', removeMember],
  ['POST', '/api/walls/:id/messages', publish],
  ['DELETE', '/api/users/:name/sessions', revokeSessions],
];

/** The routes, or none while API_KEY is unset. Deps are read when a request comes: the docs test builds routes from a config alone. */
export function apiRoutes(deps: RouteDeps): Route[] {
  const apiKey = deps.config?.apiKey;
  if (!apiKey) return [];
  return ROUTES.map(([method, path, handler]): Route => [method, path, withKey(apiKey, (ctx) => handler(deps, ctx))]);
}
