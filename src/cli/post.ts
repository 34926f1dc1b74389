/**
 * `npm run post -- --wall 1 --user demo "hello"`: write a message straight
 * into the database, as the Rails console did. A running server notices it —
 * SQLite: through data_version; PostgreSQL: through the messages trigger's
 * NOTIFY — and wakes the polls waiting on that wall.
 *
 * The database is DATABASE_URL, else DB_PATH, as for the server; `--db`
 * overrides both with a file path or a postgres:// URL.
 */
import { parseArgs } from 'node:util';
import { ConfigError, loadConfig } from '../config.js';
import { codePointLength } from '../http/validate.js';
import { PgStore } from '../storage/pg-store.js';
import type { Storage } from '../storage/storage.js';
import { MAX_CONTENT_LENGTH, Store } from '../storage/store.js';

const usage = 'usage: npm run post -- --wall <id> --user <name> [--db <file or postgres:// URL>] "message text"';

function fail(message: string): never {
  process.stderr.write(`${message}\n${usage}\n`);
  process.exit(2);
}

let parsed;
try {
  parsed = parseArgs({
    options: { wall: { type: 'string' }, user: { type: 'string' }, db: { type: 'string' } },
    allowPositionals: true,
  });
} catch (error) {
  fail((error as Error).message);
}
const { values, positionals } = parsed;
const wallId = Number(values.wall);
if (!values.wall || !Number.isSafeInteger(wallId) || wallId < 1) fail('--wall must be a positive integer');
if (!values.user) fail('--user is required');
const content = positionals.join(' ').trim();
if (!content) fail('message text is required');
if (codePointLength(content) > MAX_CONTENT_LENGTH) fail(`message text must be at most ${MAX_CONTENT_LENGTH} characters`);

let target: string;
// The CLI may be the first to open an old database; its session-expiry
// migration then uses the same SESSION_TTL_S the server would.
let sessionTtlS: number;
try {
  const config = loadConfig();
  target = values.db ?? config.databaseUrl ?? config.dbPath;
  sessionTtlS = config.sessionTtlS;
} catch (error) {
  if (!(error instanceof ConfigError)) throw error;
  fail(error.message);
}

async function open(): Promise<Storage> {
  if (!/^postgres(ql)?:\/\//.test(target)) return new Store(target, { sessionTtlS });
  try {
    return await PgStore.open({ url: target, poolSize: 1, sessionTtlS });
  } catch (error) {
    process.stderr.write(`${(error as Error).message}\n`);
    process.exit(1);
  }
}

const store = await open();
try {
  const user = await store.userByName(values.user);
  if (!user) fail(`unknown user "${values.user}"`);
  if (!(await store.wallExists(wallId))) fail(`wall ${wallId} does not exist`);
  if (!(await store.canPost(user.id, wallId))) fail(`${user.name} is not a member of wall ${wallId}`);
  const message = await store.postMessage(wallId, user, content);
  process.stdout.write(`${JSON.stringify(message)}\n`);
} finally {
  await store.close();
}
