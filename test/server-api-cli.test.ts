/**
 * `npm run admin`: the server API's operations for an operator, straight on
 * the database. Its changes reach running servers as the API's do — the
 * database announces them — and it answers with documented exit codes and
 * errors that end with a newline. `token` mints a development token.
 */
import { describe, expect, it } from 'vitest';
import { type CliResult, runCli } from './helpers/cli.js';
import { SECRET } from './helpers/jwt.js';
import { backends, usePostgres } from './helpers/postgres.js';
import { stream, within } from './helpers/revocation.js';
import { eventually, startTestServer } from './helpers/server.js';

const postgres = usePostgres();

function admin(database: string, args: string[], env: Record<string, string> = {}): Promise<CliResult> {
  return runCli('src/cli/admin.ts', [...args, '--db', database], env);
}

describe('npm run admin', () => {
  it('manages walls, users and members, with exit codes 0, 2, 3 and 4 and errors ending in a newline', async () => {
    const server = await startTestServer();
    const db = server.database;
    const lines = (result: CliResult) =>
      result.stdout
        .trim()
        .split('\n')
        .map((line) => JSON.parse(line));
    const created = await admin(db, ['walls', 'create', 'Ops Room', '--public']);
    expect(created.code).toBe(0);
    const wall = JSON.parse(created.stdout);
    expect(wall).toEqual({ id: expect.any(Number), name: 'Ops Room', public: true });
    expect(lines(await admin(db, ['walls', 'private', String(wall.id)]))).toEqual([{ ...wall, public: false }]);
    expect(lines(await admin(db, ['walls', 'rename', String(wall.id), 'Ops']))).toEqual([{ ...wall, name: 'Ops', public: false }]);
    expect(lines(await admin(db, ['walls', 'list'])).map((w) => w.name)).toEqual(['General', 'Ruby', 'Node', 'Random', 'Ops']);
    expect((await admin(db, ['users', 'create', 'carol'])).code).toBe(0);
    expect((await admin(db, ['members', 'add', String(wall.id), 'carol'])).code).toBe(0);
    // What the CLI wrote, the server serves.
    const session = await server.login('carol');
    expect((await server.call('GET', '/walls', { session })).json.walls.map((w: { name: string }) => w.name)).toEqual(['Ops']);
    expect(lines(await admin(db, ['users', 'list'])).map((u) => u.name)).toEqual(['demo', 'alice', 'bob', 'carol']);

    const failures: Array<[string[], number, string]> = [
      [['users', 'create', 'carol'], 4, 'admin: the user name "carol" is taken\n'],
      [['members', 'add', '999', 'carol'], 3, 'admin: no wall 999\n'],
      [['walls', 'rename', '01', 'x'], 2, 'admin: ID must be a positive integer\n'],
      [['frobnicate'], 2, 'admin: unknown command "frobnicate"\n'],
      [['walls', 'list', '--bogus'], 2, "admin: Unknown option '--bogus'"],
    ];
    for (const [args, code, message] of failures) {
      const result = await admin(db, args);
      expect([result.code, result.stdout], args.join(' ')).toEqual([code, '']);
      expect(result.stderr.startsWith(message), result.stderr).toBe(true);
      expect(result.stderr.endsWith('\n')).toBe(true);
      // Usage errors show the usage; the others do not.
      expect(result.stderr.includes('usage: npm run admin')).toBe(code === 2);
    }
    const help = await admin(db, ['--help']);
    expect(help.code).toBe(0);
    expect(help.stdout).toContain('sessions revoke NAME');
    const unreachable = await admin('postgres://nobody@127.0.0.1:1/none', ['walls', 'list']);
    expect(unreachable.code).toBe(1);
    expect(unreachable.stderr).toMatch(/^admin: cannot connect to PostgreSQL at 127\.0\.0\.1:1\/none: .*\n$/);
  }, 60_000);

  it('mints a development token that a server with the same JWT_SECRET accepts (token NAME --ttl --walls)', async () => {
    const jwt = { AUTH: 'jwt', JWT_SECRET: SECRET };
    const server = await startTestServer(jwt);
    const minted = await admin(server.database, ['token', 'bob', '--ttl', '1h', '--walls', '1,4'], jwt);
    expect([minted.code, minted.stderr]).toEqual([0, '']);
    const token = minted.stdout.trim();
    const payload = JSON.parse(Buffer.from(token.split('.')[1]!, 'base64url').toString());
    expect(payload).toEqual({ sub: 'bob', walls: [1, 4], iat: expect.any(Number), exp: payload.iat + 3600 });
    const walls = await server.call('GET', '/walls', { session: token });
    expect(walls.status).toBe(200);
    expect(walls.json.walls.map((w: { id: number }) => w.id)).toEqual([1, 2, 3, 4]);
    for (const [args, env, message] of [
      [['token', 'bob', '--ttl', '1h'], {}, 'admin: token needs AUTH=jwt with JWT_SECRET'],
      [['token', 'bob', '--ttl', '31d'], jwt, 'admin: --ttl must be a duration such as 90s, 15m, 1h or 7d, at most 30d'],
      [['token', 'bob'], jwt, 'admin: --ttl must be'],
    ] as const) {
      const refused = await admin(server.database, [...args], env);
      expect([refused.code, refused.stdout]).toEqual([2, '']);
      expect(refused.stderr.startsWith(message), refused.stderr).toBe(true);
    }
  }, 60_000);

  describe.each(backends(postgres))('on $name', (backend) => {
    it('ends what a change takes away on a running server within 1 s: members remove, sessions revoke', async () => {
      const server = await startTestServer({ ...(await backend.env()), POLL_MODE: 'multiplex' });
      const bob = await server.login('bob');
      const demo = await server.login('demo');
      const removed = await stream(server.url, '/check?walls=2', bob);
      const kept = await stream(server.url, '/check?walls=2', demo);
      const poll = server.call('POST', '/poll', {
        session: demo,
        body: { last_post_id: { 3: 1e9 }, timeout_ms: 20_000 },
        timeoutMs: 25_000,
      });
      await eventually(() => server.pollster.stats().waiting_polls === 3);

      // The CLI's own start-up (tsx) is not the server's: count from its exit, after its commit.
      expect((await admin(server.database, ['members', 'remove', '2', 'bob'])).code).toBe(0);
      let committed = Date.now();
      await within(removed.ended, "bob's stream");
      expect(Date.now() - committed).toBeLessThan(1000);

      const revoked = await admin(server.database, ['sessions', 'revoke', 'demo']);
      committed = Date.now();
      expect(revoked.stdout).toBe('ended 1 session of "demo"\n');
      const reply = await within(poll, "demo's poll");
      await within(kept.ended, "demo's stream");
      expect(Date.now() - committed).toBeLessThan(1000);
      expect([reply.status, reply.json]).toEqual([400, { errors: ['Invalid user!'] }]);
    }, 60_000);
  });
});
