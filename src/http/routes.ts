/**
 * Pollster's HTTP API, by resource (`routes/`). Handlers do only quick work
 * on the main thread — parse, a quick SQLite read or write (or an awaited
 * PostgreSQL one), respond — and hand every wait for new data to the task
 * runner.
 */
import { createCheckHandler } from './check-stream.js';
import type { Route } from './context.js';
import { createIdentity } from './identity.js';
import type { RouteDeps } from './route-deps.js';
import { apiRoutes } from './routes/api.js';
import { healthRoutes } from './routes/health.js';
import { jobRoutes } from './routes/jobs.js';
import { opsRoutes } from './routes/ops.js';
import { pollRoutes } from './routes/poll.js';
import { sessionRoutes } from './routes/sessions.js';
import { wallRoutes } from './routes/walls.js';
import { staticRoutes } from './static-files.js';

export type { RouteDeps } from './route-deps.js';

export function createRoutes(deps: RouteDeps): Route[] {
  const identity = createIdentity(deps);
  return [
    ...opsRoutes(deps),
    ...healthRoutes(deps),
    ...sessionRoutes(deps, identity),
    ...wallRoutes(deps, identity),
    ...pollRoutes(deps, identity),
    ['GET', '/check', createCheckHandler(deps, identity)],
    ...jobRoutes(deps),
    // Only with API_KEY set: without it /api/… is an unknown path.
    ...apiRoutes(deps),
    ...staticRoutes().map(([path, handler]): Route => ['GET', path, handler]),
  ];
}
