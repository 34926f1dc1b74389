/**
 * Thousands of long polls or SSE streams on bare TCP sockets: one pre-built
 * request each, and what comes back only searched for the awaited content.
 * With 10,000 polls an HTTP client that parses every answer (undici +
 * JSON.parse) spends as long as the server does, and the fan-out figure
 * measures the client; this one costs a string search per answer.
 */
import { connect, type Socket } from 'node:net';
import { performance } from 'node:perf_hooks';

export interface RawPolls {
  /** Each poll's time from `markPosted` until its answer held `content`; NaN if it did not. */
  results(timeoutMs: number): Promise<number[]>;
  markPosted(content: string): void;
  close(): void;
}

/** `POST /poll` with `body`, as bytes. */
export function pollRequest(origin: string, session: string, body: unknown): string {
  const payload = JSON.stringify(body);
  return (
    `POST /poll HTTP/1.1\r\nHost: ${new URL(origin).host}\r\nAuthorization: Bearer ${session}\r\n` +
    `Content-Type: application/json\r\nContent-Length: ${Buffer.byteLength(payload)}\r\n\r\n${payload}`
  );
}

/** `GET /check` for `walls`, as bytes. */
export function streamRequest(origin: string, session: string, walls: number[]): string {
  return `GET /check?walls=${walls.join(',')} HTTP/1.1\r\nHost: ${new URL(origin).host}\r\nAuthorization: Bearer ${session}\r\nAccept: text/event-stream\r\n\r\n`;
}

export async function openRawPolls(
  origin: string,
  request: string,
  count: number,
  /** Called after each batch is connected and sent, with the number sent so far. */
  afterBatch: (sent: number) => Promise<void>,
  batch = 500,
): Promise<RawPolls> {
  const url = new URL(origin);
  const sockets: Socket[] = [];
  const times: number[] = new Array(count).fill(NaN);
  let content: string | undefined;
  let postedAt = 0;
  let answered = 0;
  let allAnswered!: () => void;
  const done = new Promise<void>((resolve) => (allAnswered = resolve));
  const open = (index: number): Promise<void> =>
    new Promise((resolve, reject) => {
      const socket = connect({ host: url.hostname.replace(/^\[|\]$/g, ''), port: Number(url.port) }, () => {
        socket.write(request);
        resolve();
      });
      socket.setNoDelay(true);
      let text = '';
      let finished = false;
      const finish = (): void => {
        if (finished) return;
        finished = true;
        if (++answered === count) allAnswered();
      };
      socket.on('data', (chunk) => {
        if (finished) return;
        text += chunk.toString('latin1');
        if (content !== undefined && text.includes(content)) {
          times[index] = performance.now() - postedAt;
          finish();
        } else if (/\r\n\r\n/.test(text) && !text.startsWith('HTTP/1.1 200')) {
          finish();
        }
      });
      socket.on('error', (error) => {
        finish();
        reject(error);
      });
      socket.on('close', finish);
      sockets.push(socket);
    });
  for (let sent = 0; sent < count; sent += batch) {
    await Promise.all(Array.from({ length: Math.min(batch, count - sent) }, (_, i) => open(sent + i)));
    await afterBatch(Math.min(count, sent + batch));
  }
  return {
    markPosted(awaited) {
      content = awaited;
      postedAt = performance.now();
    },
    async results(timeoutMs) {
      let timer: NodeJS.Timeout | undefined;
      await Promise.race([done, new Promise((resolve) => (timer = setTimeout(resolve, timeoutMs)))]);
      clearTimeout(timer);
      return times;
    },
    close() {
      for (const socket of sockets) socket.destroy();
    },
  };
}
