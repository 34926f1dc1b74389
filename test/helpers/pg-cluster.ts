/**
 * A throwaway PostgreSQL cluster: `initdb` into a temp dir, `pg_ctl start` on
 * a free loopback port with its unix socket in that dir, one database per
 * caller, and `destroy()` that stops it and removes everything. Plain
 * functions with no test-runner imports, so the tests (through
 * `./postgres.ts`) and the benchmarks share it.
 *
 * PostgreSQL refuses to run as root: as root, the cluster is created and run
 * as the `postgres` OS user (Debian's package creates it), which owns the dir.
 */
import { execFile } from 'node:child_process';
import { appendFileSync, chownSync, existsSync, mkdtempSync, readdirSync, rmSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir, userInfo } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import pg from 'pg';

const run = promisify(execFile);

export const MISSING_POSTGRES =
  'PostgreSQL server binaries not found (looked for /usr/lib/postgresql/*/bin/initdb): install the Debian package "postgresql" (apt-get install -y postgresql; .ci/run does)';

export interface PgCluster {
  dir: string;
  port: number;
  /** `postgres://postgres@127.0.0.1:port/<database>` */
  url(database?: string): string;
  /** A new, empty database; resolves with its URL. */
  createDatabase(): Promise<string>;
  dropDatabase(url: string): Promise<void>;
  /** Stop the server (the data stays), e.g. to test an outage. */
  stop(mode?: 'fast' | 'immediate'): Promise<void>;
  /** Start it again on the same port. */
  start(): Promise<void>;
  /** Stop (if running) and remove the cluster's directory. */
  destroy(): Promise<void>;
}

export function postgresBinDir(): string | null {
  if (process.env.PG_BIN && existsSync(join(process.env.PG_BIN, 'initdb'))) return process.env.PG_BIN;
  const root = '/usr/lib/postgresql';
  if (!existsSync(root)) return null;
  const versions = readdirSync(root).sort((a, b) => Number(b) - Number(a));
  const found = versions.map((v) => join(root, v, 'bin')).find((bin) => existsSync(join(bin, 'initdb')));
  return found ?? null;
}

export async function freePort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as { port: number };
  await new Promise((resolve) => server.close(resolve));
  return port;
}

export interface PgClusterOptions {
  /** Prefix for every PostgreSQL command, e.g. `['ip', 'netns', 'exec', 'ns1']` to run it in a network namespace. */
  wrap?: string[];
  /** Address to listen on and put in URLs (default 127.0.0.1). */
  host?: string;
  /** A CIDR allowed to connect without a password besides loopback (pg_hba `trust`). */
  trustNetwork?: string;
}

export async function startPgCluster(options: PgClusterOptions = {}): Promise<PgCluster> {
  const host = options.host ?? '127.0.0.1';
  const wrap = options.wrap ?? [];
  const bin = postgresBinDir();
  if (!bin) throw new Error(MISSING_POSTGRES);
  const asRoot = userInfo().uid === 0;
  const dir = mkdtempSync(join(tmpdir(), 'pollster-pg-'));
  if (asRoot) {
    const { stdout } = await run('id', ['-u', 'postgres']).catch(() => {
      throw new Error(
        'running as root, but there is no "postgres" OS user to run PostgreSQL as (the Debian package "postgresql" creates it)',
      );
    });
    const uid = Number(stdout.trim());
    const gid = Number((await run('id', ['-g', 'postgres'])).stdout.trim());
    chownSync(dir, uid, gid);
  }
  const data = join(dir, 'data');
  const pgTool = (tool: string, args: string[]): Promise<unknown> => {
    const command = asRoot ? ['runuser', '-u', 'postgres', '--', join(bin, tool), ...args] : [join(bin, tool), ...args];
    const [file, ...argv] = [...wrap, ...command];
    return run(file!, argv, { cwd: dir, timeout: 60_000 }).catch((error: Error & { stderr?: string }) => {
      throw new Error(`${tool} failed: ${error.stderr?.trim() || error.message}`);
    });
  };

  try {
    await pgTool('initdb', ['-D', data, '-U', 'postgres', '--auth=trust', '--no-sync', '-E', 'UTF8', '--locale=C']);
    if (options.trustNetwork) appendFileSync(join(data, 'pg_hba.conf'), `host all all ${options.trustNetwork} trust\n`);
  } catch (error) {
    rmSync(dir, { recursive: true, force: true });
    throw error;
  }
  const port = await freePort();
  // Durability settings off: the cluster lives for one test file.
  const serverOptions = [
    `-p ${port}`,
    `-k ${dir}`,
    `-c listen_addresses=${host}`,
    '-c fsync=off',
    '-c synchronous_commit=off',
    '-c full_page_writes=off',
    '-c max_connections=300',
  ].join(' ');
  let running = false;
  const start = async (): Promise<void> => {
    await pgTool('pg_ctl', ['-D', data, '-l', join(dir, 'server.log'), '-o', serverOptions, '-w', '-t', '30', 'start']);
    running = true;
  };
  const stop = async (mode: 'fast' | 'immediate' = 'fast'): Promise<void> => {
    if (!running) return;
    await pgTool('pg_ctl', ['-D', data, '-m', mode, '-w', '-t', '30', 'stop']);
    running = false;
  };
  const url = (database = 'postgres'): string => `postgres://postgres@${host}:${port}/${database}`;
  const admin = async <T>(work: (client: pg.Client) => Promise<T>): Promise<T> => {
    const client = new pg.Client({ connectionString: url() });
    await client.connect();
    try {
      return await work(client);
    } finally {
      await client.end();
    }
  };

  try {
    await start();
  } catch (error) {
    rmSync(dir, { recursive: true, force: true });
    throw error;
  }
  let databases = 0;
  return {
    dir,
    port,
    url,
    async createDatabase() {
      const name = `pollster_${process.pid}_${++databases}`;
      await admin((client) => client.query(`CREATE DATABASE ${name}`));
      return url(name);
    },
    async dropDatabase(databaseUrl) {
      if (!running) return;
      const name = new URL(databaseUrl).pathname.slice(1);
      await admin((client) => client.query(`DROP DATABASE IF EXISTS ${name} WITH (FORCE)`));
    },
    stop,
    start,
    async destroy() {
      try {
        await stop('immediate');
      } finally {
        rmSync(dir, { recursive: true, force: true });
      }
    },
  };
}
