import type { IncomingMessage } from 'node:http';
import { Errors } from './http-error.js';

export const MAX_BODY_BYTES = 64 * 1024;

/**
 * Read a JSON body of at most `MAX_BODY_BYTES`. An empty body reads as `{}` so
 * that routes whose fields are all optional accept a bare POST.
 */
export async function readJson(req: IncomingMessage): Promise<unknown> {
  const declared = Number(req.headers['content-length']);
  if (declared > MAX_BODY_BYTES) throw Errors.bodyTooLarge();
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of req as AsyncIterable<Buffer>) {
    size += chunk.length;
    if (size > MAX_BODY_BYTES) throw Errors.bodyTooLarge();
    chunks.push(chunk);
  }
  const text = Buffer.concat(chunks).toString('utf8').trim();
  if (text === '') return {};
  try {
    return JSON.parse(text);
  } catch {
    throw Errors.malformedJson();
  }
}
