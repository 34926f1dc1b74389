// @ts-check
// Pollster's chat page: plain JavaScript, no build step, served as is.
// `npm run typecheck` checks it (tsconfig.public.json) against the wire types
// in src/shared/types.ts. Messages are always rendered with textContent, never
// as HTML.

/** @typedef {import('../src/shared/types.js').Message} Message */
/** @typedef {import('../src/shared/types.js').WallSummary} WallSummary */
/** @typedef {import('../src/shared/types.js').SessionAnswer} SessionAnswer */
/** @typedef {import('../src/shared/types.js').WallsAnswer} WallsAnswer */
/** @typedef {import('../src/shared/types.js').MessagesAnswer} MessagesAnswer */
/** @typedef {import('../src/shared/types.js').PollRequest} PollRequest */
/** @typedef {import('../src/shared/types.js').PollAnswer} PollAnswer */
/** @typedef {import('../src/shared/types.js').RefreshEvent} RefreshEvent */
/** @typedef {import('../src/shared/types.js').ErrorAnswer} ErrorAnswer */
/** @typedef {import('../src/shared/types.js').StatsAnswer} StatsAnswer */
/** @typedef {import('../src/shared/types.js').AuthAnswer} AuthAnswer */

/**
 * The element `selector` names, checked to be a `type`: an id renamed in
 * index.html fails here, at load, instead of somewhere later.
 * @template {Element} T
 * @param {string} selector
 * @param {{ new (): T }} type
 * @returns {T}
 */
function $(selector, type) {
  const element = document.querySelector(selector);
  if (!(element instanceof type)) throw new Error(`index.html has no ${selector} of the expected kind`);
  return element;
}

const ui = {
  login: $('#login', HTMLFormElement),
  user: $('#login select', HTMLSelectElement),
  tokenLogin: $('#token-login', HTMLFormElement),
  token: $('#token-login input', HTMLInputElement),
  whoami: $('#whoami', HTMLElement),
  loginPrompt: $('#login-prompt', HTMLElement),
  transport: $('#transport', HTMLSelectElement),
  walls: $('#walls', HTMLElement),
  wallTitle: $('#wall-title', HTMLElement),
  messages: $('#messages', HTMLOListElement),
  compose: $('#compose', HTMLFormElement),
  content: $('#compose textarea', HTMLTextAreaElement),
  post: $('#compose button', HTMLButtonElement),
  status: $('#status', HTMLElement),
};

/**
 * @typedef {object} PageState
 * @property {AuthAnswer['mode']} mode demo: pick a user; jwt: the application's token is the credential
 * @property {string | null} session the credential: a session id (demo) or a token (jwt); null: not logged in, the page follows the public walls
 * @property {string | null} user
 * @property {WallSummary[]} walls
 * @property {number | null} current
 * @property {Map<number, Message[]>} messages wall id → messages received, oldest first
 * @property {Map<number, number>} lastIds wall id → newest message id seen
 * @property {Map<number, number>} unread
 * @property {() => void} stopTransport
 * @property {number} requests
 * @property {number} view raised by every login or logout, so a load that finishes late is dropped
 */

/** @type {PageState} */
const state = {
  mode: 'demo',
  session: null,
  user: null,
  walls: [],
  current: null,
  messages: new Map(),
  lastIds: new Map(),
  unread: new Map(),
  stopTransport: () => {},
  requests: 0,
  view: 0,
};

// ---- talking to the server --------------------------------------------------

/** A refused request, with the status kept so callers can tell a dead session from a passing failure. */
class ApiError extends Error {
  /** @param {number} status @param {string} message */
  constructor(status, message) {
    super(message);
    this.status = status;
  }
}

/** @param {string | null} session @returns {Record<string, string>} */
function headersFor(session) {
  /** @type {Record<string, string>} */
  const headers = { 'Content-Type': 'application/json' };
  if (session) headers.Authorization = `Bearer ${session}`;
  return headers;
}

/**
 * @param {string} method
 * @param {string} path
 * @param {unknown} [body]
 * @returns {Promise<unknown>}
 */
