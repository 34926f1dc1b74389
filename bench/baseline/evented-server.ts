/**
 * The thread-free reference the bench measures Pollster against (the
 * vs-baseline scenario's targets are ratios to it):
 * the same session, post and long-poll contract, in memory, with every wait a
 * promise on the main thread — no pool, no database, no copies between
 * threads. Deliberately plain (one JSON.stringify per answer), as a first Node
 * server for the job would be. Only the bench starts it:
 * `node --import tsx bench/baseline/evented-server.ts` with PORT and HOST;
 * it prints the same `{"url":…}` line Pollster logs.
 *
 * Routes: GET /ping, POST /sessions, POST /walls/:id/messages, POST /poll,
 * GET /check (SSE, one cursor over the walls), GET /stats.
 */
import { randomUUID } from 'node:crypto';
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';

interface Message {
  id: number;
  wall_id: number;
  user: string;
  content: string;
  created_at: string;
}

interface Waiter {
  /** Wall → last seen id. */
  cursors: Map<number, number>;
  answer(walls: Record<string, { posts: Message[] }>): void;
}

interface Stream {
  walls: number[];
  cursor: number;
  res: ServerResponse;
}

const BATCH_LIMIT = 100;
const POLL_TIMEOUT_MS = 60_000;
const WALLS = ['General', 'Ruby', 'Node', 'Random'];
const MEMBERSHIPS = new Map<string, number[]>([
  ['demo', [1, 2, 3, 4]],
  ['alice', [1]],
  ['bob', [2, 3]],
]);

const messages = new Map<number, Message[]>(WALLS.map((_, i) => [i + 1, []]));
let lastId = 0;
const sessions = new Map<string, string>();
const waiters = new Map<number, Set<Waiter>>(WALLS.map((_, i) => [i + 1, new Set()]));
const streams = new Map<number, Set<Stream>>(WALLS.map((_, i) => [i + 1, new Set()]));
let waitingPolls = 0;
let openStreams = 0;

function store(wallId: number, user: string, content: string): Message {
  const message = { id: ++lastId, wall_id: wallId, user, content, created_at: new Date().toISOString() };
  messages.get(wallId)!.push(message);
  return message;
}
store(1, 'alice', 'Welcome to the evented baseline.');

function after(wallId: number, cursor: number, limit = BATCH_LIMIT): Message[] {
  const list = messages.get(wallId) ?? [];
  // Ids only grow: search from the end for the first one past the cursor.
  let start = list.length;
  while (start > 0 && list[start - 1]!.id > cursor) start--;
  return list.slice(start, start + limit);
}

function json(res: ServerResponse, status: number, body: unknown): void {
  const text = JSON.stringify(body);
  res.writeHead(status, { 'Content-Type': 'application/json', 'Content-Length': Buffer.byteLength(text) }).end(text);
}

async function readBody(req: IncomingMessage): Promise<any> {
  let text = '';
  for await (const chunk of req) text += chunk;
  try {
    return text ? JSON.parse(text) : {};
  } catch {
    return undefined;
  }
}

function userOf(req: IncomingMessage, body?: any): string | undefined {
  const match = /^Bearer\s+(\S+)$/i.exec(req.headers.authorization ?? '');
  const id = match?.[1] ?? body?.session_id;
  return id ? sessions.get(id) : undefined;
}

function wallsOf(user: string) {
  return (MEMBERSHIPS.get(user) ?? []).map((id) => ({ id, name: WALLS[id - 1]!, latest_message_id: messages.get(id)!.at(-1)?.id ?? 0 }));
}

function publish(message: Message): void {
  for (const waiter of [...waiters.get(message.wall_id)!]) {
    const walls: Record<string, { posts: Message[] }> = {};
    for (const [wallId, cursor] of waiter.cursors) {
      const posts = after(wallId, cursor);
      if (posts.length) walls[wallId] = { posts };
    }
    waiter.answer(walls);
  }
  for (const stream of streams.get(message.wall_id)!) {
    const batch = stream.walls
      .flatMap((wallId) => after(wallId, stream.cursor))
      .sort((a, b) => a.id - b.id)
      .slice(0, BATCH_LIMIT);
    if (!batch.length) continue;
    stream.cursor = batch[batch.length - 1]!.id;
    stream.res.write(`id: ${stream.cursor}\nevent: refresh\ndata: ${JSON.stringify({ messages: batch })}\n\n`);
  }
}

