/**
 * `npm run admin -- <command>`: the server API's operations for an operator
 * at a console — walls, users, memberships, ending a user's sessions —
 * straight on the database (DATABASE_URL, else DB_PATH, or `--db`). The
 * database announces every change that takes access away (triggers:
 * `storage/change-schema.ts`), so running servers end the polls and streams
 * it concerns within a second, on every host.
 *
 * `token NAME --ttl 1h [--walls 1,2]` mints a development token instead
 * (AUTH=jwt with JWT_SECRET), without touching the database.
 *
 * Exit codes: 0 done; 1 the database could not be opened or failed; 2 a
 * usage error; 3 no such wall or user; 4 the user name is taken.
 */
import { parseArgs } from 'node:util';
import { SignJWT } from 'jose';
import { type Config, ConfigError, isPostgresUrl, loadConfig } from '../config.js';
import { type AdminStorage, NameTakenError, nameProblem } from '../storage/admin.js';
import { openStorage } from '../storage/open-storage.js';
import type { Storage } from '../storage/storage.js';

const USAGE = `usage: npm run admin -- <command> [--db <file or postgres:// URL>]

  walls list                   every wall: id, name, public
  walls create NAME [--public] a new wall (private unless --public)
  walls rename ID NAME
  walls public ID              readable by anyone
  walls private ID             members only; others' polls and streams on it end
  walls delete ID              with its messages and memberships
  users list
  users create NAME
  users delete NAME            with its sessions, memberships and messages
  members add WALL_ID NAME
  members remove WALL_ID NAME  her polls and streams on that wall end
  sessions revoke NAME         every session of the user ends, with its polls and streams
  token NAME --ttl 1h [--walls 1,2]
                               a development token for NAME (AUTH=jwt with JWT_SECRET only):
                               --ttl in s, m, h or d (at most 30d), --walls granted on top of memberships

Works on Pollster's database (DATABASE_URL, else DB_PATH, or --db); running
servers apply each change within a second, on every host.

exit codes: 0 done, 1 database error, 2 usage error, 3 no such wall or user, 4 name taken
`;

const EXIT = { database: 1, usage: 2, notFound: 3, taken: 4 } as const;

const OPTIONS = {
  db: { type: 'string' },
  public: { type: 'boolean' },
  ttl: { type: 'string' },
  walls: { type: 'string' },
  help: { type: 'boolean', short: 'h' },
} as const;

/** A failure with its exit code; only the bottom of this file exits. */
class Failure extends Error {
  constructor(
    message: string,
    readonly code: number,
  ) {
    super(message);
  }
}

const usage = (message: string): Failure => new Failure(message, EXIT.usage);
const notFound = (message: string): Failure => new Failure(message, EXIT.notFound);

function wallIdOf(text: string | undefined): number {
  const id = Number(text);
  if (text === undefined || !/^[1-9]\d{0,15}$/.test(text) || !Number.isSafeInteger(id)) throw usage('ID must be a positive integer');
  return id;
}

function validName(text: string | undefined): string {
  const problem = nameProblem(text, 'NAME');
  if (problem) throw usage(problem);
  return text!;
}

const print = (value: unknown): void => void process.stdout.write(`${typeof value === 'string' ? value : JSON.stringify(value)}\n`);

async function userId(store: Storage, name: string | undefined): Promise<number> {
  const user = await store.userByName(validName(name));
  if (!user) throw notFound(`no user named ${JSON.stringify(name)}`);
  return user.id;
}

async function walls(admin: AdminStorage, [verb, first, second]: string[], isPublic: boolean): Promise<void> {
  if (verb === 'list') for (const wall of await admin.listWalls()) print(wall);
  else if (verb === 'create') print(await admin.createWall(validName(first), isPublic));
  else if (verb === 'rename' || verb === 'public' || verb === 'private') {
    const change = verb === 'rename' ? { name: validName(second) } : { public: verb === 'public' };
    const wall = await admin.updateWall(wallIdOf(first), change);
    if (!wall) throw notFound(`no wall ${first}`);
    print(wall);
  } else if (verb === 'delete') {
    if (!(await admin.deleteWall(wallIdOf(first)))) throw notFound(`no wall ${first}`);
    print(`deleted wall ${first}`);
  } else throw usage(`unknown walls command ${JSON.stringify(verb ?? '')}`);
}

async function users(store: Storage, [verb, name]: string[]): Promise<void> {
  const { admin } = store;
  if (verb === 'list') for (const user of await admin.listUsers()) print(user);
  else if (verb === 'create') {
    try {
      print(await admin.createUser(validName(name)));
    } catch (error) {
      throw error instanceof NameTakenError ? new Failure(`the user name ${JSON.stringify(name)} is taken`, EXIT.taken) : error;
    }
  } else if (verb === 'delete') {
    await admin.deleteUser(await userId(store, name));
    print(`deleted user ${JSON.stringify(name)}`);
  } else throw usage(`unknown users command ${JSON.stringify(verb ?? '')}`);
}

