/**
 * `npm run post -- --wall 1 --user demo "hello"`: write a message straight
 * into the database, as the Rails console did. A running server notices it —
 * SQLite: through data_version; PostgreSQL: through the messages trigger's
 * NOTIFY — and wakes the polls waiting on that wall.
 *
 * The database is DATABASE_URL, else DB_PATH, as for the server; `--db`
 * overrides both with a file path or a postgres:// URL.
 *
 * Exit codes: 0 posted; 1 the database could not be opened or the post
 * failed; 2 a usage error (bad or missing option, unknown user or wall, not
 * a member, text too long).
 */
import { parseArgs } from 'node:util';
import { type Config, ConfigError, isPostgresUrl, loadConfig } from '../config.js';
import { codePointLength } from '../http/validate.js';
import { MAX_CONTENT_LENGTH } from '../storage/model.js';
import { openStorage } from '../storage/open-storage.js';
import type { Storage } from '../storage/storage.js';

const USAGE = `usage: npm run post -- --wall <id> --user <name> [--db <file or postgres:// URL>] "message text"

Writes a message into Pollster's database (DATABASE_URL, else DB_PATH, or --db);
a running server delivers it to the wall's waiting clients at once.

exit codes: 0 posted, 1 database error, 2 usage error
`;

const OPTIONS = {
  wall: { type: 'string' },
  user: { type: 'string' },
  db: { type: 'string' },
  help: { type: 'boolean', short: 'h' },
} as const;

function fail(message: string, code = 2): never {
  process.stderr.write(`post: ${message}\n${code === 2 ? USAGE : ''}`);
  process.exit(code);
}

let parsed: ReturnType<typeof parseArgs<{ options: typeof OPTIONS; allowPositionals: true }>>;
try {
  parsed = parseArgs({ options: OPTIONS, allowPositionals: true });
} catch (error) {
  fail((error as Error).message);
}
const { values, positionals } = parsed;
if (values.help) {
  process.stdout.write(USAGE);
  process.exit(0);
}
const wallId = Number(values.wall);
if (!values.wall || !Number.isSafeInteger(wallId) || wallId < 1) fail('--wall must be a positive integer');
if (!values.user) fail('--user is required');
const content = positionals.join(' ').trim();
if (!content) fail('message text is required');
if (codePointLength(content) > MAX_CONTENT_LENGTH) fail(`message text must be at most ${MAX_CONTENT_LENGTH} characters`);

let config: Config;
try {
  config = loadConfig();
} catch (error) {
  if (!(error instanceof ConfigError)) throw error;
  fail(error.message);
}
// The CLI may be the first to open an old database; its migrations then use
// the same SESSION_TTL_S the server would.
const target = values.db ?? config.databaseUrl ?? config.dbPath;
const postgres = isPostgresUrl(target);

let store: Storage;
try {
  store = await openStorage({
    databaseUrl: postgres ? target : null,
    dbPath: target,
    sessionTtlS: config.sessionTtlS,
    pgPoolSize: 1,
  });
} catch (error) {
  fail((error as Error).message, 1);
}
try {
  const user = await store.userByName(values.user);
  if (!user) fail(`unknown user "${values.user}"`);
  if (!(await store.wallExists(wallId))) fail(`wall ${wallId} does not exist`);
  if (!(await store.canPost(user.id, wallId))) fail(`${user.name} is not a member of wall ${wallId}`);
  const message = await store.postMessage(wallId, user, content);
  process.stdout.write(`${JSON.stringify(message)}\n`);
} catch (error) {
  fail((error as Error).message, 1);
} finally {
  await store.close();
}
