/**
 * The figures of a `/stats` snapshot that `/metrics` reads. The app fills a
 * snapshot (`app-stats.ts`, which has many more fields); metrics read these.
 * A leaf, so that metrics never import the code that assembles the app.
 */
export interface StatsSnapshot {
  pool: {
    threads: number;
    capacity: number;
    busy: number;
    queued: number;
    completed: number;
    cancelled: number;
    rejected: number;
    failed: number;
  };
  hello_lane: { busy: number; queued: number };
  waiting_polls: number;
  open_streams: number;
  sse_stalled: number;
  wait_limits: { refused: number };
}
