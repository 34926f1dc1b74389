/**
 * `npx tsx bench/pg-statements.ts [--runs 500]`: the floor of a post on
 * PostgreSQL, one statement at a time on one connection to a throwaway local
 * cluster (fsync off, as the bench's): a round trip (`SELECT 1`), the post's
 * INSERT unnamed (parsed and planned each time) and prepared (named, as
 * `storage/pg-store.ts` runs it), the time from that INSERT to its
 * notification on a LISTEN connection, and the INSERT without the notify
 * triggers. Sequential, 2 ms apart, p50 and p90
 * after 100 warm-up runs.
 */
import { parseArgs } from 'node:util';
import pg from 'pg';
import { PgStore } from '../src/storage/pg-store.js';
import { startPgCluster } from '../test/helpers/pg-cluster.js';
import { percentile } from './lib/stats.js';

const { values } = parseArgs({ options: { runs: { type: 'string', default: '500' } } });
const runs = Number(values.runs);
const WARM_UP = 100;
const POST = `INSERT INTO messages (wall_id, user_id, content)
  SELECT w.id, $2::bigint, $3::text FROM walls w
  WHERE w.id = $1::bigint AND ($4::boolean OR EXISTS (SELECT 1 FROM memberships WHERE wall_id = w.id AND user_id = $2::bigint))
  RETURNING id, wall_id, content, created_at`;
const args = [2, 1, 'a post of ordinary length', false];

const cluster = await startPgCluster();
try {
  const url = await cluster.createDatabase();
  // The schema, its triggers and the demo data, as Pollster makes them.
  await (await PgStore.open({ url, poolSize: 1 })).close();
  const client = new pg.Client({ connectionString: url });
  const listener = new pg.Client({ connectionString: url });
  await Promise.all([client.connect(), listener.connect()]);
  await listener.query('LISTEN pollster_messages');
  const time = async (label: string, run: () => Promise<unknown>): Promise<void> => {
    const times: number[] = [];
    for (let i = 0; i < runs + WARM_UP; i++) {
      const started = performance.now();
      await run();
      if (i >= WARM_UP) times.push(performance.now() - started);
      await new Promise((resolve) => setTimeout(resolve, 2));
    }
    console.log(`${label.padEnd(44)} p50 ${percentile(times, 50).toFixed(3)} ms, p90 ${percentile(times, 90).toFixed(3)} ms`);
  };
  await time('round trip (SELECT 1)', () => client.query('SELECT 1'));
  await time('post INSERT, unnamed', () => client.query(POST, args));
  await time('post INSERT, prepared', () => client.query({ name: 'post', text: POST, values: args }));
  await time('post INSERT → its notification arrives', () => {
    const heard = new Promise((resolve) => listener.once('notification', resolve));
    void client.query({ name: 'post', text: POST, values: args });
    return heard;
  });
  await client.query('ALTER TABLE messages DISABLE TRIGGER messages_notify_row, DISABLE TRIGGER messages_notify_overflow');
  await time('post INSERT, prepared, no notify triggers', () => client.query({ name: 'post', text: POST, values: args }));
  await Promise.all([client.end(), listener.end()]);
} finally {
  await cluster.destroy();
}
