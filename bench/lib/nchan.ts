/**
 * Nchan (the nginx pub/sub module, in C) as a third contender in the
 * vs-baseline scenario: the server a user might pick instead of
 * Pollster. When Debian's `libnginx-mod-nchan` is installed, the bench writes
 * an nginx config of its own — the module loaded, one process, a publisher
 * location, long-poll and EventSource subscriber locations, a temp prefix
 * dir, a loopback port — and drives it with the same bare-socket clients.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { Agent, request } from 'undici';

const MODULE = '/usr/lib/nginx/modules/ngx_nchan_module.so';
const NGINX = ['/usr/sbin/nginx', '/usr/bin/nginx'].find(existsSync);

/** Why Nchan cannot run here, or null when it can. */
export function nchanUnavailable(): string | null {
  if (!NGINX) return 'nginx is not installed';
  if (!existsSync(MODULE))
    return `Debian's libnginx-mod-nchan is not installed (no ${MODULE}); apt-get install libnginx-mod-nchan to compare`;
  return null;
}

export interface NchanServer {
  url: string;
  agent: Agent;
  /** `GET /sub?id=…` (long poll) or `/sse?id=…` (EventSource) as bytes, for bare sockets. */
  subscribeRequest(channel: string, kind: 'poll' | 'stream'): string;
  publish(channel: string, content: string): Promise<number>;
  /** Subscribers now held on `channel`. */
  subscribers(channel: string): Promise<number>;
  /** The nginx process's resident memory, bytes. */
  rss(): number;
  /** The nginx process's id (its CPU time in /proc). */
  pid: number;
  stop(): Promise<void>;
}

async function freePort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as { port: number };
  await new Promise((resolve) => server.close(resolve));
  return port;
}

function config(dir: string, port: number, bufferLength: number): string {
  return `# Written by Pollster's bench (bench/lib/nchan.ts); removed with its directory.
load_module ${MODULE};
daemon off;
# One process serving everything: "1 nginx worker", and its RSS is the server's.
master_process off;
worker_processes 1;
worker_rlimit_nofile 20000;
pid ${dir}/nginx.pid;
error_log ${dir}/error.log warn;
events { worker_connections 19000; }
http {
  access_log off;
  client_body_temp_path ${dir}/body;
  proxy_temp_path ${dir}/proxy;
  fastcgi_temp_path ${dir}/fastcgi;
  uwsgi_temp_path ${dir}/uwsgi;
  scgi_temp_path ${dir}/scgi;
  server {
    listen 127.0.0.1:${port};
    location = /pub {
      nchan_publisher;
      nchan_channel_id $arg_id;
      nchan_message_buffer_length ${bufferLength};
    }
    location = /sub {
      nchan_subscriber longpoll;
      nchan_channel_id $arg_id;
      nchan_subscriber_first_message newest;
    }
    location = /sse {
      nchan_subscriber eventsource;
      nchan_channel_id $arg_id;
      nchan_subscriber_first_message newest;
    }
  }
}
`;
}

