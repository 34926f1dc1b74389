/**
 * deploy/nginx-hosts.conf in front of the bench's own hosts: the shipped file
 * with only its paths (into a temporary prefix), its upstream addresses and
 * its listen port rewritten (test/helpers/nginx.ts uses the same rewriting)
 * — run in the foreground as one process.
 */
import { spawn } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Agent } from 'undici';
import { send } from './client.js';
import { ROOT } from './server.js';

const NGINX = ['/usr/sbin/nginx', '/usr/bin/nginx'].find(existsSync);

/** Why nginx cannot run here, or null. */
export function nginxUnavailable(): string | null {
  return NGINX ? null : 'nginx is not installed (apt-get install nginx)';
}

/** Moves a deploy/ config's pid, log and temp paths into `dir`. */
export function intoDir(conf: string, dir: string): string {
  return (
    conf
      .replace(/^pid .*;$/m, `pid ${dir}/nginx.pid;`)
      .replace(/^error_log .*;$/m, `error_log ${dir}/error.log warn;`)
      .replace(/client_body_temp_path .*;/, `client_body_temp_path ${dir}/body;`)
      // fastcgi, uwsgi and scgi temp paths are unused, but nginx creates them.
      .replace(
        /proxy_temp_path .*;/,
        `fastcgi_temp_path ${dir}/fastcgi; uwsgi_temp_path ${dir}/uwsgi; scgi_temp_path ${dir}/scgi;\n  proxy_temp_path ${dir}/proxy;`,
      )
  );
}

/** The shipped config with its paths in `dir`, its upstream servers at `hosts` (`host:port`), listening on `port`. */
export function hostsConfig(dir: string, hosts: readonly string[], port: number): string {
  const conf = readFileSync(join(ROOT, 'deploy', 'nginx-hosts.conf'), 'utf8');
  const upstreams = [...conf.matchAll(/^ *server 127\.0\.0\.1:\d+ (.*);$/gm)];
  if (upstreams.length === 0) throw new Error('deploy/nginx-hosts.conf: no "server 127.0.0.1:PORT …;" upstream lines to rewrite');
  const options = upstreams[0]![1];
  const rewritten = intoDir(conf, dir)
    .replace(/^ *server 127\.0\.0\.1:\d+ .*;\n/gm, '')
    .replace(
      /(upstream pollster_hosts \{\n(?:.*\n)*? *least_conn;\n)/,
      (head) => head + hosts.map((host) => `    server ${host} ${options};\n`).join(''),
    )
    .replace(/listen 127\.0\.0\.1:8080;/, `listen 127.0.0.1:${port};`);
  if (!rewritten.includes(`listen 127.0.0.1:${port};`) || (rewritten.match(/^ *server \S+ max_fails/gm) ?? []).length !== hosts.length) {
    throw new Error('deploy/nginx-hosts.conf changed shape: its listen line or upstream servers could not be rewritten');
  }
  return rewritten;
}

export interface NginxFront {
  url: string;
  pid: number;
  stop(): Promise<void>;
}

/** nginx on deploy/nginx-hosts.conf in front of `hosts`, on `port`; resolves once /ping answers through it. */
export async function startNginxFront(hosts: readonly string[], port: number): Promise<NginxFront> {
  if (!NGINX) throw new Error(nginxUnavailable()!);
  const dir = mkdtempSync(join(tmpdir(), 'pollster-nginx-'));
  const confPath = join(dir, 'nginx.conf');
  writeFileSync(confPath, hostsConfig(dir, hosts, port));
  // master_process off: one process, this one's child, gone with it.
  const child = spawn(NGINX, ['-p', dir, '-e', join(dir, 'error.log'), '-c', confPath, '-g', 'daemon off; master_process off;'], {
    stdio: ['ignore', 'ignore', 'pipe'],
  });
  let stderr = '';
  child.stderr!.on('data', (chunk) => (stderr += chunk));
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  const kill = (): void => void child.kill('SIGKILL');
  process.once('exit', kill);
  const url = `http://127.0.0.1:${port}`;
  const stop = async (): Promise<void> => {
    process.off('exit', kill);
    child.kill('SIGTERM');
    const killer = setTimeout(kill, 5000);
    await exited;
    clearTimeout(killer);
    rmSync(dir, { recursive: true, force: true });
  };
  const agent = new Agent();
  try {
    const deadline = Date.now() + 10_000;
    for (;;) {
      try {
        if ((await send(agent, url, 'GET', '/ping', { timeoutMs: 1000 })).status === 200) break;
      } catch {
        // Not listening yet.
      }
      if (child.exitCode !== null || Date.now() > deadline)
        throw new Error(`nginx in front of the hosts did not start: ${stderr.trim() || 'no answer on /ping'}`);
      await new Promise((resolve) => setTimeout(resolve, 50));
    }
  } catch (error) {
    await stop();
    throw error;
  } finally {
    await agent.destroy();
  }
  return { url, pid: child.pid!, stop };
}
