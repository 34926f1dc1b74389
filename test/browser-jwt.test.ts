/**
 * The chat page with AUTH=jwt, in Chromium: it learns the mode from
 * GET /auth, shows a token field instead of the user picker, takes a token
 * given as `#token=` (and drops it from the address), follows the token's
 * walls live, and when the token ends asks for a new one; a new token picks
 * up everything posted meanwhile.
 */
import type { Page } from 'playwright-core';
import { describe, expect, it } from 'vitest';
import { launchChromium } from './helpers/chromium.js';
import { claims, hs256, SECRET } from './helpers/jwt.js';
import { eventually, startTestServer, type TestServer } from './helpers/server.js';

async function newPage(): Promise<Page> {
  const browser = await launchChromium();
  const page = await browser.newPage({ viewport: { width: 1280, height: 800 } });
  page.setDefaultTimeout(8000);
  return page;
}

const startJwt = (extra: Record<string, string> = {}) => startTestServer({ AUTH: 'jwt', JWT_SECRET: SECRET, ...extra });

async function postAs(server: TestServer, sub: string, wall: number, content: string): Promise<void> {
  const reply = await server.call('POST', `/walls/${wall}/messages`, {
    headers: { authorization: `Bearer ${hs256(claims(sub))}` },
    body: { content },
  });
  expect(reply.status).toBe(201);
}

describe('the page with AUTH=jwt', () => {
  it("takes #token=, shows the token's walls, posts and receives live", async () => {
    const server = await startJwt();
    const page = await newPage();
    const token = hs256(claims('carol', 300, { walls: [2] }));
    await page.goto(`${server.url}/#token=${token}`);
    await page.locator('#whoami', { hasText: 'Logged in as carol' }).waitFor();
    expect(await page.locator('#login').isHidden()).toBe(true);
    expect(await page.locator('#token-login').isVisible()).toBe(true);
    // The token leaves the address bar (and the history) once taken.
    expect(page.url()).toBe(`${server.url}/`);
    expect(await page.locator('#walls button').allTextContents()).toEqual(['Ruby']);
    await page.locator('#status', { hasText: 'Connected by Server-Sent Events' }).waitFor();
    await eventually(() => server.pollster.stats().open_streams === 1);

    await page.fill('#compose textarea', 'from the page');
    await page.click('#compose button');
    await page.locator('#messages .msg', { hasText: 'from the page' }).waitFor();
    expect(await page.locator('#messages .msg .user').last().textContent()).toBe('carol');
    await postAs(server, 'bob', 2, 'from bob, live');
    await page.locator('#messages .msg', { hasText: 'from bob, live' }).waitFor();
  });

  it('asks for a new token when its token ends, and a new one brings what was posted meanwhile', async () => {
    const server = await startJwt({ JWT_CLOCK_SKEW_S: '0' });
    const page = await newPage();
    const exp = Math.ceil(Date.now() / 1000) + 3;
    await page.goto(`${server.url}/#token=${hs256({ sub: 'demo', exp })}`);
    await page.locator('#whoami', { hasText: 'Logged in as demo' }).waitFor();
    await page.locator('#status', { hasText: 'Connected by Server-Sent Events' }).waitFor();

    await page.locator('#login-prompt', { hasText: 'Paste a new token' }).waitFor({ timeout: 10_000 });
    expect(Date.now()).toBeGreaterThanOrEqual(exp * 1000);
    expect(await page.locator('#whoami').textContent()).toBe('');
    expect(await page.locator('#compose textarea').isDisabled()).toBe(true);
    // Meanwhile it follows the public walls.
    await page.locator('#walls button', { hasText: 'General' }).waitFor();
    expect(await page.locator('#walls button').allTextContents()).toEqual(['General']);

    await postAs(server, 'alice', 1, 'posted while the page had no token');
    // The application hands the page a new token the way it gave the first.
    await page.goto(`${server.url}/#token=${hs256(claims('demo'))}`);
    await page.locator('#whoami', { hasText: 'Logged in as demo' }).waitFor();
    expect(await page.locator('#login-prompt').isHidden()).toBe(true);
    await page.locator('#messages .msg', { hasText: 'posted while the page had no token' }).waitFor();
    await postAs(server, 'alice', 1, 'and live again');
    await page.locator('#messages .msg', { hasText: 'and live again' }).waitFor();
  });

  it('says a pasted token was refused, and follows the public walls', async () => {
    const server = await startJwt();
    const page = await newPage();
    await page.goto(server.url);
    await page.locator('#walls button', { hasText: 'General' }).waitFor();
    await page.fill('#token-login input', hs256(claims('carol'), 'not the secret, but just as long as one'));
    await page.click('#token-login button');
    await page.locator('#login-prompt', { hasText: 'That token was refused (Invalid token)' }).waitFor();
    expect(await page.locator('#whoami').textContent()).toBe('');
    await page.fill('#token-login input', hs256(claims('carol')));
    await page.click('#token-login button');
    await page.locator('#whoami', { hasText: 'Logged in as carol' }).waitFor();
  });

  it('in demo mode keeps the user picker and no token field', async () => {
    const server = await startTestServer();
    const page = await newPage();
    await page.goto(server.url);
    await page.locator('#walls button', { hasText: 'General' }).waitFor();
    expect(await page.locator('#login').isVisible()).toBe(true);
    expect(await page.locator('#token-login').isHidden()).toBe(true);
  });
});
