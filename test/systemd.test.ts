/**
 * deploy/pollster.service: systemd accepts it without a warning, it runs the
 * built server the way docs/operations.md installs it, and every variable it
 * sets is one Pollster reads, with a value Pollster accepts.
 */
import { spawnSync } from 'node:child_process';
import { copyFileSync, existsSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, onTestFinished, test } from 'vitest';
import { loadConfig } from '../src/config.js';
import { ROOT } from './helpers/process.js';
import { tempDir } from './helpers/server.js';

const SYSTEMD_ANALYZE = '/usr/bin/systemd-analyze';
const unitPath = join(ROOT, 'deploy', 'pollster.service');
const unit = readFileSync(unitPath, 'utf8');
const operations = readFileSync(join(ROOT, 'docs', 'operations.md'), 'utf8');

/** Values of `key=` lines, comments left out. */
function settings(key: string): string[] {
  return [...unit.matchAll(new RegExp(`^${key}=(.*)$`, 'gm'))].map((match) => match[1]!.trim());
}

/** The environment the unit gives the server (`Environment=` lines; the optional EnvironmentFile is not read here). */
function unitEnvironment(): Record<string, string> {
  const env: Record<string, string> = {};
  for (const line of settings('Environment')) {
    for (const assignment of line.split(/\s+/)) {
      const at = assignment.indexOf('=');
      env[assignment.slice(0, at)] = assignment.slice(at + 1);
    }
  }
  return env;
}

describe('deploy/pollster.service', () => {
  test.skipIf(!existsSync(SYSTEMD_ANALYZE))(
    `systemd-analyze verify reports nothing (skipped: no ${SYSTEMD_ANALYZE}; Debian package systemd)`,
    () => {
      const dir = tempDir('pollster-unit-');
      onTestFinished(() => rmSync(dir, { recursive: true, force: true }));
      const copy = join(dir, 'pollster.service');
      copyFileSync(unitPath, copy);
      // verify checks that ExecStart's binary exists: use the node running this test if /usr/bin/node is absent.
      if (!existsSync('/usr/bin/node')) writeFileSync(copy, unit.replace('ExecStart=/usr/bin/node ', `ExecStart=${process.execPath} `));
      const result = spawnSync(SYSTEMD_ANALYZE, ['verify', '--man=no', copy], { encoding: 'utf8', timeout: 30_000 });
      expect(result.stdout + result.stderr).toBe('');
      expect(result.status).toBe(0);
    },
  );

  test('runs the built server from the documented install path, stopped by SIGTERM, restarted on failure', () => {
    expect(settings('ExecStart')).toEqual(['/usr/bin/node dist/main.js']);
    expect(settings('WorkingDirectory')).toEqual(['/opt/pollster']);
    expect(settings('User')).toEqual(['pollster']);
    expect(settings('KillSignal')).toEqual(['SIGTERM']);
    expect(settings('Restart')).toEqual(['on-failure']);
    expect(settings('NoNewPrivileges')).toEqual(['yes']);
    expect(settings('ProtectSystem')).toEqual(['strict']);
    // The SQLite file must be somewhere the hardening leaves writable.
    const dbDir = unitEnvironment().DB_PATH!.replace(/\/[^/]+$/, '');
    expect(settings('ReadWritePaths')).toContain(dbDir);
    expect(operations).toContain('deploy/pollster.service');
    expect(operations).toContain('/opt/pollster');
  });

  test('sets only variables Pollster reads, with values it accepts', () => {
    const read = new Set<string>();
    const env = unitEnvironment();
    const proxy = new Proxy(env, {
      get(target, key) {
        if (typeof key === 'string') read.add(key);
        return typeof key === 'string' ? target[key] : undefined;
      },
    });
    expect(() => loadConfig(proxy)).not.toThrow();
    expect(Object.keys(env).filter((name) => !read.has(name))).toEqual([]);
    expect(loadConfig(env)).toMatchObject({ port: 3000, host: '127.0.0.1', dbPath: '/var/lib/pollster/pollster.db' });
  });
});
