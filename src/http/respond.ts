import type { OutgoingHttpHeaders, ServerResponse } from 'node:http';
import type { HttpError } from './http-error.js';

const NO_HEADERS: Record<string, string> = Object.freeze({});

export function sendJson(res: ServerResponse, status: number, body: unknown, headers: Record<string, string> = NO_HEADERS): void {
  if (res.headersSent || res.destroyed) return;
  sendJsonBytes(res, status, JSON.stringify(body), headers);
}

/** Heads of shared answers, by their bytes: frozen, so the CORS merge is made once too (cors.ts). */
const sharedHeads = new WeakMap<Buffer, OutgoingHttpHeaders>();

function jsonHead(payload: string | Buffer, headers: Record<string, string>): OutgoingHttpHeaders {
  return {
    ...headers,
    'Content-Type': 'application/json; charset=utf-8',
    'Content-Length': Buffer.byteLength(payload),
    'Cache-Control': 'no-store',
  };
}

/** `payload` is JSON already: an answer serialised once and shared (see answer-bytes.ts). */
export function sendJsonBytes(
  res: ServerResponse,
  status: number,
  payload: string | Buffer,
  headers: Record<string, string> = NO_HEADERS,
): void {
  if (res.headersSent || res.destroyed) return;
  let head: OutgoingHttpHeaders | undefined;
  if (typeof payload !== 'string' && headers === NO_HEADERS) {
    head = sharedHeads.get(payload);
    if (!head) {
      head = Object.freeze(jsonHead(payload, headers));
      sharedHeads.set(payload, head);
    }
  } else {
    head = jsonHead(payload, headers);
  }
  res.writeHead(status, head);
  res.end(payload);
}

export function sendError(res: ServerResponse, error: HttpError): void {
  sendJson(res, error.status, { errors: [error.message] }, error.headers);
}
