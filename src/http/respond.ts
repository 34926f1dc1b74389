import type { ServerResponse } from 'node:http';
import { HttpError } from './http-error.js';

export function sendJson(res: ServerResponse, status: number, body: unknown, headers: Record<string, string> = {}): void {
  if (res.headersSent || res.destroyed) return;
  const payload = JSON.stringify(body);
  res.writeHead(status, {
    ...headers,
    'Content-Type': 'application/json; charset=utf-8',
    'Content-Length': Buffer.byteLength(payload),
    'Cache-Control': 'no-store',
  });
  res.end(payload);
}

export function sendError(res: ServerResponse, error: HttpError): void {
  sendJson(res, error.status, { errors: [error.message] }, error.headers);
}

/**
 * The CORS headers every response carries, preflight or not. `origins` is
 * `*` or a comma-separated list (validated by loadConfig). With one origin it
 * is always sent; with several, the request's `Origin` is echoed when listed,
 * and a browser on any other origin gets no `Access-Control-Allow-Origin`.
 */
export function createCors(origins: string): (requestOrigin: string | undefined) => Record<string, string> {
  const common = {
    'Access-Control-Allow-Methods': 'GET, POST, DELETE, OPTIONS',
    'Access-Control-Allow-Headers': 'Content-Type, Authorization, X-CSRF-Token, Last-Event-ID',
    'Access-Control-Max-Age': '600',
  };
  if (origins === '*') {
    const headers = { 'Access-Control-Allow-Origin': '*', ...common };
    return () => headers;
  }
  const list = origins.split(',');
  if (list.length === 1) {
    const headers = { 'Access-Control-Allow-Origin': origins, ...common, Vary: 'Origin' };
    return () => headers;
  }
  const allowed = new Set(list);
  const refused = { ...common, Vary: 'Origin' };
  return (requestOrigin) =>
    requestOrigin && allowed.has(requestOrigin) ? { 'Access-Control-Allow-Origin': requestOrigin, ...refused } : refused;
}