async function api(method, path, body) {
  const response = await fetch(path, {
    method,
    headers: headersFor(state.session),
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  const data = await response.json().catch(() => ({}));
  if (!response.ok) {
    const errors = /** @type {Partial<ErrorAnswer>} */ (data).errors;
    throw new ApiError(response.status, errors?.join(', ') ?? `HTTP ${response.status}`);
  }
  return data;
}

/** @param {string} user */
const createSession = (user) => /** @type {Promise<SessionAnswer>} */ (api('POST', '/sessions', { user }));
const listWalls = () => /** @type {Promise<WallsAnswer>} */ (api('GET', '/walls'));
/** @param {number} wallId */
const history = (wallId) => /** @type {Promise<MessagesAnswer>} */ (api('GET', `/walls/${wallId}/messages?limit=500`));
/** @param {number} wallId @param {string} content */
const postMessage = (wallId, content) => /** @type {Promise<Message>} */ (api('POST', `/walls/${wallId}/messages`, { content }));

/**
 * Whether an answer says the client may not go on: 401, or the poll's
 * 400 `Invalid user!` (a logged-out, expired or unknown session; without a
 * session, no public wall left). Retrying cannot help; logging in can.
 * @param {Response} response
 */
async function refusesClient(response) {
  if (response.status === 401) return true;
  if (response.status !== 400) return false;
  const data = /** @type {Partial<ErrorAnswer>} */ (await response.json().catch(() => ({})));
  return data.errors?.includes('Invalid user!') ?? false;
}

/**
 * `Retry-After` in ms (seconds or an HTTP date), 0 when absent; capped so a
 * wrong header cannot park the page for hours.
 * @param {Response} response
 */
function retryAfterMs(response) {
  const value = response.headers.get('Retry-After')?.trim();
  if (!value) return 0;
  const ms = /^\d+$/.test(value) ? Number(value) * 1000 : Date.parse(value) - Date.now();
  return Number.isFinite(ms) ? Math.min(Math.max(ms, 0), 10 * 60_000) : 0;
}

/**
 * Exponential backoff with jitter for answers the page cannot use (network
 * errors, 5xx, a proxy's 502, any unexpected status): 0.5–1 s, then 1–2 s, …
 * up to 15–30 s, so a broken server or proxy never sees a loop at full speed.
 * A good answer resets it.
 */
class Backoff {
  static BASE_MS = 1000;
  static CAP_MS = 30_000;
  #failures = 0;

  /** The next wait, in ms. */
  next() {
    const ceiling = Math.min(Backoff.CAP_MS, Backoff.BASE_MS * 2 ** this.#failures);
    this.#failures = Math.min(this.#failures + 1, 30);
    return ceiling / 2 + Math.random() * (ceiling / 2);
  }

  reset() {
    this.#failures = 0;
  }
}

/** @param {number} ms @param {AbortSignal} signal @returns {Promise<void>} */
function pause(ms, signal) {
  return new Promise((resolve) => {
    const timer = setTimeout(resolve, ms);
    signal.addEventListener('abort', () => {
      clearTimeout(timer);
      resolve();
    });
  });
}

/** @param {number} ms */
const seconds = (ms) => (ms / 1000).toFixed(1);

/** @param {unknown} error */
const reason = (error) => (error instanceof Error ? error.message : String(error));

/** @param {string} text */
function setStatus(text) {
  ui.status.textContent = text;
}

// ---- rendering --------------------------------------------------------------

function renderWalls() {
  if (state.walls.length === 0) {
    const hint = document.createElement('p');
    hint.className = 'hint';
    hint.textContent = 'Log in to see your walls.';
    ui.walls.replaceChildren(hint);
    return;
  }
  ui.walls.replaceChildren();
  for (const wall of state.walls) {
    const button = document.createElement('button');
    button.type = 'button';
    button.dataset.wall = String(wall.id);
    button.setAttribute('aria-current', String(wall.id === state.current));
    const name = document.createElement('span');
    name.textContent = wall.name;
    button.append(name);
    const unread = state.unread.get(wall.id) ?? 0;
    if (unread > 0) {
      const badge = document.createElement('span');
      badge.className = 'unread';
      badge.textContent = String(unread);
      button.append(badge);
    }
    button.addEventListener('click', () => selectWall(wall.id));
    ui.walls.append(button);
  }
}

/** @param {Message} message */
function messageItem(message) {
  const item = document.createElement('li');
  item.className = 'msg';
  item.dataset.id = String(message.id);
  const meta = document.createElement('div');
  meta.className = 'meta';
  const user = document.createElement('span');
  user.className = 'user';
  user.textContent = message.user;
  const time = document.createElement('time');
  time.dateTime = message.created_at;
  time.textContent = new Date(message.created_at).toLocaleTimeString();
  meta.append(user, time);
  const content = document.createElement('p');
  content.className = 'content';
  content.textContent = message.content;
  item.append(meta, content);
  return item;
}

function renderMessages() {
  const known = state.current === null ? undefined : state.messages.get(state.current);
  ui.messages.replaceChildren(...(known ?? []).map(messageItem));
  ui.messages.scrollTop = ui.messages.scrollHeight;
}

/**
 * Add messages from any transport; ids make a repeat harmless.
 * @param {Message[]} messages
 */
function receive(messages) {
  let touchedCurrent = false;
  for (const message of messages) {
    const known = state.messages.get(message.wall_id);
    if (!known || known.some((m) => m.id === message.id)) continue;
    known.push(message);
    state.lastIds.set(message.wall_id, Math.max(state.lastIds.get(message.wall_id) ?? 0, message.id));
    if (message.wall_id === state.current) touchedCurrent = true;
    else state.unread.set(message.wall_id, (state.unread.get(message.wall_id) ?? 0) + 1);
  }
  if (touchedCurrent) renderMessages();
  renderWalls();
}

/** @param {number | null} wallId */
function selectWall(wallId) {
  state.current = wallId;
  if (wallId !== null) state.unread.delete(wallId);
  const wall = state.walls.find((w) => w.id === wallId);
  ui.wallTitle.textContent = wall ? wall.name : 'No wall';
  renderWalls();
  renderMessages();
}

// ---- transports -------------------------------------------------------------
// Each one stops for good on an answer that says the client may not go on
// (see refusesClient) and hands over to `refused`; every other failure waits
// (Retry-After, else the backoff) before it tries again. Issue "Pollster in
// front of a real application": after DELETE /sessions the old loop sent
// ~950 polls in 3 s, each a 400.

function cursor() {
  return Math.max(0, ...state.lastIds.values());
}

/** Open streams that ended after at least this long were fine: reconnect without growing the backoff. */
const STREAM_WAS_HEALTHY_MS = 5000;

function startSse() {
  const controller = new AbortController();
  const { signal } = controller;
  const session = state.session;
  // EventSource cannot send a header: the credential goes in the query, a token as ?token=.
  const credentialParam = state.mode === 'jwt' ? 'token' : 'session_id';
  const backoff = new Backoff();
  /** @type {EventSource | null} */
  let source = null;

  const query = () => {
    const params = new URLSearchParams({ last_event_id: String(cursor()) });
    if (session) params.set(credentialParam, session);
    return `/check?${params}`;
  };

  const connect = () => {
    state.requests++;
    const stream = new EventSource(query());
    source = stream;
    let openedAt = 0;
    setStatus('Connecting by Server-Sent Events…');
    stream.addEventListener('open', () => {
      openedAt = Date.now();
      setStatus('Connected by Server-Sent Events.');
    });
    stream.addEventListener('refresh', (event) => {
      backoff.reset();
      receive(/** @type {RefreshEvent} */ (JSON.parse(event.data)).messages);
    });
    // EventSource retries a dropped stream by itself, forever, and gives up
    // silently on any non-200 answer without showing its status. So the page
    // closes it on every error, asks the server what went wrong, and
    // reconnects itself only when that makes sense.
    stream.addEventListener('error', () => {
      stream.close();
      if (openedAt && Date.now() - openedAt >= STREAM_WAS_HEALTHY_MS) backoff.reset();
      recover().catch((error) => setStatus(`Stream stopped: ${reason(error)}`));
    });
  };

  /**
   * `HEAD /check` runs the stream's own checks and opens no stream (docs/api.md),
   * so it tells a logged-out session (401) from a passing failure.
   * @returns {Promise<{ kind: 'go' } | { kind: 'refused' } | { kind: 'wait', ms: number }>}
   */
  const probe = async () => {
    try {
      state.requests++;
      const response = await fetch(query(), { method: 'HEAD', signal });
      if (response.ok) return { kind: 'go' };
      if (await refusesClient(response)) return { kind: 'refused' };
      return { kind: 'wait', ms: retryAfterMs(response) };
    } catch {
      return { kind: 'wait', ms: 0 };
    }
  };

  const recover = async () => {
    while (!signal.aborted) {
      setStatus('Stream closed; checking with the server…');
      const verdict = await probe();
      if (signal.aborted) return;
      if (verdict.kind === 'refused') {
        refused();
        return;
      }
      const waitMs = Math.max(verdict.kind === 'wait' ? verdict.ms : 0, backoff.next());
      setStatus(`Stream closed; reconnecting in ${seconds(waitMs)} s…`);
      await pause(waitMs, signal);
      if (signal.aborted) return;
      if (verdict.kind === 'go') {
        connect();
        return;
      }
    }
  };

  connect();
  return () => {
    controller.abort();
    source?.close();
  };
}

/** @param {number} timeoutMs @param {number} pauseMs */
function startPolling(timeoutMs, pauseMs) {
  const controller = new AbortController();
  const { signal } = controller;
  const session = state.session;
  const backoff = new Backoff();
  const kind = timeoutMs === 0 ? 'Short polling' : 'Long polling';
  setStatus(`${kind}: waiting for messages…`);
  (async () => {
    while (!signal.aborted) {
      let waitMs = 0;
      try {
        state.requests++;
        /** @type {PollRequest} */
        const body = { last_post_id: Object.fromEntries(state.lastIds), timeout_ms: timeoutMs };
        const response = await fetch('/poll', { method: 'POST', signal, headers: headersFor(session), body: JSON.stringify(body) });
        if (response.ok) {
          const data = /** @type {PollAnswer} */ (await response.json());
          receive(Object.values(data.walls).flatMap((wall) => wall.posts));
          backoff.reset();
          setStatus(`${kind}: ${state.requests} requests so far.`);
          waitMs = pauseMs;
        } else if (await refusesClient(response)) {
          if (!signal.aborted) refused();
          return;
        } else {
          waitMs = Math.max(retryAfterMs(response), backoff.next());
          setStatus(`Poll answered ${response.status}; retrying in ${seconds(waitMs)} s…`);
        }
      } catch (error) {
        // A network error, or an answer that is not the poll's JSON (a proxy's error page).
        if (signal.aborted) return;
        waitMs = backoff.next();
        setStatus(`Poll failed (${reason(error)}); retrying in ${seconds(waitMs)} s…`);
      }
      if (waitMs) await pause(waitMs, signal);
    }
  })();
  return () => controller.abort();
}

function startTransport() {
  state.stopTransport();
  state.stopTransport = () => {};
  state.requests = 0;
  if (state.walls.length === 0) return;
  const transport = ui.transport.value;
  state.stopTransport = transport === 'sse' ? startSse() : transport === 'long' ? startPolling(30_000, 0) : startPolling(0, 1000);
}

/** What to ask for when the credential stopped working: a new login, or (AUTH=jwt) a new token. */
function endedMessage() {
  return state.mode === 'jwt'
    ? 'Your token has expired or was refused. Paste a new token from your application.'
    : 'Your session has ended. Please log in again.';
}

/** The server will not serve this client any more: with a session, it has ended. */
function refused() {
  state.stopTransport();
  state.stopTransport = () => {};
  if (state.session) {
    loggedOut(endedMessage());
  } else {
    setStatus('No public wall to follow; log in to see your walls.');
  }
}

// ---- the two views: public walls, and a user's walls -------------------------

/**
 * Show `walls` with their history and follow them live.
 * @param {WallSummary[]} walls
 * @param {number} view
 */
async function show(walls, view) {
  const histories = await Promise.all(walls.map((wall) => history(wall.id)));
  if (view !== state.view) return;
  state.walls = walls;
  state.messages = new Map();
  state.lastIds = new Map();
  state.unread = new Map();
  walls.forEach((wall, index) => {
    const messages = histories[index]?.messages ?? [];
    state.messages.set(wall.id, messages);
    state.lastIds.set(wall.id, Math.max(wall.latest_message_id, ...messages.map((m) => m.id)));
  });
  selectWall(walls[0]?.id ?? null);
  startTransport();
}

/** Anyone may read the public walls (docs/api.md): the page shows them until someone logs in. */
async function showPublicWalls() {
  const view = state.view;
  const { walls } = await listWalls();
  if (view !== state.view) return;
  await show(walls, view);
  if (walls.length === 0) setStatus('Not connected: no public walls. Log in to see your walls.');
}

/** @param {boolean} enabled */
function enableCompose(enabled) {
  ui.content.disabled = !enabled;
  ui.post.disabled = !enabled;
}

/** @param {string} user */
async function login(user) {
  const view = ++state.view;
  state.stopTransport();
  state.stopTransport = () => {};
  state.session = null;
  const session = await createSession(user);
  if (view !== state.view) return;
  state.session = session.session_id;
  state.user = session.user;
  ui.loginPrompt.hidden = true;
  ui.whoami.textContent = `Logged in as ${state.user}`;
  enableCompose(true);
  await show(session.walls, view);
}

/**
 * The session is gone (logged out elsewhere, expired): drop it, ask for a new
 * login, and go back to the public walls meanwhile.
 * @param {string} message
 */
function loggedOut(message) {
  state.view++;
  state.stopTransport();
  state.stopTransport = () => {};
  state.session = null;
  state.user = null;
  ui.whoami.textContent = '';
  enableCompose(false);
  ui.loginPrompt.textContent = message;
  ui.loginPrompt.hidden = false;
  (state.mode === 'jwt' ? ui.token : ui.user).focus();
  setStatus(message);
  showPublicWalls().catch((error) => setStatus(`${message} (Public walls unavailable: ${reason(error)})`));
}

ui.login.addEventListener('submit', (event) => {
  event.preventDefault();
  login(ui.user.value).catch((error) => setStatus(`Login failed: ${reason(error)}`));
});

// ---- AUTH=jwt: the application's token instead of a user picker ---------------

/**
 * The `sub` of a token, for "Logged in as": shown only after the server
 * accepted the token (it verifies; the page only reads).
 * @param {string} token
 */
function subjectOf(token) {
  try {
    const payload = (token.split('.')[1] ?? '').replace(/-/g, '+').replace(/_/g, '/');
    const bytes = Uint8Array.from(atob(payload), (char) => char.charCodeAt(0));
    const sub = JSON.parse(new TextDecoder().decode(bytes)).sub;
    return typeof sub === 'string' ? sub : 'a token';
  } catch {
    return 'a token';
  }
}

/**
 * Use `token` as the credential of every request (`Authorization: Bearer`,
 * `?token=` on the stream) and follow its walls.
 * @param {string} token
 */
async function useToken(token) {
  const view = ++state.view;
  state.stopTransport();
  state.stopTransport = () => {};
  state.session = token;
  /** @type {WallsAnswer} */
  let answer;
  try {
    answer = /** @type {WallsAnswer} */ (await api('GET', '/walls'));
  } catch (error) {
    if (view !== state.view) return;
    state.session = null;
    if (error instanceof ApiError && error.status === 401) {
      loggedOut(`That token was refused (${error.message}). Paste a new token from your application.`);
      return;
    }
    throw error;
  }
  if (view !== state.view) return;
  state.user = subjectOf(token);
  ui.token.value = '';
  ui.loginPrompt.hidden = true;
  ui.whoami.textContent = `Logged in as ${state.user}`;
  enableCompose(true);
  await show(answer.walls, view);
}

/** `#token=…` in the address: taken once, then removed so it stays out of the history and of links copied from the bar. */
function takeTokenFromHash() {
  const token = new URLSearchParams(location.hash.slice(1)).get('token');
  if (token) window.history.replaceState(null, '', location.pathname + location.search);
  return token;
}

ui.tokenLogin.addEventListener('submit', (event) => {
  event.preventDefault();
  useToken(ui.token.value.trim()).catch((error) => setStatus(`Token not used: ${reason(error)}`));
});

window.addEventListener('hashchange', () => {
  if (state.mode !== 'jwt') return;
  const token = takeTokenFromHash();
  if (token) useToken(token).catch((error) => setStatus(`Token not used: ${reason(error)}`));
});

/** Learn the identity mode, show its login, and follow a token from the address or the public walls meanwhile. */
async function start() {
  // An older server has no /auth: it is the demo.
  const answer = /** @type {AuthAnswer} */ (await api('GET', '/auth').catch(() => ({ mode: 'demo' })));
  state.mode = answer.mode === 'jwt' ? 'jwt' : 'demo';
  ui.login.hidden = state.mode === 'jwt';
  ui.tokenLogin.hidden = state.mode !== 'jwt';
  const token = state.mode === 'jwt' ? takeTokenFromHash() : null;
  await (token ? useToken(token) : showPublicWalls());
}

ui.transport.addEventListener('change', startTransport);

ui.compose.addEventListener('submit', async (event) => {
  event.preventDefault();
  const content = ui.content.value.trim();
  if (!content || state.current === null) return;
  try {
    await postMessage(state.current, content);
    ui.content.value = '';
  } catch (error) {
    if (error instanceof ApiError && error.status === 401) loggedOut(endedMessage());
    else setStatus(`Post failed: ${reason(error)}`);
  }
});

ui.content.addEventListener('keydown', (event) => {
  if (event.key === 'Enter' && !event.shiftKey) {
    event.preventDefault();
    ui.compose.requestSubmit();
  }
});

start().catch((error) => setStatus(`Public walls unavailable: ${reason(error)}`));

// ---- live pool stats --------------------------------------------------------

const panel = {
  mode: $('#stat-mode', HTMLElement),
  threads: $('#stat-threads', HTMLElement),
  busy: $('#stat-busy', HTMLElement),
  held: $('#stat-held', HTMLElement),
  queued: $('#stat-queued', HTMLElement),
  polls: $('#stat-polls', HTMLElement),
  streams: $('#stat-streams', HTMLElement),
  completed: $('#stat-completed', HTMLElement),
  chartMax: $('#chart-max', Element),
  lineBusy: $('#line-busy', SVGPolylineElement),
  lineQueued: $('#line-queued', SVGPolylineElement),
};

/** @type {Array<{ busy: number, queued: number }>} */
const samples = [];
const SAMPLES = 60;

function drawChart() {
  const max = Math.max(1, ...samples.flatMap((s) => [s.busy, s.queued]));
  panel.chartMax.textContent = String(max);
  // Newest sample at the right edge, one step per second to the left.
  /** @param {number} i */
  const x = (i) => 240 - (samples.length - 1 - i) * (240 / (SAMPLES - 1));
  /** @param {'busy' | 'queued'} key */
  const points = (key) => samples.map((s, i) => `${x(i)},${100 - (s[key] / max) * 95}`).join(' ');
  panel.lineBusy.setAttribute('points', points('busy'));
  panel.lineQueued.setAttribute('points', points('queued'));
}

/** @type {ReturnType<typeof setInterval> | undefined} */
let statsTimer;

async function refreshStats() {
  try {
    const response = await fetch('/stats');
    // METRICS_TOKEN is set and the page has none: the panel stays empty, and asking again will not help.
    if (response.status === 401) {
      clearInterval(statsTimer);
      return;
    }
    const stats = /** @type {StatsAnswer} */ (await response.json());
    const pool = stats.pool;
    panel.mode.textContent = `${stats.mode}, ${stats.wake}`;
    panel.threads.textContent = `${pool.threads} of ${pool.max_threads}`;
    panel.busy.textContent = `${pool.busy} of ${pool.capacity}`;
    panel.held.textContent = String(pool.held_per_thread);
    panel.queued.textContent = String(pool.queued);
    panel.polls.textContent = String(stats.waiting_polls);
    panel.streams.textContent = String(stats.open_streams);
    panel.completed.textContent = String(pool.completed);
    samples.push({ busy: pool.busy, queued: pool.queued });
    if (samples.length > SAMPLES) samples.shift();
    drawChart();
  } catch {
    // The server may be restarting; the next tick tries again.
  }
}

refreshStats();
statsTimer = setInterval(refreshStats, 1000);
