/**
 * The chat page: plain files under `public/`, read once at start-up and served
 * from memory. The folder sits two levels above this module both in `src/`
 * and in the built `dist/`.
 */
import { readdirSync, readFileSync } from 'node:fs';
import { extname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { RouteHandler } from './routes.js';

const TYPES: Record<string, string> = {
  '.html': 'text/html; charset=utf-8',
  '.js': 'text/javascript; charset=utf-8',
  '.css': 'text/css; charset=utf-8',
  '.svg': 'image/svg+xml',
};

export const PUBLIC_DIR = fileURLToPath(new URL('../../public/', import.meta.url));

/** `[path, handler]` for every file in public/, plus `/` for index.html. */
export function staticRoutes(dir = PUBLIC_DIR): Array<[string, RouteHandler]> {
  const routes: Array<[string, RouteHandler]> = [];
  for (const name of readdirSync(dir)) {
    const type = TYPES[extname(name)];
    if (!type) continue;
    const content = readFileSync(join(dir, name));
    const handler: RouteHandler = ({ res }) => {
      res.writeHead(200, {
        'Content-Type': type,
        'Content-Length': content.length,
        'Cache-Control': 'no-cache',
        'X-Content-Type-Options': 'nosniff',
      });
      res.end(content);
    };
    routes.push([`/${name}`, handler]);
    if (name === 'index.html') routes.push(['/', handler]);
  }
  return routes;
}
