/** For clients and operators: the ping, `/stats` and `/metrics`. */
import type { Route } from '../context.js';
import { requireMetricsToken } from '../metrics-token.js';
import { sendJson } from '../respond.js';
import type { RouteDeps } from '../route-deps.js';

export function opsRoutes({ config, stats, metrics }: RouteDeps): Route[] {
  return [
    ['GET', '/ping', ({ res }) => sendJson(res, 200, { ack: 'huzzah!' })],
    [
      'GET',
      '/stats',
      ({ req, res }) => {
        requireMetricsToken(req, config.metricsToken);
        sendJson(res, 200, stats());
      },
    ],
    [
      'GET',
      '/metrics',
      async ({ req, res }) => {
        requireMetricsToken(req, config.metricsToken);
        const { contentType, text } = await metrics();
        res.writeHead(200, { 'Content-Type': contentType, 'Cache-Control': 'no-store' }).end(text);
      },
    ],
  ];
}
