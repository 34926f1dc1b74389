// Pollster's chat page: plain JavaScript, no build step. Messages are always
// rendered with textContent, never as HTML.

const $ = (selector) => document.querySelector(selector);

const state = {
  session: null,
  user: null,
  walls: [],
  current: null,
  /** wall id → messages received, oldest first */
  messages: new Map(),
  /** wall id → newest message id seen */
  lastIds: new Map(),
  unread: new Map(),
  transport: 'sse',
  stopTransport: () => {},
  requests: 0,
};

async function api(method, path, body) {
  const headers = { 'Content-Type': 'application/json' };
  if (state.session) headers.Authorization = `Bearer ${state.session}`;
  const response = await fetch(path, { method, headers, body: body === undefined ? undefined : JSON.stringify(body) });
  const data = await response.json().catch(() => ({}));
  if (!response.ok) throw new Error(data.errors?.join(', ') ?? `HTTP ${response.status}`);
  return data;
}

function setStatus(text) {
  $('#status').textContent = text;
}

// ---- rendering --------------------------------------------------------------

function renderWalls() {
  const nav = $('#walls');
  nav.replaceChildren();
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
    nav.append(button);
  }
}

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
  const list = $('#messages');
  list.replaceChildren(...(state.messages.get(state.current) ?? []).map(messageItem));
  list.scrollTop = list.scrollHeight;
}

/** Add messages from any transport; ids make a repeat harmless. */
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

async function selectWall(wallId) {
  state.current = wallId;
  state.unread.delete(wallId);
  const wall = state.walls.find((w) => w.id === wallId);
  $('#wall-title').textContent = wall ? wall.name : 'No wall';
  renderWalls();
  renderMessages();
}

// ---- transports -------------------------------------------------------------

function cursor() {
  return Math.max(0, ...state.lastIds.values());
}

function startSse() {
  const params = new URLSearchParams({ session_id: state.session, last_event_id: String(cursor()) });
  const source = new EventSource(`/check?${params}`);
  setStatus('Connecting by Server-Sent Events…');
  source.addEventListener('open', () => setStatus('Connected by Server-Sent Events.'));
  source.addEventListener('refresh', (event) => receive(JSON.parse(event.data).messages));
  source.addEventListener('error', () => setStatus('Stream closed; the browser reconnects with its last event id…'));
  return () => source.close();
}

function startPolling(timeoutMs, pauseMs) {
  const controller = new AbortController();
  const kind = timeoutMs === 0 ? 'Short polling' : 'Long polling';
  setStatus(`${kind}: waiting for messages…`);
  (async () => {
    while (!controller.signal.aborted) {
      try {
        state.requests++;
        const response = await fetch('/poll', {
          method: 'POST',
          signal: controller.signal,
          headers: { 'Content-Type': 'application/json', Authorization: `Bearer ${state.session}` },
          body: JSON.stringify({ last_post_id: Object.fromEntries(state.lastIds), timeout_ms: timeoutMs }),
        });
        if (response.status === 503) throw new Error('server busy');
        const data = await response.json();
        receive(Object.values(data.walls ?? {}).flatMap((wall) => wall.posts));
        setStatus(`${kind}: ${state.requests} requests so far.`);
        if (pauseMs) await new Promise((resolve) => setTimeout(resolve, pauseMs));
      } catch (error) {
        if (controller.signal.aborted) return;
        setStatus(`Poll failed (${error.message}); retrying…`);
        await new Promise((resolve) => setTimeout(resolve, 1000));
      }
    }
  })();
  return () => controller.abort();
}

function startTransport() {
  state.stopTransport();
  state.requests = 0;
  if (!state.session) return;
  state.transport = $('#transport').value;
  state.stopTransport =
    state.transport === 'sse' ? startSse() : state.transport === 'long' ? startPolling(30_000, 0) : startPolling(0, 1000);
}

// ---- login and posting ------------------------------------------------------

async function login(user) {
  state.stopTransport();
  state.session = null;
  const session = await api('POST', '/sessions', { user });
  state.session = session.session_id;
  state.user = session.user;
  state.walls = session.walls;
  state.messages = new Map();
  state.lastIds = new Map();
  state.unread = new Map();
  await Promise.all(
    state.walls.map(async (wall) => {
      const { messages } = await api('GET', `/walls/${wall.id}/messages?limit=500`);
      state.messages.set(wall.id, messages);
      state.lastIds.set(wall.id, Math.max(wall.latest_message_id, ...messages.map((m) => m.id)));
    }),
  );
  $('#whoami').textContent = `Logged in as ${state.user}`;
  for (const control of $('#compose').elements) control.disabled = false;
  await selectWall(state.walls[0]?.id ?? null);
  startTransport();
}

$('#login').addEventListener('submit', (event) => {
  event.preventDefault();
  login(new FormData(event.target).get('user')).catch((error) => setStatus(`Login failed: ${error.message}`));
});

$('#transport').addEventListener('change', startTransport);

$('#compose').addEventListener('submit', async (event) => {
  event.preventDefault();
  const field = event.target.elements.content;
  const content = field.value.trim();
  if (!content || state.current === null) return;
  try {
    await api('POST', `/walls/${state.current}/messages`, { content });
    field.value = '';
  } catch (error) {
    setStatus(`Post failed: ${error.message}`);
  }
});

$('#compose textarea').addEventListener('keydown', (event) => {
  if (event.key === 'Enter' && !event.shiftKey) {
    event.preventDefault();
    $('#compose').requestSubmit();
  }
});

// ---- live pool stats --------------------------------------------------------

const samples = [];
const SAMPLES = 60;

function drawChart() {
  const max = Math.max(1, ...samples.flatMap((s) => [s.busy, s.queued]));
  $('#chart-max').textContent = String(max);
  // Newest sample at the right edge, one step per second to the left.
  const x = (i) => 240 - (samples.length - 1 - i) * (240 / (SAMPLES - 1));
  const points = (key) => samples.map((s, i) => `${x(i)},${100 - (s[key] / max) * 95}`).join(' ');
  $('#line-busy').setAttribute('points', points('busy'));
  $('#line-queued').setAttribute('points', points('queued'));
}

async function refreshStats() {
  try {
    const stats = await (await fetch('/stats')).json();
    const pool = stats.pool;
    $('#stat-mode').textContent = `${stats.mode}, ${stats.wake}`;
    $('#stat-threads').textContent = `${pool.threads} of ${pool.max_threads}`;
    $('#stat-busy').textContent = `${pool.busy} of ${pool.capacity}`;
    $('#stat-held').textContent = String(pool.held_per_thread);
    $('#stat-queued').textContent = String(pool.queued);
    $('#stat-polls').textContent = String(stats.waiting_polls);
    $('#stat-streams').textContent = String(stats.open_streams);
    $('#stat-completed').textContent = String(pool.completed);
    samples.push({ busy: pool.busy, queued: pool.queued });
    if (samples.length > SAMPLES) samples.shift();
    drawChart();
  } catch {
    // The server may be restarting; the next tick tries again.
  }
}

refreshStats();
setInterval(refreshStats, 1000);
