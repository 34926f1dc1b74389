/**
 * The chat page: plain files under `public/`, read once at start-up and served
 * from memory. The folder sits two levels above this module both in `src/`
 * and in the built `dist/`.
 */
import { readdirSync, readFileSync } from 'node:fs';
import { extname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { sendJson } from './respond.js';
import type { RouteHandler } from './context.js';

const TYPES: Record<string, string> = {
  '.html': 'text/html; charset=utf-8',
  '.js': 'text/javascript; charset=utf-8',
  '.css': 'text/css; charset=utf-8',
  '.svg': 'image/svg+xml',
};

export const PUBLIC_DIR = fileURLToPath(new URL('../../public/', import.meta.url));

/**
 * The q-value `accept` gives `type`, from its most specific matching range
 * (`text/html` over `text/*` over `*\/*`); 0 when nothing matches.
 */
function quality(accept: string, type: string): number {
  const [major] = type.split('/');
  let best = -1;
  let q = 0;
  for (const part of accept.split(',')) {
    const [range = '', ...params] = part.split(';').map((piece) => piece.trim().toLowerCase());
    const specificity = range === type ? 2 : range === `${major}/*` ? 1 : range === '*/*' ? 0 : -1;
    if (specificity <= best) continue;
    const qParam = params.find((param) => param.startsWith('q='));
    const value = qParam === undefined ? 1 : Number(qParam.slice(2));
    if (!(value >= 0 && value <= 1)) continue;
    best = specificity;
    q = value;
  }
  return q;
}

/**
 * A browser asks for the page; the Sinatra original's clients `$.get('/')`
 * and expect `{"ack":"huzzah!"}`. HTML wins only when preferred
 * strictly over JSON, so `*\/*` (jQuery, curl, fetch) gets the JSON.
 */
export function prefersHtml(accept: string | undefined): boolean {
  if (!accept) return false;
  const html = quality(accept, 'text/html');
  return html > 0 && html > quality(accept, 'application/json');
}

/** `[path, handler]` for every file in public/, plus `/`: index.html for browsers, the ack for the rest. */
export function staticRoutes(dir = PUBLIC_DIR): Array<[string, RouteHandler]> {
  const routes: Array<[string, RouteHandler]> = [];
  for (const name of readdirSync(dir)) {
    const type = TYPES[extname(name)];
    if (!type) continue;
    const content = readFileSync(join(dir, name));
    // Frozen: shared by every answer, so the CORS merge is made once (cors.ts).
    const head = Object.freeze({
      'Content-Type': type,
      'Content-Length': content.length,
      'Cache-Control': 'no-cache',
      'X-Content-Type-Options': 'nosniff',
    });
    routes.push([`/${name}`, ({ res }) => void res.writeHead(200, head).end(content)]);
    if (name === 'index.html') {
      // `/` answers by Accept: caches must key on it (CORS adds its own Vary to this one).
      const pageHead = Object.freeze({ ...head, Vary: 'Accept' });
      routes.push([
        '/',
        ({ req, res }) => {
          if (prefersHtml(req.headers.accept)) res.writeHead(200, pageHead).end(content);
          else sendJson(res, 200, { ack: 'huzzah!' }, { Vary: 'Accept' });
        },
      ]);
    }
  }
  return routes;
}
