/**
 * Subscribers for the sustained-throughput scenario, cheap enough that
 * thousands of them beside a server on two cores measure the server: bare
 * TCP sockets, one pre-built request each, HTTP/1.1 keep-alive, and a reader
 * that only frames responses (Content-Length or chunked) and splits SSE
 * events at blank lines. Each answer is parsed for message ids and walls
 * alone and appended to the subscriber's DeliveryLog.
 *
 * A subscriber reconnects by itself, from its own cursor, whenever its
 * connection closes (Pollster and nginx close a keep-alive connection after
 * 1,000 requests), so a reconnect can neither lose nor repeat a message
 * unless the server does.
 */
import { connect, type Socket } from 'node:net';
import { performance } from 'node:perf_hooks';
import type { DeliveryLog } from './sustained-check.js';

export interface Head {
  status: number;
  /** Lower-case names. */
  headers: Map<string, string>;
}

/** Frames HTTP/1.1 responses out of a byte stream (as latin1 text: one char per byte). */
export class ResponseReader {
  #buffer = '';
  #state: 'head' | 'length' | 'chunk-size' | 'chunk-data' | 'chunk-end' | 'trailer' | 'close' = 'head';
  #need = 0;

  constructor(
    readonly onHead: (head: Head) => void,
    readonly onData: (text: string) => void,
    readonly onEnd: () => void,
  ) {}

