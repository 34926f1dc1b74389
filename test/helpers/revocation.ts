/**
 * One change of access through the server API, against a victim's held poll
 * and open stream and a keeper's: the victim's end within 1 s, the keeper's
 * go on and receive every message. The same scenario runs in one process
 * (pool, multiplex), under WEB_CONCURRENCY and across hosts; a setup says
 * where the application calls the API and where the clients wait.
 */
import { spawn } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { Agent } from 'undici';
import { expect, onTestFinished } from 'vitest';
import { spreadOverProcesses, statsByPid } from './cluster.js';
import { ROOT } from './process.js';
import { call, eventually, type Reply } from './server.js';
import { openStream, type SseEvent, type SseStream } from './sse.js';

export const API_KEY = 'test-api-key-0123456789';

export type Change = 'member' | 'private' | 'wall' | 'user' | 'revoke';

export const CHANGES: readonly Change[] = ['member', 'private', 'wall', 'user', 'revoke'];

export interface Setup {
  /** Where the application's backend calls the API (host A). */
  apiUrl: string;
  /** Where the clients hold their waits (host B; A itself in one process). */
  clientUrl: string;
  /**
   * WEB_CONCURRENCY: open the victim's streams and polls until each process
   * holds some (MAX_WAITS_PER_SESSION=0), so whichever takes the API call,
   * the other hears of the change through the database.
   */
  spread?: boolean;
}

/** A call on a connection of its own: under WEB_CONCURRENCY consecutive calls alternate between processes. */
export async function once(url: string, method: string, path: string, options: Parameters<typeof call>[4] = {}): Promise<Reply> {
  const agent = new Agent({ pipelining: 0 });
  try {
    return await call(agent, url, method, path, options);
  } finally {
    await agent.close();
  }
}

export function api(url: string, method: string, path: string, body?: unknown): Promise<Reply> {
  return once(url, method, path, { body, headers: { authorization: `Bearer ${API_KEY}` } });
}

/** A stream on a connection of its own, closed when the test ends. */
export async function stream(url: string, path: string, session?: string): Promise<SseStream> {
  const agent = new Agent({ pipelining: 0, bodyTimeout: 0 });
  const opened = await openStream(agent, `${url}${path}`, session ? { authorization: `Bearer ${session}` } : {});
  onTestFinished(async () => {
    opened.close();
    await agent.close();
  });
  expect(opened.status).toBe(200);
  return opened;
}

/** Waits held by every process behind `url` (one, or each of a cluster's). */
export async function held(url: string): Promise<number> {
  return [...(await statsByPid(url)).values()].reduce((sum, stats) => sum + stats.waiting_polls, 0);
}

const isRefresh = (event: SseEvent): boolean => event.event === 'refresh';

/** `promise`, or a failure naming `what` once it has not settled for 3 s (the limit checked is 1 s). */
export function within<T>(promise: Promise<T>, what: string): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const late = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`${what} was not ended by the change within 3 s`)), 3000);
  });
  return Promise.race([promise, late]).finally(() => clearTimeout(timer));
}

/** What the change is, as the application asks for it. */
function changeRequest(change: Change, wall: number, victim: string): [string, string, unknown?] {
  switch (change) {
    case 'member':
      return ['DELETE', `/api/walls/${wall}/members/${victim}`];
    case 'private':
      return ['PATCH', `/api/walls/${wall}`, { public: false }];
    case 'wall':
      return ['DELETE', `/api/walls/${wall}`];
    case 'user':
      return ['DELETE', `/api/users/${victim}`];
    case 'revoke':
      return ['DELETE', `/api/users/${victim}/sessions`];
  }
}

/**
 * The victim waits on wall W (a member; for `private`, a reader of public W,
 * with an anonymous reader beside her); the keeper on W too, or on wall V when
 * W is deleted. The change is made on `apiUrl`, the waits are held on
 * `clientUrl`, opened one connection each so that a cluster spreads them.
 */
