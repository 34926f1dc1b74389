/**
 * The paths a user takes outside the test runner: the tsc-built server that
 * `npm start` runs (worker file loaded as .js), config errors at start-up,
 * and the CLI's errors.
 */
import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { Agent } from 'undici';
import { describe, expect, it, onTestFinished } from 'vitest';
import { call, tempDir } from './helpers/server.js';
import { postFromCli } from './helpers/cli.js';
import { ROOT as root, spawnServer } from './helpers/process.js';

describe('start-up', () => {
  it('the built server (as npm start runs it) loads its workers and serves a poll', async () => {
    const dir = tempDir();
    // Beside dist/, so the built files find node_modules and public/ as dist/ does.
    const outDir = mkdtempSync(join(root, '.dist-test-'));
    onTestFinished(() => rmSync(outDir, { recursive: true, force: true }));
    const build = spawnSync(process.execPath, ['node_modules/typescript/bin/tsc', '-p', 'tsconfig.build.json', '--outDir', outDir], {
      cwd: root,
      encoding: 'utf8',
    });
    expect(build.status, build.stdout + build.stderr).toBe(0);

    const { child, url, exited } = await spawnServer({ DB_PATH: join(dir, 'data', 'p.db'), MAX_THREADS: '2' }, [join(outDir, 'main.js')]);
    const agent = new Agent();
    try {
      const login = (await call(agent, url, 'POST', '/sessions', { body: { user: 'demo' } })).json;
      const session = login.session_id;
      const last = login.walls[0].latest_message_id;
      const poll = call(agent, url, 'POST', '/poll', { session, body: { last_post_id: { 1: last }, timeout_ms: 5000 } });
      await call(agent, url, 'POST', '/walls/1/messages', { session, body: { content: 'built' } });
      expect((await poll).json.walls['1'].posts[0].content).toBe('built');
      expect((await call(agent, url, 'GET', '/', { headers: { accept: 'text/html' } })).text).toContain('<title>Pollster</title>');
      expect((await call(agent, url, 'GET', '/')).json).toEqual({ ack: 'huzzah!' });
    } finally {
      child.kill('SIGTERM');
      await agent.close();
    }
    expect(await exited).toBe(0);
  });

  it('a bad setting stops start-up with one line naming it', () => {
    const result = spawnSync(process.execPath, ['--import', 'tsx', 'src/main.ts'], {
      cwd: root,
      env: { ...process.env, MAX_THREADS: 'lots' },
      encoding: 'utf8',
      timeout: 20_000,
    });
    expect(result.status).toBe(1);
    expect(result.stderr.trim()).toBe('pollster: MAX_THREADS must be an integer from 1 to 1024 (got "lots")');
  });
});

describe('npm run post', () => {
  it('explains what is wrong with its arguments', async () => {
    const dir = tempDir();
    const db = join(dir, 'p.db');
    const cases: Array<[string[], string]> = [
      [['--user', 'demo', 'hi'], '--wall must be a positive integer'],
      [['--wall', '1', 'hi'], '--user is required'],
      [['--wall', '1', '--user', 'demo'], 'message text is required'],
      [['--wall', '1', '--user', 'nobody', 'hi'], 'unknown user "nobody"'],
      [['--wall', '2', '--user', 'alice', 'hi'], 'alice is not a member of wall 2'],
      [['--wall', '77', '--user', 'demo', 'hi'], 'wall 77 does not exist'],
    ];
    for (const [args, message] of cases) {
      const result = await postFromCli(db, args);
      expect(result.code, args.join(' ')).toBe(2);
      expect(result.stderr).toContain(message);
    }
    const ok = await postFromCli(db, ['--wall', '1', '--user', 'demo', 'hello', 'there']);
    expect(ok.code).toBe(0);
    expect(JSON.parse(ok.stdout)).toMatchObject({ wall_id: 1, user: 'demo', content: 'hello there' });
  });
});
