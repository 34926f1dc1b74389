/** The Sinatra original's demo routes: a slow job on its own lane, and an instant answer. */
import { createCancelCell } from '../../shared/board.js';
import type { Route } from '../context.js';
import { Errors } from '../http-error.js';
import type { RouteDeps } from '../route-deps.js';
import { parseMs } from '../validate.js';

const HELLO_DEFAULT_MS = 10_000;
const TEXT = { 'Content-Type': 'text/plain; charset=utf-8' };

export function jobRoutes({ config, lane }: RouteDeps): Route[] {
  return [
    [
      'GET',
      '/hello',
      async (ctx) => {
        const ms = Math.min(parseMs(ctx.query.get('ms'), HELLO_DEFAULT_MS), config.pollTimeoutMs);
        // HEAD answers at once and never takes a thread.
        if (ctx.req.method === 'HEAD') {
          ctx.res.writeHead(200, TEXT).end();
          return;
        }
        // Its own lane: never a poll thread or a place in the poll queue.
        const outcome = await lane.run({ ms, cancel: createCancelCell() }, ctx.departure);
        if (outcome.outcome !== 'done') throw Errors.shuttingDown();
        ctx.res.writeHead(200, TEXT).end('Hello!\n');
      },
    ],
    ['POST', '/bienvendidos', ({ res }) => void res.writeHead(200, TEXT).end('Bienvenidos!\n')],
  ];
}
