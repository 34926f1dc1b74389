/** autocannon, run programmatically, reduced to the figures the report shows. */
import autocannon from 'autocannon';

export interface LoadOptions {
  method?: 'GET' | 'POST';
  path: string;
  body?: unknown;
  session?: string;
  durationS: number;
  connections?: number;
}

export interface LoadResult {
  rps: number;
  p50: number;
  p99: number;
  errors: number;
  non2xx: number;
  requests: number;
}

export async function load(origin: string, options: LoadOptions): Promise<LoadResult> {
  const headers: Record<string, string> = { 'content-type': 'application/json' };
  if (options.session) headers.authorization = `Bearer ${options.session}`;
  const result = await autocannon({
    url: new URL(options.path, origin).href,
    method: options.method ?? 'GET',
    headers,
    body: options.body === undefined ? undefined : JSON.stringify(options.body),
    connections: options.connections ?? 10,
    duration: options.durationS,
    // A request unanswered for 10 s counts as a timeout rather than hanging the run.
    timeout: 10,
  });
  return {
    rps: Math.round(result.requests.average),
    p50: result.latency.p50,
    p99: result.latency.p99,
    errors: result.errors,
    non2xx: result.non2xx,
    requests: result.requests.total,
  };
}

/** Medians of several rounds: one short round beside thousands of sockets is noisy. */
export async function loadMedian(origin: string, options: LoadOptions, rounds: number): Promise<LoadResult> {
  const results: LoadResult[] = [];
  for (let i = 0; i < Math.max(1, rounds); i++) results.push(await load(origin, options));
  const mid = (pick: (r: LoadResult) => number): number => {
    const sorted = results.map(pick).sort((a, b) => a - b);
    const middle = Math.floor(sorted.length / 2);
    return sorted.length % 2 ? sorted[middle]! : (sorted[middle - 1]! + sorted[middle]!) / 2;
  };
  return {
    rps: mid((r) => r.rps),
    p50: mid((r) => r.p50),
    p99: mid((r) => r.p99),
    errors: results.reduce((sum, r) => sum + r.errors, 0),
    non2xx: results.reduce((sum, r) => sum + r.non2xx, 0),
    requests: results.reduce((sum, r) => sum + r.requests, 0),
  };
}
