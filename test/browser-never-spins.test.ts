/**
 * The chat page never spins (issue "Pollster in front of a real application"):
 * after DELETE /sessions the old page sent ~950 `POST /poll` in 3 s, each a
 * 400, because its loop retried at once on every answer but 503. Now a
 * refused session stops the transport and asks for a new login, Retry-After
 * is waited out, and every other failure backs off exponentially.
 */
import type { Page, Request, Route } from 'playwright-core';
import { describe, expect, it } from 'vitest';
import { launchChromium } from './helpers/chromium.js';
import { eventually, startTestServer, type TestServer } from './helpers/server.js';

async function newPage(): Promise<Page> {
  const browser = await launchChromium();
  const page = await browser.newPage({ viewport: { width: 1280, height: 800 } });
  page.setDefaultTimeout(5000);
  return page;
}

/** Logs `user` in on the page and returns the session id the page got. */
async function logIn(page: Page, user = 'demo'): Promise<string> {
  const answer = page.waitForResponse(
    (response) => response.request().method() === 'POST' && new URL(response.url()).pathname === '/sessions',
  );
  await page.selectOption('#login select', user);
  await page.click('#login button');
  await page.locator('#whoami', { hasText: `Logged in as ${user}` }).waitFor();
  // The user's walls drawn (demo has four, the public view one): the page has
  // started its transport for them, so a test that switches transport next
  // does not race the login's own start (a poll restarted 12 ms later).
  await page.locator('#walls button').nth(1).waitFor();
  return ((await (await answer).json()) as { session_id: string }).session_id;
}

/** The pool panel asks for /stats once a second whatever happens: not part of the count. */
const isStatsTick = (request: Request) => new URL(request.url()).pathname === '/stats';

async function follow(page: Page, server: TestServer, transport: 'sse' | 'long'): Promise<void> {
  if (transport === 'sse') {
    await page.locator('#status', { hasText: 'Connected by Server-Sent Events' }).waitFor();
    await eventually(() => server.pollster.stats().open_streams === 1);
  } else {
    await page.selectOption('#transport', 'long');
    await eventually(() => server.pollster.stats().open_streams === 0 && server.pollster.stats().waiting_polls === 1);
  }
}

describe.each([
  ['long polling', 'long'],
  ['Server-Sent Events', 'sse'],
] as const)('the page after DELETE /sessions, by %s', (_, transport) => {
  it('stops, asks to log in again, and sends at most a few requests in the next 5 s', async () => {
    const server = await startTestServer();
    const page = await newPage();
    await page.goto(server.url);
    const session = await logIn(page);
    await follow(page, server, transport);

    const sent: string[] = [];
    page.on('request', (request) => {
      if (!isStatsTick(request)) sent.push(`${request.method()} ${new URL(request.url()).pathname}`);
    });
    expect((await server.call('DELETE', '/sessions', { session })).status).toBe(204);
    await page.waitForTimeout(5000);

    // The session check, then the public walls again: their list, history and one live request.
    expect(sent.length, sent.join('\n')).toBeLessThanOrEqual(5);
    await page.locator('#login-prompt', { hasText: 'Please log in again' }).waitFor();
    expect(await page.locator('#whoami').textContent()).toBe('');
    expect(await page.locator('#compose textarea').isDisabled()).toBe(true);
    expect(await page.locator('#walls button').allTextContents()).toEqual(['General']);
  });
});

