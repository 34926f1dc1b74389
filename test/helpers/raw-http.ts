/**
 * HTTP/1.1 over a bare `node:net` socket, for requests no well-behaved client
 * would send: request targets like `http://[`, bytes that are not UTF-8,
 * contradictory framing headers, and bodies cut off half-way. undici refuses
 * to send most of these, so the fuzz test writes the bytes itself.
 */
import { connect } from 'node:net';

export interface RawAnswer {
  /** Status of the final (non-1xx) response; null when none came. */
  status: number | null;
  /** Header block of that response, lower-cased names, as text. */
  head: string;
  /** Body bytes as received (not de-chunked). */
  body: Buffer;
  /** Why the exchange ended. */
  ended: 'closed' | 'stream' | 'aborted' | 'no answer';
}

export interface RawOptions {
  /** Cut the request off after this many bytes... */
  abortAt?: number;
  /** ...by resetting the socket, or by a half-close (FIN) that leaves it readable. */
  abortHow?: 'destroy' | 'end';
  /** How long to wait for an answer once everything meant to be sent was sent. */
  answerMs: number;
}

const HEAD_END = Buffer.from('\r\n\r\n');

/** Split off every complete 1xx response; return the final one's status and head, if its head is complete. */
function parse(data: Buffer): { status: number; head: string; body: Buffer } | null {
  let rest = data;
  for (;;) {
    const end = rest.indexOf(HEAD_END);
    if (end === -1) return null;
    const head = rest.subarray(0, end).toString('latin1');
    const status = Number(/^HTTP\/1\.[01] (\d{3})/.exec(head)?.[1] ?? NaN);
    rest = rest.subarray(end + HEAD_END.length);
    if (!(status >= 100 && status < 200)) return { status, head: head.toLowerCase(), body: rest };
  }
}

/**
 * Write `request` to 127.0.0.1:`port` and collect the answer. The request
 * should carry `Connection: close`, so a complete answer ends with the server
 * closing the socket; an event stream counts as answered once its head is in.
 */
export function rawExchange(port: number, request: Buffer, options: RawOptions): Promise<RawAnswer> {
  return new Promise((resolve) => {
    const chunks: Buffer[] = [];
    let timer: NodeJS.Timeout | undefined;
    let settled = false;
    const finish = (ended: RawAnswer['ended']): void => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      socket.destroy();
      const parsed = parse(Buffer.concat(chunks));
      resolve(
        parsed
          ? { status: Number.isNaN(parsed.status) ? null : parsed.status, head: parsed.head, body: parsed.body, ended }
          : { status: null, head: '', body: Buffer.alloc(0), ended },
      );
    };
    const waitForAnswer = (): void => {
      timer = setTimeout(() => finish('no answer'), options.answerMs);
    };
    const socket = connect(port, '127.0.0.1', () => {
      const cut = options.abortAt === undefined ? request.length : Math.min(options.abortAt, request.length);
      socket.write(request.subarray(0, cut), () => {
        if (options.abortAt === undefined) waitForAnswer();
        else if (options.abortHow === 'end') {
          socket.end();
          waitForAnswer();
        } else finish('aborted');
      });
    });
    socket.on('data', (chunk: Buffer) => {
      chunks.push(chunk);
      const parsed = parse(Buffer.concat(chunks));
      if (parsed && /^content-type:\s*text\/event-stream/m.test(parsed.head)) finish('stream');
    });
    socket.on('close', () => finish('closed'));
    // A reset after the server answered (or refused) is part of the exchange, not a test failure.
    socket.on('error', () => undefined);
  });
}

/**
 * Write `data` to the server at `url` on a fresh socket and collect whatever
 * comes back until the server closes it; rejects if it neither answers nor
 * closes within `ms`.
 */
export function rawText(url: string, data: string, ms = 5000): Promise<string> {
  const { port } = new URL(url);
  return new Promise((resolve, reject) => {
    const socket = connect(Number(port), '127.0.0.1', () => socket.write(data));
    let answer = '';
    const timer = setTimeout(() => {
      socket.destroy();
      reject(new Error(`server neither answered nor closed within ${ms} ms; got: ${answer}`));
    }, ms);
    socket.on('data', (chunk) => (answer += chunk));
    socket.on('close', () => {
      clearTimeout(timer);
      resolve(answer);
    });
    socket.on('error', () => undefined);
  });
}