async function members(store: Storage, [verb, wall, name]: string[]): Promise<void> {
  if (verb !== 'add' && verb !== 'remove') throw usage(`unknown members command ${JSON.stringify(verb ?? '')}`);
  const wallId = wallIdOf(wall);
  const id = await userId(store, name);
  if (!(await store.wallExists(wallId))) throw notFound(`no wall ${wall}`);
  if (verb === 'add') await store.admin.addMember(wallId, id);
  else await store.admin.removeMember(wallId, id);
  print(`${verb === 'add' ? 'added' : 'removed'} ${JSON.stringify(name)} ${verb === 'add' ? 'to' : 'from'} wall ${wallId}`);
}

const TTL_UNITS_S: Record<string, number> = { s: 1, m: 60, h: 3600, d: 86_400 };
const MAX_TTL_S = 30 * 86_400;

/**
 * A token as the application would sign it (docs/integration.md): `sub`,
 * `walls` when given, `iat`, `exp`, and `iss` / `aud` when Pollster expects
 * them. For development and support only: with JWT_PUBLIC_KEY_FILE the
 * private key belongs to the application, and Pollster never has it.
 */
async function developmentToken(
  config: Config,
  name: string | undefined,
  ttl: string | undefined,
  walls: string | undefined,
): Promise<string> {
  const { auth } = config;
  const key = auth.mode === 'jwt' ? auth.keys[0] : undefined;
  if (auth.mode !== 'jwt' || !key?.algorithms.includes('HS256')) {
    throw usage('token needs AUTH=jwt with JWT_SECRET (with JWT_PUBLIC_KEY_FILE the application holds the private key and mints tokens)');
  }
  const match = /^([1-9]\d{0,6})([smhd])$/.exec(ttl ?? '');
  const seconds = match ? Number(match[1]) * TTL_UNITS_S[match[2]!]! : 0;
  if (!match || seconds > MAX_TTL_S) throw usage('--ttl must be a duration such as 90s, 15m, 1h or 7d, at most 30d');
  const granted = walls === undefined ? undefined : walls.split(',').map((id) => wallIdOf(id.trim()));
  const now = Math.floor(Date.now() / 1000);
  let token = new SignJWT(granted ? { walls: granted } : {})
    .setProtectedHeader({ alg: 'HS256', typ: 'JWT' })
    .setSubject(validName(name))
    .setIssuedAt(now)
    .setExpirationTime(now + seconds);
  if (auth.issuer) token = token.setIssuer(auth.issuer);
  if (auth.audience) token = token.setAudience(auth.audience);
  return token.sign(key.key);
}

async function run(store: Storage, [group, ...rest]: string[], isPublic: boolean): Promise<void> {
  if (group === 'walls') return walls(store.admin, rest, isPublic);
  if (group === 'users') return users(store, rest);
  if (group === 'members') return members(store, rest);
  if (group === 'sessions' && rest[0] === 'revoke') {
    const count = await store.admin.revokeSessions(await userId(store, rest[1]));
    return print(`ended ${count} session${count === 1 ? '' : 's'} of ${JSON.stringify(rest[1])}`);
  }
  throw usage(group ? `unknown command ${JSON.stringify(group)}` : 'a command is required');
}

/** Parses, opens the database, runs one command; resolves with the exit code. */
async function main(): Promise<number> {
  let parsed: ReturnType<typeof parseArgs<{ options: typeof OPTIONS; allowPositionals: true }>>;
  try {
    parsed = parseArgs({ options: OPTIONS, allowPositionals: true });
  } catch (error) {
    throw usage((error as Error).message);
  }
  const { values, positionals } = parsed;
  if (values.help) {
    process.stdout.write(USAGE);
    return 0;
  }
  if (positionals.length === 0) throw usage('a command is required');
  let config: ReturnType<typeof loadConfig>;
  try {
    config = loadConfig();
  } catch (error) {
    throw error instanceof ConfigError ? usage(error.message) : error;
  }
  // Signed here from JWT_SECRET: no database involved.
  if (positionals[0] === 'token') {
    print(await developmentToken(config, positionals[1], values.ttl, values.walls));
    return 0;
  }
  const target = values.db ?? config.databaseUrl ?? config.dbPath;
  let store: Storage;
  try {
    const postgres = isPostgresUrl(target);
    store = await openStorage({ databaseUrl: postgres ? target : null, dbPath: target, sessionTtlS: config.sessionTtlS, pgPoolSize: 1 });
  } catch (error) {
    throw new Failure((error as Error).message, EXIT.database);
  }
  try {
    await run(store, positionals, values.public ?? false);
    return 0;
  } finally {
    await store.close();
  }
}

try {
  process.exitCode = await main();
} catch (error) {
  const code = error instanceof Failure ? error.code : EXIT.database;
  process.stderr.write(`admin: ${(error as Error).message}\n${code === EXIT.usage ? USAGE : ''}`);
  process.exitCode = code;
}
