/** A real nginx for a test: started from a rewritten config, stopped when the test ends. */
import { spawn } from 'node:child_process';
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { Agent } from 'undici';
import { expect, onTestFinished } from 'vitest';
import { hostsConfig as rewriteHostsConfig, intoDir } from '../../bench/lib/nginx-hosts.js';
import { ROOT } from './process.js';
import { call, eventually } from './server.js';

export const NGINX = ['/usr/sbin/nginx', '/usr/bin/nginx'].find((path) => existsSync(path));

export { intoDir } from '../../bench/lib/nginx-hosts.js';

/** deploy/nginx.conf with its paths moved into `dir`, its upstream on `socket` and its listen port changed. */
export function nginxConfig(dir: string, socket: string, port: number): string {
  const conf = readFileSync(join(ROOT, 'deploy', 'nginx.conf'), 'utf8');
  const rewritten = intoDir(conf, dir)
    .replace(/server unix:.*;/, `server unix:${socket};`)
    .replace(/listen 127\.0\.0\.1:8080;/, `listen 127.0.0.1:${port};`);
  expect(rewritten).not.toContain('unix:/run/');
  expect(rewritten).toContain(`listen 127.0.0.1:${port};`);
  return rewritten;
}

/** deploy/nginx-hosts.conf with its paths in `dir`, its upstreams at `hosts` (`host:port`), listening on `port`. */
export function hostsConfig(dir: string, hosts: string[], port: number): string {
  const conf = readFileSync(join(ROOT, 'deploy', 'nginx-hosts.conf'), 'utf8');
  expect([...conf.matchAll(/^ *server 127\.0\.0\.1:\d+ (.*);$/gm)]).toHaveLength(2);
  const rewritten = rewriteHostsConfig(dir, hosts, port);
  expect(rewritten.match(/server 127\.0\.0\.1:\d+ max_fails/g)).toHaveLength(hosts.length);
  return rewritten;
}

/** Start nginx on `conf` (already rewritten) and wait until `url`/ping answers through it. */
export async function startNginx(conf: string, dir: string, url: string, agent: Agent): Promise<void> {
  if (!NGINX) throw new Error('nginx not found: run "apt-get install -y nginx" (.ci/run does)');
  const confPath = join(dir, 'nginx.conf');
  writeFileSync(confPath, conf);
  // master_process off keeps nginx in this (test) user's process; the config itself is unchanged.
  const nginx = spawn(NGINX, ['-p', dir, '-e', join(dir, 'error.log'), '-c', confPath, '-g', 'daemon off; master_process off;'], {
    stdio: ['ignore', 'ignore', 'pipe'],
  });
  let stderr = '';
  nginx.stderr.on('data', (chunk) => (stderr += chunk));
  const exited = new Promise((resolve) => nginx.once('exit', resolve));
  onTestFinished(async () => {
    nginx.kill('SIGTERM');
    await exited;
  });
  await eventually(async () => {
    try {
      return (await call(agent, url, 'GET', '/ping', { timeoutMs: 500 })).status === 200;
    } catch {
      if (nginx.exitCode !== null) throw new Error(`nginx exited: ${stderr}`);
      return false;
    }
  }, 10_000);
}
