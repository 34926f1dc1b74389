import type { IncomingMessage } from 'node:http';
import { parseForm } from './form-body.js';
import { Errors, HttpError } from './http-error.js';

export const unsupportedMediaType = (): HttpError =>
  new HttpError(415, 'Content-Type must be application/json or application/x-www-form-urlencoded (UTF-8)');

export const MAX_BODY_BYTES = 64 * 1024;

const utf8 = new TextDecoder('utf-8', { fatal: true });

type BodyType = 'json' | 'form';

/**
 * JSON, or a form as jQuery and plain HTML forms send it (issue 10). No
 * Content-Type reads as JSON, as it always has; anything else is refused
 * before the body is read.
 */
function bodyType(req: IncomingMessage): BodyType {
  const header = req.headers['content-type'];
  if (header === undefined || header.trim() === '') return 'json';
  const [mediaType = '', ...params] = header.split(';').map((part) => part.trim().toLowerCase());
  const charset = params.find((param) => param.startsWith('charset='))?.slice('charset='.length).replace(/"/g, '');
  const type = mediaType === 'application/json' ? 'json' : mediaType === 'application/x-www-form-urlencoded' ? 'form' : null;
  if (type === null || (charset !== undefined && charset !== 'utf-8')) throw unsupportedMediaType();
  return type;
}

async function readBytes(req: IncomingMessage): Promise<Buffer> {
  const declared = Number(req.headers['content-length']);
  if (declared > MAX_BODY_BYTES) throw Errors.bodyTooLarge();
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of req as AsyncIterable<Buffer>) {
    size += chunk.length;
    if (size > MAX_BODY_BYTES) throw Errors.bodyTooLarge();
    chunks.push(chunk);
  }
  return Buffer.concat(chunks);
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
