/**
 * `npx tsx bench/token-delivery.ts [--rounds 300]`: delivery latency with
 * AUTH=jwt — a Bearer token on every request, the held poll and the post
 * alike — against AUTH=demo with a session id, on two built Pollsters
 * (default configuration otherwise), rounds interleaved. A round holds one
 * long poll, posts one message and times post → poll answer; the round trip
 * of `GET /walls` (one identity check, one read) is timed the same way.
 */
import { createHmac } from 'node:crypto';
import { performance } from 'node:perf_hooks';
import { parseArgs } from 'node:util';
import { login, send } from './lib/client.js';
import { type BenchServer, buildServer, startServer } from './lib/server.js';
import { percentile } from './lib/stats.js';

const { values } = parseArgs({ options: { rounds: { type: 'string', default: '300' } } });
const rounds = Number(values.rounds);
const SECRET = 'a secret of at least thirty-two bytes, for the bench';
const WALL = 2;

/** HS256 by hand, as the application would sign it (node:crypto, not jose). */
function token(sub: string): string {
  const b64 = (value: unknown): string => Buffer.from(JSON.stringify(value)).toString('base64url');
  const input = `${b64({ alg: 'HS256', typ: 'JWT' })}.${b64({ sub, exp: Math.floor(Date.now() / 1000) + 3600 })}`;
  return `${input}.${createHmac('sha256', SECRET).update(input).digest('base64url')}`;
}

buildServer();
const modes: Array<{ name: string; server: BenchServer; credential: string }> = [];
try {
  const demo = await startServer({ AUTH: 'demo' });
  modes.push({ name: 'AUTH=demo, session id', server: demo, credential: (await login(demo.agent, demo.url)).session });
  const jwt = await startServer({ AUTH: 'jwt', JWT_SECRET: SECRET });
  modes.push({ name: 'AUTH=jwt, Bearer token', server: jwt, credential: token('demo') });

  const delivery: number[][] = modes.map(() => []);
  const walls: number[][] = modes.map(() => []);
  for (let round = 0; round < rounds + 20; round++) {
    for (const [index, { server, credential }] of modes.entries()) {
      const opts = { session: credential, timeoutMs: 10_000 };
      let started = performance.now();
      const listed = await send(server.agent, server.url, 'GET', '/walls', opts);
      const rtt = performance.now() - started;
      if (listed.status !== 200) throw new Error(`GET /walls answered ${listed.status}`);
      const cursor = listed.json.walls.find((wall: { id: number }) => wall.id === WALL).latest_message_id as number;
      const poll = send(server.agent, server.url, 'POST', '/poll', {
        ...opts,
        body: { last_post_id: { [WALL]: cursor }, timeout_ms: 5000 },
      });
      // Let the poll reach its wait before the post.
      await new Promise((resolve) => setTimeout(resolve, 20));
      started = performance.now();
      const posted = await send(server.agent, server.url, 'POST', `/walls/${WALL}/messages`, {
        ...opts,
        body: { content: `round ${round}` },
      });
      if (posted.status !== 201) throw new Error(`POST answered ${posted.status}`);
      const answer = await poll;
      const delivered = performance.now() - started;
      if (answer.status !== 200 || !answer.json.walls[WALL])
        throw new Error(`poll answered ${answer.status} ${JSON.stringify(answer.json)}`);
      if (round >= 20) {
        delivery[index]!.push(delivered);
        walls[index]!.push(rtt);
      }
      await new Promise((resolve) => setTimeout(resolve, 10));
    }
  }
  console.log(`Node ${process.version}, ${rounds} rounds per mode, interleaved\n`);
  console.log('| mode | delivery p50 ms | delivery p99 ms | GET /walls p50 ms | GET /walls p99 ms |');
  console.log('| --- | --- | --- | --- | --- |');
  for (const [index, { name }] of modes.entries()) {
    const row = [
      percentile(delivery[index]!, 50),
      percentile(delivery[index]!, 99),
      percentile(walls[index]!, 50),
      percentile(walls[index]!, 99),
    ];
    console.log(`| ${name} | ${row.map((value) => value.toFixed(2)).join(' | ')} |`);
  }
  const ratio = percentile(delivery[1]!, 50) / percentile(delivery[0]!, 50);
  console.log(`\ndelivery p50 ratio jwt / demo: ${ratio.toFixed(3)} (target ≤ 1.1)`);
} finally {
  await Promise.all(modes.map(({ server }) => server.stop()));
}