export async function changeEndsWaits({ apiUrl, clientUrl, spread = false }: Setup, change: Change): Promise<void> {
  // Nothing of an earlier test is still held: the counts below are this test's.
  await eventually(async () => (await held(clientUrl)) === 0, 10_000);
  const tag = randomUUID().slice(0, 8);
  const victim = `victim-${tag}`;
  const keeper = `keeper-${tag}`;
  const w = (await api(apiUrl, 'POST', '/api/walls', { name: `w-${tag}`, public: change === 'private' })).json.id as number;
  const v = (await api(apiUrl, 'POST', '/api/walls', { name: `v-${tag}` })).json.id as number;
  for (const name of [victim, keeper]) expect((await api(apiUrl, 'POST', '/api/users', { name })).status).toBe(201);
  for (const wall of [w, v]) expect((await api(apiUrl, 'PUT', `/api/walls/${wall}/members/${keeper}`)).status).toBe(204);
  if (change !== 'private') expect((await api(apiUrl, 'PUT', `/api/walls/${w}/members/${victim}`)).status).toBe(204);
  const victimSession = (await once(clientUrl, 'POST', '/sessions', { body: { user: victim } })).json.session_id as string;
  const keeperSession = (await once(clientUrl, 'POST', '/sessions', { body: { user: keeper } })).json.session_id as string;
  const keeperWall = change === 'wall' ? v : w;

  const poll = (session: string, wall: number) =>
    once(clientUrl, 'POST', '/poll', { session, body: { last_post_id: { [wall]: 0 }, timeout_ms: 20_000 }, timeoutMs: 25_000 });
  const openVictimStream = () => stream(clientUrl, `/check?walls=${w}`, victimSession);
  const openVictimPoll = async () => ({ answer: poll(victimSession, w).then((reply) => ({ reply, at: Date.now() })) });
  const victimStreams = spread
    ? await spreadOverProcesses(clientUrl, openVictimStream, (stats) => stats.open_streams)
    : [await openVictimStream()];
  // A stream waiting between batches counts among waiting_polls too.
  const victimPolls = spread
    ? await spreadOverProcesses(clientUrl, openVictimPoll, (stats) => stats.waiting_polls - stats.open_streams)
    : [await openVictimPoll()];
  const anonymous = change === 'private' ? [await stream(clientUrl, `/check?walls=${w}`)] : [];
  const keeperStream = await stream(clientUrl, `/check?walls=${keeperWall}`, keeperSession);
  const keeperPoll = poll(keeperSession, keeperWall);
  const victims = victimStreams.length + victimPolls.length + anonymous.length;
  await eventually(async () => (await held(clientUrl)) === victims + 2, 10_000);

  const [method, path, body] = changeRequest(change, w, victim);
  const started = Date.now();
  const answer = await api(apiUrl, method, path, body);
  expect(answer.status).toBe(change === 'private' ? 200 : 204);
  const ended = await Promise.all(
    [...victimStreams, ...anonymous].map((s) =>
      within(
        s.ended.then(() => Date.now()),
        'a stream',
      ),
    ),
  );
  const answered = await Promise.all(victimPolls.map((p) => within(p.answer, 'a held poll')));
  for (const when of [...ended, ...answered.map((a) => a.at)]) expect(when - started, `${change}: ended within 1 s`).toBeLessThan(1000);
  for (const { reply } of answered) {
    if (change === 'user' || change === 'revoke') {
      expect(reply.status).toBe(400);
      expect(reply.json).toEqual({ errors: ['Invalid user!'] });
    } else {
      expect(reply.status).toBe(200);
      expect(reply.json).toEqual({ walls: {} });
    }
  }
  // The victim's browser reconnects without the wall, or is told to log in again.
  const again = await once(clientUrl, 'GET', `/check?walls=${w}`, { session: victimSession });
  expect(again.status).toBe(change === 'user' || change === 'revoke' ? 401 : 400);

  // The keeper lost nothing: every message reaches her stream and her poll.
  const posted = [];
  for (const content of ['one', 'two']) {
    const reply = await api(apiUrl, 'POST', `/api/walls/${keeperWall}/messages`, { user: keeper, content });
    expect(reply.status).toBe(201);
    posted.push(reply.json);
  }
  const kept = (await keeperPoll).json.walls[keeperWall].posts;
  expect(kept[0]).toEqual(posted[0]);
  const received = [];
  for (let from = 0; received.length < 2; ) {
    const event = await keeperStream.next(isRefresh, from);
    from = keeperStream.events.indexOf(event) + 1;
    received.push(...JSON.parse(event.data!).messages);
  }
  expect(received).toEqual(posted);
  // Closed now, not when the test ends: a setup shared by several tests starts each with nothing held.
  keeperStream.close();
}

/**
 * A Pollster process (a cluster under WEB_CONCURRENCY) for a whole test
 * file: started in `beforeAll`, stopped by `stop()` in `afterAll` — where
 * spawnServer's per-test cleanup cannot be registered.
 */
export async function startForFile(env: Record<string, string>): Promise<{ url: string; stop(): Promise<void> }> {
  const child = spawn(process.execPath, ['--import', 'tsx', 'src/main.ts'], {
    cwd: ROOT,
    env: { ...process.env, PORT: '0', LOG_LEVEL: 'info', AUTH: 'demo', ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  const stop = async (): Promise<void> => {
    if (child.exitCode === null && child.signalCode === null) child.kill('SIGTERM');
    await exited;
  };
  let output = '';
  child.stderr!.on('data', (chunk) => (output += chunk));
  const processes = Number(env.WEB_CONCURRENCY ?? 1);
  try {
    const url = await new Promise<string>((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`not listening: ${output}`)), 30_000);
      child.once('exit', () => reject(new Error(`exited: ${output}`)));
      child.stdout!.on('data', (chunk) => {
        output += chunk;
        const match = /"url":"(http:[^"]+)"/.exec(output);
        if (match && output.split('pollster listening').length - 1 === processes) {
          clearTimeout(timer);
          resolve(match[1]!);
        }
      });
    });
    return { url, stop };
  } catch (error) {
    await stop();
    throw error;
  }
}
