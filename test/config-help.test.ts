/**
 * What an operator can ask before starting: `--help` lists every variable
 * with its default, `--check-config` prints the effective configuration with
 * secrets masked (or the one-line error), and `npm run post -- --help`.
 */
import { spawnSync } from 'node:child_process';
import { describe, expect, it } from 'vitest';
import { loadConfig } from '../src/config.js';
import { helpText, VARIABLES } from '../src/config-help.js';
import { postFromCli } from './helpers/cli.js';
import { ROOT } from './helpers/process.js';

/** Every key `loadConfig` looks at, recorded through a proxy. */
function variablesRead(): string[] {
  const read = new Set<string>();
  loadConfig(
    new Proxy({} as Record<string, string | undefined>, {
      get(_target, key) {
        if (typeof key === 'string') read.add(key);
        return undefined;
      },
    }),
  );
  return [...read];
}

function main(args: string[], env: Record<string, string> = {}) {
  return spawnSync(process.execPath, ['--import', 'tsx', 'src/main.ts', ...args], {
    cwd: ROOT,
    env: { ...process.env, ...env },
    encoding: 'utf8',
    timeout: 20_000,
  });
}

describe('pollster --help', () => {
  it('names every variable the config reads, each with its default', () => {
    const listed = new Set(VARIABLES.map(([name]) => name));
    expect(variablesRead().filter((name) => !listed.has(name))).toEqual([]);
    const result = main(['--help']);
    expect(result.status).toBe(0);
    expect(result.stdout).toBe(helpText());
    for (const [name, fallback] of VARIABLES)
      expect(result.stdout).toMatch(new RegExp(`^  ${name} .*\\(default: ${fallback.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}\\)$`, 'm'));
  });

  it('refuses an unknown option with exit code 2', () => {
    const result = main(['--verbose']);
    expect(result.status).toBe(2);
    expect(result.stderr).toBe('pollster: unknown option --verbose (try --help)\n');
  });
});

describe('pollster --check-config', () => {
  it('prints the effective configuration, secrets and the database password masked, and exits 0', () => {
    const result = main(['--check-config'], {
      MAX_THREADS: '4',
      METRICS_TOKEN: 'a-very-secret-metrics-token',
      DATABASE_URL: 'postgres://pollster:hunter2hunter2@db.example:5433/chat',
    });
    expect(result.status).toBe(0);
    const shown = JSON.parse(result.stdout);
    expect(shown).toMatchObject({
      maxThreads: 4,
      metricsToken: '***',
      databaseUrl: 'postgres://pollster:***@db.example:5433/chat',
      port: 3000,
    });
    expect(result.stdout).not.toContain('a-very-secret-metrics-token');
    expect(result.stdout).not.toContain('hunter2');
  });

  it('masks secrets nested in the configuration too: the JWT keys and the API key', () => {
    const result = main(['--check-config'], {
      AUTH: 'jwt',
      JWT_SECRET: 'jwt-secret-of-at-least-32-bytes-long!',
      API_KEY: 'the-server-api-key-value',
    });
    expect(result.status).toBe(0);
    const shown = JSON.parse(result.stdout);
    expect(shown).toMatchObject({ apiKey: '***', auth: { mode: 'jwt', keys: '***' } });
    expect(result.stdout).not.toContain('jwt-secret-of-at-least');
    expect(result.stdout).not.toContain('the-server-api-key-value');
  });

  it('prints the one-line error and exits 1 for a bad setting', () => {
    const result = main(['--check-config'], { POLL_MODE: 'turbo' });
    expect(result.status).toBe(1);
    expect(result.stderr).toBe('pollster: POLL_MODE must be one of pool, inline, multiplex (got "turbo")\n');
  });
});

describe('npm run post -- --help', () => {
  it('prints its usage and exit codes, and exits 0', async () => {
    const result = await postFromCli(':memory:', ['--help']);
    expect(result.code).toBe(0);
    expect(result.stdout).toMatch(/^usage: npm run post -- --wall <id> --user <name>/);
    expect(result.stdout).toContain('exit codes: 0 posted, 1 database error, 2 usage error');
  });

  it('ends every error with a newline', async () => {
    const result = await postFromCli(':memory:', ['--wall', 'x']);
    expect(result.code).toBe(2);
    expect(result.stderr.startsWith('post: --wall must be a positive integer\n')).toBe(true);
    expect(result.stderr.endsWith('\n')).toBe(true);
  });
});
