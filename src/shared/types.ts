/**
 * The contract between the HTTP side (main thread) and the worker threads:
 * what a task carries in, what it brings back, and what every worker gets at
 * start-up. Both sides import this file with `import type` only.
 */

/** A stored chat message as the API returns it. */
export interface Message {
  id: number;
  wall_id: number;
  user: string;
  content: string;
  created_at: string;
}

/** A wall as the API lists it (`/sessions`, `/walls`). */
export interface WallSummary {
  id: number;
  name: string;
  /** Newest message id on the wall, 0 when it has none: a client's first cursor. */
  latest_message_id: number;
  /** Readable without a session; posting still needs membership. */
  public: boolean;
}

/** Given to every worker thread once, through Piscina's `workerData`. */
export interface WorkerData {
  /** The shared board: see `src/shared/board.ts` for its layout. */
  board: SharedArrayBuffer;
  /**
   * The SQLite file each thread reads on its own connection; null with
   * PostgreSQL, where threads only wait on the board (`boardOnly` tasks) and
   * the main thread reads, so each process keeps one bounded connection pool.
   */
  dbPath: string | null;
}

export type WakeMode = 'notify' | 'sleep';

/** Wait for messages newer than `after` on any of `walls`. */
export interface PollTask {
  /** `[wallId, lastSeenMessageId]` pairs. */
  walls: Array<[number, number]>;
  /** Epoch ms: the poll answers empty once this passes (it counts from arrival). */
  deadline: number;
  wake: WakeMode;
  /** `WAKE=sleep`: how long to sleep between checks of the board. */
  intervalMs: number;
  /** Most messages returned per wall (with `singleCursor`: in all). */
  limit: number;
  /**
   * One cursor for all walls (the SSE stream): whenever any wall moves, read
   * every wall in one query, oldest first. A message noticed late — a CLI
   * write or another process's post, put on the board after a newer one —
   * then still arrives before the cursor passes it. Long polls keep a cursor
   * per wall and read only the walls that moved.
   */
  singleCursor?: boolean;
  /** Int32Array(1) on its own SharedArrayBuffer; 1 means "stop now". */
  cancel: Int32Array;
  /**
   * Wait on the board only and read nothing: answer `moved` as soon as a
   * wall's board id passes its threshold. The main thread then reads the
   * messages (PostgreSQL: asynchronously, from its pool).
   */
  boardOnly?: boolean;
  /**
   * Per wall, the board id below which nothing new can exist for this poll
   * (defaults to the cursor in `walls`): a wall already read at that board id
   * without news is not reported again until it moves further.
   */
  seen?: Array<[number, number]>;
}

/** Given to every `/hello` lane thread through Piscina's `workerData`. */
export interface JobWorkerData {
  /** Int32Array(1) on a SharedArrayBuffer: lane threads that have loaded their module. */
  loaded: Int32Array;
}

/** Block the thread for `ms`, like the original `/hello` EM.defer job. */
export interface SleepTask {
  ms: number;
  cancel: Int32Array;
}

/**
 * Tasks return plain objects: errors thrown in a worker lose their class and
 * fields on the way back, so the main thread maps outcomes to HTTP itself.
 */
export type PollOutcome =
  | { outcome: 'data'; walls: Record<string, { posts: Message[] }> }
  | { outcome: 'timeout' }
  /** The client left, or the server is shutting down. */
  | { outcome: 'cancelled' }
  /** A `boardOnly` task: these walls' board ids (`[wallId, newest]`) passed their thresholds. */
  | { outcome: 'moved'; walls: Array<[number, number]> };

export type SleepOutcome = { outcome: 'done'; sleptMs: number } | { outcome: 'cancelled' };

// ---- The wire as the chat page (public/app.js) reads it ----------------------
// The page type-checks against these through JSDoc (`npm run typecheck`,
// tsconfig.public.json), so a renamed field fails the check, not only the
// Chromium test. Built from the types above wherever one exists.

/** `POST /sessions` → 201. */
export interface SessionAnswer {
  /** The session id: send it as `Authorization: Bearer <id>` or `?session_id=`. */
  session_id: string;
  user: string;
  /** The walls the user is a member of. */
  walls: WallSummary[];
}

/** `GET /auth` → 200: which login the page shows, a user picker (`demo`) or a token (`jwt`). */
export interface AuthAnswer {
  mode: 'demo' | 'jwt';
}

/** `GET /walls` → 200: the session's walls, or without a session the public walls. */
export interface WallsAnswer {
  walls: WallSummary[];
}

/**
 * Messages a client may have missed on a wall, pruned under bounded history
 * (HISTORY_MAX_PER_WALL, HISTORY_MAX_AGE_S): its cursor `after` was older than
 * the oldest message kept, so ids in (`after`, `resumed_from`] may be gone.
 * What follows continues after `resumed_from`.
 */
export interface HistoryGap {
  after: number;
  resumed_from: number;
}

/** `GET /walls/:id/messages` → 200, oldest first; `gap` only when `after` was behind the kept history. */
export interface MessagesAnswer {
  messages: Message[];
  gap?: HistoryGap;
}

/** `POST /poll` (and `POST /`) body: per wall id, the newest message id the client has. */
export interface PollRequest {
  last_post_id: Record<string, number>;
  /** 0 is a short poll; capped by the server's `POLL_TIMEOUT_MS`. */
  timeout_ms?: number;
}

/** `POST /poll` → 200: the walls with news, each oldest first; `{"walls":{}}` on timeout. */
export interface PollAnswer {
  walls: Extract<PollOutcome, { outcome: 'data' }>['walls'];
  /** By wall id, only when a cursor was behind the kept history: the poll continues from `resumed_from`. */
  gaps?: Record<string, HistoryGap>;
}

/** The `data` of a `GET /check` `event: refresh`; the event's id is the newest message id in it. */
export interface RefreshEvent {
  messages: Message[];
}

/** The `data` of a `GET /check` `event: gap` (no id), sent before the next refresh when the stream's cursor was behind the kept history of these walls. */
export interface GapEvent {
  walls: Record<string, HistoryGap>;
}

/** Every 4xx/5xx with a body; `Invalid user!` (400 on `/poll`) and 401 mean the session is gone. */
export interface ErrorAnswer {
  errors: string[];
}

/** The part of `GET /stats` the page's pool panel shows (test/browser-wire-types.test.ts checks it against the server's). */
export interface StatsAnswer {
  mode: string;
  wake: WakeMode;
  pool: {
    threads: number;
    max_threads: number;
    busy: number;
    capacity: number;
    held_per_thread: number;
    queued: number;
    completed: number;
  };
  waiting_polls: number;
  open_streams: number;
}