function poll(req: IncomingMessage, res: ServerResponse, body: any): void {
  const user = userOf(req, body);
  if (!user) {
    json(res, 400, { error: 'Invalid user!' });
    return;
  }
  const readable = MEMBERSHIPS.get(user)!;
  const cursors = new Map<number, number>();
  for (const [key, value] of Object.entries(body?.last_post_id ?? {})) {
    const wallId = Number(key);
    if (readable.includes(wallId) && Number.isSafeInteger(value)) cursors.set(wallId, value as number);
  }
  if (cursors.size === 0) {
    json(res, 400, { error: 'Invalid parameters!' });
    return;
  }
  const ready: Record<string, { posts: Message[] }> = {};
  for (const [wallId, cursor] of cursors) {
    const posts = after(wallId, cursor);
    if (posts.length) ready[wallId] = { posts };
  }
  if (Object.keys(ready).length) {
    json(res, 200, { walls: ready });
    return;
  }
  const timeoutMs = Math.min(Number.isSafeInteger(body.timeout_ms) ? body.timeout_ms : POLL_TIMEOUT_MS, POLL_TIMEOUT_MS);
  waitingPolls++;
  const done = (walls: Record<string, { posts: Message[] }> | undefined): void => {
    clearTimeout(timer);
    res.off('close', gone);
    for (const wallId of cursors.keys()) waiters.get(wallId)!.delete(waiter);
    waitingPolls--;
    if (walls) json(res, 200, { walls });
  };
  const waiter: Waiter = { cursors, answer: done };
  const timer = setTimeout(() => done({}), timeoutMs);
  const gone = (): void => done(undefined);
  res.on('close', gone);
  for (const wallId of cursors.keys()) waiters.get(wallId)!.add(waiter);
}

function check(req: IncomingMessage, res: ServerResponse, query: URLSearchParams): void {
  const user = userOf(req) ?? sessions.get(query.get('session_id') ?? '');
  if (!user) {
    json(res, 401, { error: 'Unauthorized' });
    return;
  }
  const readable = MEMBERSHIPS.get(user)!;
  const requested = query.get('walls')?.split(',').map(Number);
  const walls = requested ? readable.filter((id) => requested.includes(id)) : readable;
  if (!walls.length) {
    json(res, 400, { error: 'Invalid parameters!' });
    return;
  }
  const last = Number(req.headers['last-event-id'] ?? query.get('last_event_id') ?? NaN);
  const stream: Stream = {
    walls,
    cursor: Number.isSafeInteger(last) ? last : Math.max(...walls.map((id) => messages.get(id)!.at(-1)?.id ?? 0)),
    res,
  };
  res.writeHead(200, { 'Content-Type': 'text/event-stream; charset=utf-8', 'Cache-Control': 'no-cache', Connection: 'keep-alive' });
  res.write('retry: 1000\n\n');
  openStreams++;
  for (const id of walls) streams.get(id)!.add(stream);
  res.on('close', () => {
    openStreams--;
    for (const id of walls) streams.get(id)!.delete(stream);
  });
}

async function handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
  const url = new URL(req.url ?? '/', 'http://localhost');
  const route = `${req.method} ${url.pathname}`;
  if (route === 'GET /ping') return json(res, 200, { ack: 'huzzah!' });
  if (route === 'GET /stats') {
    const memory = process.memoryUsage();
    return json(res, 200, {
      mode: 'baseline',
      wake: 'promise',
      pool: { min_threads: 0, max_threads: 0, threads: 0, capacity: 0, busy: 0, queued: 0, max_queue: 0, rejected: 0 },
      waiting_polls: waitingPolls + openStreams,
      open_streams: openStreams,
      memory: { rss: memory.rss, heap_used: memory.heapUsed },
    });
  }
  if (route === 'GET /check') return check(req, res, url.searchParams);
  if (req.method !== 'POST') return json(res, 404, { error: 'Not found' });
  const body = await readBody(req);
  if (body === undefined) return json(res, 400, { error: 'Invalid parameters!' });
  if (route === 'POST /sessions') {
    if (!MEMBERSHIPS.has(body.user)) return json(res, 400, { error: 'Invalid user!' });
    const id = randomUUID();
    sessions.set(id, body.user);
    return json(res, 201, { session_id: id, user: body.user, walls: wallsOf(body.user) });
  }
  if (route === 'POST /poll') return poll(req, res, body);
  const wall = /^POST \/walls\/(\d+)\/messages$/.exec(route);
  if (wall) {
    const user = userOf(req, body);
    if (!user) return json(res, 401, { error: 'Unauthorized' });
    const wallId = Number(wall[1]);
    if (!MEMBERSHIPS.get(user)!.includes(wallId)) return json(res, 403, { error: 'Forbidden' });
    if (typeof body.content !== 'string' || !body.content.trim()) return json(res, 400, { error: 'Invalid parameters!' });
    const message = store(wallId, user, body.content);
    publish(message);
    return json(res, 201, message);
  }
  json(res, 404, { error: 'Not found' });
}

const server = createServer((req, res) => {
  handle(req, res).catch((error: unknown) => {
    if (!res.headersSent) json(res, 500, { error: String(error) });
  });
});
server.keepAliveTimeout = 30_000;
server.listen(Number(process.env.PORT ?? 0), process.env.HOST ?? '127.0.0.1', () => {
  const address = server.address();
  if (address && typeof address === 'object') {
    process.stdout.write(`${JSON.stringify({ msg: 'baseline listening', url: `http://${address.address}:${address.port}` })}\n`);
  }
});
for (const signal of ['SIGTERM', 'SIGINT'] as const) {
  process.on(signal, () => {
    server.closeAllConnections();
    server.close(() => process.exit(0));
  });
}