  feed(chunk: string): void {
    this.#buffer += chunk;
    for (;;) {
      const buffer = this.#buffer;
      switch (this.#state) {
        case 'head': {
          const end = buffer.indexOf('\r\n\r\n');
          if (end === -1) return;
          const lines = buffer.slice(0, end).split('\r\n');
          this.#buffer = buffer.slice(end + 4);
          const headers = new Map<string, string>();
          for (const line of lines.slice(1)) {
            const colon = line.indexOf(':');
            if (colon > 0) headers.set(line.slice(0, colon).trim().toLowerCase(), line.slice(colon + 1).trim());
          }
          const status = Number(lines[0]!.slice(9, 12));
          this.onHead({ status, headers });
          const length = headers.get('content-length');
          if (status === 204 || status === 304) this.#finish();
          else if (/chunked/i.test(headers.get('transfer-encoding') ?? '')) this.#state = 'chunk-size';
          else if (length !== undefined) {
            this.#need = Number(length);
            if (this.#need === 0) this.#finish();
            else this.#state = 'length';
          } else this.#state = 'close';
          break;
        }
        case 'length':
        case 'chunk-data': {
          if (!buffer) return;
          const piece = buffer.length <= this.#need ? buffer : buffer.slice(0, this.#need);
          this.#buffer = buffer.slice(piece.length);
          this.#need -= piece.length;
          this.onData(piece);
          if (this.#need > 0) return;
          if (this.#state === 'length') this.#finish();
          else this.#state = 'chunk-end';
          break;
        }
        case 'chunk-end':
          if (buffer.length < 2) return;
          this.#buffer = buffer.slice(2);
          this.#state = 'chunk-size';
          break;
        case 'chunk-size': {
          const end = buffer.indexOf('\r\n');
          if (end === -1) return;
          const size = Number.parseInt(buffer.slice(0, end), 16);
          this.#buffer = buffer.slice(end + 2);
          if (size === 0) this.#state = 'trailer';
          else {
            this.#need = size;
            this.#state = 'chunk-data';
          }
          break;
        }
        case 'trailer': {
          const end = buffer.indexOf('\r\n');
          if (end === -1) return;
          this.#buffer = buffer.slice(end + 2);
          // An empty line ends the trailers (there are none here).
          if (end === 0) this.#finish();
          break;
        }
        case 'close':
          if (!buffer) return;
          this.#buffer = '';
          this.onData(buffer);
          return;
      }
    }
  }

  #finish(): void {
    this.#state = 'head';
    this.onEnd();
  }
}

/** Counters every subscriber shares, for the scenario's log and table. */
export interface SubscriberStats {
  /** Deliveries recorded, in all. */
  deliveries: number;
  /** Connections opened again after the server or proxy closed one. */
  reconnects: number;
  /** Answers other than 200 (429, 503, 502, …); each is retried after a pause. */
  refused: number;
}

export const newStats = (): SubscriberStats => ({ deliveries: 0, reconnects: 0, refused: 0 });

export interface Endpoint {
  host: string;
  port: number;
}

export function endpointOf(origin: string): Endpoint {
  const url = new URL(origin);
  return { host: url.hostname, port: Number(url.port) };
}

/** Retry pause after a refusal or a dropped connection. */
const PAUSE_MS = 50;

/**
 * One connection that sends `next()` and, on each complete answer, hands it
 * to `answer` and sends `next()` again: a long-poll client.
 */
export class Repeater {
  #socket: Socket | null = null;
  #stopped = false;
  #head: Head | null = null;
  #body = '';

  constructor(
    readonly endpoint: Endpoint,
    readonly next: () => string,
    /** A 200 answer's body and head; returns nothing, records deliveries. */
    readonly answer: (body: string, head: Head, now: number) => void,
    readonly stats: SubscriberStats,
  ) {}

  open(): void {
    if (this.#stopped) return;
    const reader = new ResponseReader(
      (head) => {
        this.#head = head;
        this.#body = '';
      },
      (text) => (this.#body += text),
      () => this.#answered(),
    );
    const socket = connect(this.endpoint, () => socket.write(this.next()));
    socket.setNoDelay(true);
    socket.setEncoding('latin1');
    socket.on('data', (chunk: string) => reader.feed(chunk));
    socket.on('error', () => {});
    socket.on('close', () => {
      if (this.#socket !== socket || this.#stopped) return;
      this.stats.reconnects++;
      setTimeout(() => this.open(), PAUSE_MS);
    });
    this.#socket = socket;
  }

  #answered(): void {
    const head = this.#head!;
    const socket = this.#socket!;
    if (head.status === 200) this.answer(this.#body, head, performance.now());
    else this.stats.refused++;
    // The server ends the connection after this answer: the close handler reconnects.
    if (this.#stopped || head.headers.get('connection')?.toLowerCase() === 'close') return;
    if (head.status === 200) socket.write(this.next());
    else setTimeout(() => !this.#stopped && !socket.destroyed && socket.write(this.next()), PAUSE_MS);
  }

  close(): void {
    this.#stopped = true;
    this.#socket?.destroy();
  }
}

/**
 * One SSE connection: `request()` opens it (from the subscriber's cursor),
 * `event` gets each block between blank lines; reopened whenever it ends.
 */
export class StreamReader {
  #socket: Socket | null = null;
  #stopped = false;
  #events = '';
  #status = 0;

  constructor(
    readonly endpoint: Endpoint,
    readonly request: () => string,
    readonly event: (block: string, now: number) => void,
    readonly stats: SubscriberStats,
  ) {}

  /** Resolves once the server has answered the stream's headers (200 or not). */
  open(): Promise<void> {
    if (this.#stopped) return Promise.resolve();
    return new Promise((resolve) => {
      this.#events = '';
      const reader = new ResponseReader(
        (head) => {
          this.#status = head.status;
          if (head.status !== 200) this.stats.refused++;
          resolve();
        },
        (text) => {
          if (this.#status !== 200) return;
          this.#events += text;
          let end = this.#events.indexOf('\n\n');
          if (end === -1) return;
          const now = performance.now();
          let start = 0;
          while (end !== -1) {
            this.event(this.#events.slice(start, end), now);
            start = end + 2;
            end = this.#events.indexOf('\n\n', start);
          }
          this.#events = this.#events.slice(start);
        },
        // The stream ended (SSE_MAX_MS, or a refusal's body): open it again from the cursor.
        () => socket.end(),
      );
      const socket = connect(this.endpoint, () => socket.write(this.request()));
      socket.setNoDelay(true);
      socket.setEncoding('latin1');
      socket.on('data', (chunk: string) => reader.feed(chunk));
      socket.on('error', () => {});
      socket.on('close', () => {
        resolve();
        if (this.#socket !== socket || this.#stopped) return;
        this.stats.reconnects++;
        setTimeout(() => void this.open(), PAUSE_MS);
      });
      this.#socket = socket;
    });
  }

  close(): void {
    this.#stopped = true;
    this.#socket?.destroy();
  }
}

export const newLog = (): DeliveryLog => ({ ids: [], walls: [], at: [] });

/** A message as Pollster sends it, reduced to what the check needs. */
interface WireMessage {
  id: number;
  wall_id: number;
}

/** A Pollster long poll on `walls`, from `cursors` (newest id seen per wall). */
export function pollsterPoll(
  endpoint: Endpoint,
  session: string,
  walls: readonly number[],
  after: number,
  log: DeliveryLog,
  stats: SubscriberStats,
): Repeater {
  const cursors: Record<string, number> = Object.fromEntries(walls.map((wall) => [wall, after]));
  const head = `POST /poll HTTP/1.1\r\nHost: ${endpoint.host}:${endpoint.port}\r\nAuthorization: Bearer ${session}\r\nContent-Type: application/json\r\n`;
  const next = (): string => {
    const body = JSON.stringify({ last_post_id: cursors });
    return `${head}Content-Length: ${body.length}\r\n\r\n${body}`;
  };
  return new Repeater(
    endpoint,
    next,
    (body, _head, now) => {
      const answer = JSON.parse(body) as { walls: Record<string, { posts: WireMessage[] }> };
      for (const [wall, { posts }] of Object.entries(answer.walls)) {
        for (const post of posts) {
          log.ids.push(post.id);
          log.walls.push(post.wall_id);
          log.at.push(now);
          if (post.id > (cursors[wall] ?? 0)) cursors[wall] = post.id;
        }
        stats.deliveries += posts.length;
      }
    },
    stats,
  );
}

/** A Pollster SSE stream (GET /check) on `walls`, resuming from the last event id it had. */
export function pollsterStream(
  endpoint: Endpoint,
  session: string,
  walls: readonly number[],
  after: number,
  log: DeliveryLog,
  stats: SubscriberStats,
): StreamReader {
  let lastEventId = after;
  const request = (): string =>
    `GET /check?walls=${walls.join(',')}&last_event_id=${lastEventId} HTTP/1.1\r\nHost: ${endpoint.host}:${endpoint.port}\r\n` +
    `Authorization: Bearer ${session}\r\nAccept: text/event-stream\r\n\r\n`;
  return new StreamReader(
    endpoint,
    request,
    (block, now) => {
      const data = block.indexOf('data: ');
      if (data === -1 || !block.includes('event: refresh')) return;
      const line = block.indexOf('\n', data);
      const { messages } = JSON.parse(block.slice(data + 6, line === -1 ? undefined : line)) as { messages: WireMessage[] };
      for (const message of messages) {
        log.ids.push(message.id);
        log.walls.push(message.wall_id);
        log.at.push(now);
        if (message.id > lastEventId) lastEventId = message.id;
      }
      stats.deliveries += messages.length;
    },
    stats,
  );
}

/**
 * An Nchan long-poll subscriber of `channel` (wall `wall`), following its
 * protocol: each answer's Last-Modified and Etag go back as If-Modified-Since
 * and If-None-Match. The body is the bench's sequence number.
 */
export function nchanPoll(endpoint: Endpoint, channel: string, wall: number, log: DeliveryLog, stats: SubscriberStats): Repeater {
  let cursor = '';
  const head = `GET /sub?id=${channel} HTTP/1.1\r\nHost: ${endpoint.host}:${endpoint.port}\r\n`;
  return new Repeater(
    endpoint,
    () => `${head}${cursor}\r\n`,
    (body, answer, now) => {
      log.ids.push(Number(body));
      log.walls.push(wall);
      log.at.push(now);
      stats.deliveries++;
      cursor = `If-Modified-Since: ${answer.headers.get('last-modified')}\r\nIf-None-Match: ${answer.headers.get('etag')}\r\n`;
    },
    stats,
  );
}

/** An Nchan EventSource subscriber of `channel`, resuming with Last-Event-ID. */
export function nchanStream(endpoint: Endpoint, channel: string, wall: number, log: DeliveryLog, stats: SubscriberStats): StreamReader {
  let lastEventId = '';
  const request = (): string =>
    `GET /sse?id=${channel} HTTP/1.1\r\nHost: ${endpoint.host}:${endpoint.port}\r\nAccept: text/event-stream\r\n` +
    `${lastEventId ? `Last-Event-ID: ${lastEventId}\r\n` : ''}\r\n`;
  return new StreamReader(
    endpoint,
    request,
    (block, now) => {
      let data: string | undefined;
      for (const line of block.split('\n')) {
        if (line.startsWith('id: ')) lastEventId = line.slice(4);
        else if (line.startsWith('data: ')) data = line.slice(6);
      }
      if (data === undefined) return;
      log.ids.push(Number(data));
      log.walls.push(wall);
      log.at.push(now);
      stats.deliveries++;
    },
    stats,
  );
}