describe('answers the page cannot use', () => {
  it.each([503, 429])('waits out Retry-After: 2 on a %i before it polls again', async (status) => {
    const server = await startTestServer();
    const page = await newPage();
    const polls: number[] = [];
    await page.route(
      (url) => url.pathname === '/poll',
      async (route) => {
        // Only the logged-in page's polls: before login it may already follow the public walls.
        if (!route.request().headers().authorization) {
          await route.continue();
          return;
        }
        polls.push(Date.now());
        if (polls.length <= 2) {
          await route.fulfill({
            status,
            headers: { 'Retry-After': '2' },
            contentType: 'application/json',
            body: '{"errors":["Server busy"]}',
          });
        } else {
          await route.continue();
        }
      },
    );
    await page.goto(server.url);
    await logIn(page);
    await page.selectOption('#transport', 'long');
    await eventually(() => polls.length >= 3, 10_000);
    const gaps = polls.slice(1).map((at, index) => at - polls[index]!);
    expect(gaps[0]).toBeGreaterThanOrEqual(1950);
    expect(gaps[1]).toBeGreaterThanOrEqual(1950);
    await eventually(() => server.pollster.stats().waiting_polls === 1);
    expect(polls).toHaveLength(3);
  });

  it('backs off exponentially on errors, network failures and 502s, and starts again from 1 s after a good answer', async () => {
    const server = await startTestServer();
    const page = await newPage();
    const polls: number[] = [];
    const answers: Array<(route: Route) => Promise<void>> = [
      (route) => route.fulfill({ status: 502, contentType: 'text/html', body: '<h1>502 Bad Gateway</h1>' }),
      (route) => route.abort('connectionrefused'),
      (route) => route.fulfill({ status: 500, contentType: 'application/json', body: '{"errors":["Internal error"]}' }),
      (route) => route.fulfill({ status: 200, contentType: 'application/json', body: '{"walls":{}}' }),
      (route) => route.fulfill({ status: 404, contentType: 'application/json', body: '{"errors":["Not found"]}' }),
    ];
    await page.route(
      (url) => url.pathname === '/poll',
      async (route) => {
        // Only the logged-in page's polls: before login it may already follow the public walls.
        if (!route.request().headers().authorization) {
          await route.continue();
          return;
        }
        polls.push(Date.now());
        await (answers[polls.length - 1] ?? ((r) => r.continue()))(route);
      },
    );
    await page.goto(server.url);
    await logIn(page);
    await page.selectOption('#transport', 'long');
    await eventually(() => polls.length >= 6, 15_000);
    await eventually(() => server.pollster.stats().waiting_polls === 1);
    const [afterFirst, afterSecond, afterThird, afterGood, afterReset] = polls.slice(1).map((at, index) => at - polls[index]!);
    // Jittered halves of 1 s, 2 s and 4 s: each wait at least as long as the one before.
    expect(afterFirst).toBeGreaterThanOrEqual(450);
    expect(afterSecond).toBeGreaterThanOrEqual(Math.max(950, afterFirst!));
    expect(afterThird).toBeGreaterThanOrEqual(Math.max(1950, afterSecond!));
    // A good long-poll answer: poll again at once, and the next failure waits 0.5–1 s, not 4–8 s.
    expect(afterGood).toBeLessThan(400);
    expect(afterReset).toBeGreaterThanOrEqual(450);
    expect(afterReset).toBeLessThan(1500);
    expect(polls).toHaveLength(6);
  });

  it('reconnects the stream after a proxy answers /check with 502s, backing off between tries', async () => {
    const server = await startTestServer();
    const page = await newPage();
    const tries: number[] = [];
    // Only the logged-in stream: GET /check with the session (not the public stream, nor the HEAD probe).
    await page.route(
      (url) => url.pathname === '/check' && url.searchParams.has('session_id'),
      async (route) => {
        if (route.request().method() !== 'GET') return route.continue();
        tries.push(Date.now());
        if (tries.length <= 2) await route.fulfill({ status: 502, contentType: 'text/html', body: '<h1>502 Bad Gateway</h1>' });
        else await route.continue();
      },
    );
    await page.goto(server.url);
    await logIn(page);
    await page.locator('#status', { hasText: 'Connected by Server-Sent Events' }).waitFor({ timeout: 10_000 });
    await eventually(() => server.pollster.stats().open_streams === 1);
    const writer = await server.login('alice');
    await server.call('POST', '/walls/1/messages', { session: writer, body: { content: 'after the 502s' } });
    await page.locator('#messages .content', { hasText: 'after the 502s' }).waitFor();
    expect(tries).toHaveLength(3);
    expect(tries[1]! - tries[0]!).toBeGreaterThanOrEqual(450);
    expect(tries[2]! - tries[1]!).toBeGreaterThanOrEqual(950);
  });
});
