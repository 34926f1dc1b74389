/**
 * For load balancers and supervisors: `/healthz` (the process answers) and
 * `/readyz` (it can serve: the database answers, the pool has its threads,
 * it is not draining).
 */
import type { Route } from '../context.js';
import { sendJson } from '../respond.js';
import type { RouteDeps } from '../route-deps.js';

/** Why a process cannot serve now; null when it can. */
export type Readiness = () => Promise<string | null>;

export function healthRoutes({ readiness }: RouteDeps): Route[] {
  return [
    ['GET', '/healthz', ({ res }) => sendJson(res, 200, { alive: true })],
    [
      'GET',
      '/readyz',
      async ({ res }) => {
        const reason = await readiness();
        if (reason === null) sendJson(res, 200, { ready: true });
        else sendJson(res, 503, { ready: false, reason }, { 'Retry-After': '2' });
      },
    ],
  ];
}
