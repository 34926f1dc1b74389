/**
 * `npm run post -- --wall 1 --user demo "hello"`: write a message straight
 * into the database, as the Rails console did. A running server notices it
 * through SQLite's data_version and wakes the polls waiting on that wall.
 */
import { parseArgs } from 'node:util';
import { loadConfig } from '../config.js';
import { codePointLength } from '../http/validate.js';
import { MAX_CONTENT_LENGTH, Store } from '../storage/store.js';

const usage = 'usage: npm run post -- --wall <id> --user <name> "message text"';

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

const store = new Store(values.db ?? loadConfig().dbPath);
try {
  const user = store.userByName(values.user);
  if (!user) fail(`unknown user "${values.user}"`);
  if (!store.wallExists(wallId)) fail(`wall ${wallId} does not exist`);
  if (!store.canPost(user.id, wallId)) fail(`${user.name} is not a member of wall ${wallId}`);
  const message = store.postMessage(wallId, user.id, content);
  process.stdout.write(`${JSON.stringify(message)}\n`);
} finally {
  store.close();
}