/** `bufferLength`: messages a channel keeps for subscribers that fall behind (nchan_message_buffer_length). */
export async function startNchan(options: { bufferLength?: number } = {}): Promise<NchanServer> {
  const dir = mkdtempSync(join(tmpdir(), 'pollster-nchan-'));
  mkdirSync(join(dir, 'logs'));
  const port = await freePort();
  writeFileSync(join(dir, 'nginx.conf'), config(dir, port, options.bufferLength ?? 10));
  const child: ChildProcess = spawn(NGINX!, ['-p', dir, '-e', join(dir, 'error.log'), '-c', join(dir, 'nginx.conf')], {
    stdio: ['ignore', 'ignore', 'pipe'],
  });
  let stderr = '';
  child.stderr!.on('data', (chunk) => (stderr += chunk));
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  const kill = (): void => void child.kill('SIGKILL');
  process.once('exit', kill);
  const url = `http://127.0.0.1:${port}`;
  const agent = new Agent({ connections: null, headersTimeout: 0, bodyTimeout: 0 });
  const server: NchanServer = {
    url,
    agent,
    subscribeRequest: (channel, kind) =>
      `GET /${kind === 'poll' ? 'sub' : 'sse'}?id=${channel} HTTP/1.1\r\nHost: 127.0.0.1:${port}\r\n${kind === 'stream' ? 'Accept: text/event-stream\r\n' : ''}\r\n`,
    async publish(channel, content) {
      const reply = await request(`${url}/pub?id=${channel}`, {
        method: 'POST',
        body: content,
        dispatcher: agent,
        headers: { 'content-type': 'text/plain' },
      });
      await reply.body.dump();
      return reply.statusCode;
    },
    async subscribers(channel) {
      const reply = await request(`${url}/pub?id=${channel}`, { dispatcher: agent, headers: { accept: 'text/json' } });
      const text = await reply.body.text();
      if (reply.statusCode !== 200) return 0;
      return (JSON.parse(text) as { subscribers: number }).subscribers;
    },
    pid: child.pid!,
    rss() {
      const match = /VmRSS:\s+(\d+) kB/.exec(readFileSync(`/proc/${child.pid}/status`, 'utf8'));
      return match ? Number(match[1]) * 1024 : NaN;
    },
    async stop() {
      process.off('exit', kill);
      child.kill('SIGTERM');
      const killer = setTimeout(kill, 5000);
      await exited;
      clearTimeout(killer);
      await agent.destroy();
      rmSync(dir, { recursive: true, force: true });
    },
  };
  const deadline = Date.now() + 10_000;
  for (;;) {
    try {
      await server.subscribers('ready');
      return server;
    } catch (error) {
      if (child.exitCode !== null || Date.now() > deadline) {
        await server.stop().catch(() => {});
        throw new Error(`nginx with Nchan did not start: ${stderr.trim() || (error as Error).message}`);
      }
      await new Promise((resolve) => setTimeout(resolve, 50));
    }
  }
}

/**
 * One long-poll subscriber on `channel` receiving `messages` posts
 * `everyMs` apart: each one's time from the start of its POST until the
 * subscriber has it (Nchan's own long-poll protocol: Last-Modified / Etag).
 */
export async function nchanDelivery(server: NchanServer, channel: string, messages: number, everyMs: number): Promise<number[]> {
  const sentAt = new Map<string, number>();
  const latencies: number[] = [];
  let stopped = false;
  let cursor: Record<string, string> = {};
  let subscribed!: () => void;
  const ready = new Promise<void>((resolve) => (subscribed = resolve));
  const loop = (async () => {
    while (!stopped) {
      const pending = request(`${server.url}/sub?id=${channel}`, { dispatcher: server.agent, headers: cursor });
      subscribed();
      const reply = await pending;
      const text = await reply.body.text();
      const now = performance.now();
      if (reply.statusCode !== 200) continue;
      const sent = sentAt.get(text);
      if (sent !== undefined) {
        sentAt.delete(text);
        latencies.push(now - sent);
      }
      cursor = { 'if-modified-since': String(reply.headers['last-modified']), 'if-none-match': String(reply.headers.etag) };
    }
  })();
  await ready;
  // Until the subscriber is held, a post would go to nobody.
  const deadline = Date.now() + 10_000;
  while ((await server.subscribers(channel)) < 1 && Date.now() < deadline) await new Promise((resolve) => setTimeout(resolve, 10));
  const tag = Math.random().toString(36).slice(2, 8);
  for (let i = 0; i < messages; i++) {
    const started = performance.now();
    const content = `nchan ${tag} m${i}`;
    sentAt.set(content, started);
    await server.publish(channel, content);
    await new Promise((resolve) => setTimeout(resolve, Math.max(0, everyMs - (performance.now() - started))));
  }
  const end = Date.now() + 5000;
  while (latencies.length < messages && Date.now() < end) await new Promise((resolve) => setTimeout(resolve, 10));
  stopped = true;
  // The loop's last poll is left waiting; stopping nginx ends it.
  void loop.catch(() => {});
  if (latencies.length !== messages) throw new Error(`Nchan long poll: received ${latencies.length} of ${messages}`);
  return latencies;
}
