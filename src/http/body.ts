import type { IncomingMessage } from 'node:http';
import { parseForm } from './form-body.js';
import { Errors, HttpError } from './http-error.js';

export const unsupportedMediaType = (): HttpError =>
  new HttpError(415, 'Content-Type must be application/json or application/x-www-form-urlencoded (UTF-8)');

export const MAX_BODY_BYTES = 64 * 1024;

const utf8 = new TextDecoder('utf-8', { fatal: true });

type BodyType = 'json' | 'form';

/**
 * JSON, or a form as jQuery and plain HTML forms send it. No
 * Content-Type reads as JSON, as it always has; anything else is refused
 * before the body is read.
 */
function bodyType(req: IncomingMessage): BodyType {
  const header = req.headers['content-type'];
  if (header === undefined || header.trim() === '') return 'json';
  const [mediaType = '', ...params] = header.split(';').map((part) => part.trim().toLowerCase());
  const charset = params
    .find((param) => param.startsWith('charset='))
    ?.slice('charset='.length)
    .replace(/"/g, '');
  const type = mediaType === 'application/json' ? 'json' : mediaType === 'application/x-www-form-urlencoded' ? 'form' : null;
  if (type === null || (charset !== undefined && charset !== 'utf-8')) throw unsupportedMediaType();
  return type;
}

/**
 * The body's bytes, by 'data' and 'end' rather than `for await`: the async
 * iterator leaves its end-of-stream listeners on the request, which kept
 * about 1 KB alive for as long as a long poll was held.
 */
function readBytes(req: IncomingMessage): Promise<Buffer> {
  const declared = Number(req.headers['content-length']);
  if (declared > MAX_BODY_BYTES) return Promise.reject(Errors.bodyTooLarge());
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    let size = 0;
    const settle = (error: unknown): void => {
      req.off('data', onData).off('end', onEnd).off('error', settle).off('close', onClose);
      if (error) reject(error);
      else resolve(Buffer.concat(chunks, size));
    };
    const onData = (chunk: Buffer): void => {
      size += chunk.length;
      chunks.push(chunk);
      if (size <= MAX_BODY_BYTES) return;
      settle(Errors.bodyTooLarge());
      // Discard the rest rather than reset the connection, so the client
      // reads its 413 (sent with Connection: close); REQUEST_TIMEOUT_MS
      // still bounds a client that never stops sending.
      req.resume();
    };
    const onEnd = (): void => settle(null);
    // A client that leaves mid-body: no 'end' comes.
    const onClose = (): void => settle(Object.assign(new Error('Premature close'), { code: 'ERR_STREAM_PREMATURE_CLOSE' }));
    req.on('data', onData).on('end', onEnd).on('error', settle).on('close', onClose);
  });
}

/**
 * Read a JSON or form body of at most `MAX_BODY_BYTES`. An empty body reads
 * as `{}` so that routes whose fields are all optional accept a bare POST.
 * Bytes that are not UTF-8 are refused rather than turned into U+FFFD.
 */
export async function readBody(req: IncomingMessage): Promise<unknown> {
  const type = bodyType(req);
  const bytes = await readBytes(req);
  if (type === 'form') return parseForm(bytes);
  let text: string;
  try {
    text = utf8.decode(bytes).trim();
  } catch {
    throw Errors.malformedJson();
  }
  if (text === '') return {};
  try {
    return JSON.parse(text);
  } catch {
    throw Errors.malformedJson();
  }
}
