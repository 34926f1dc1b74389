/**
 * Before anyone logs in, the page shows the public walls — their history, and
 * new posts live by whichever transport is chosen — since GET /walls,
 * GET /walls/:id/messages, POST /poll and GET /check all serve public walls
 * without a session (docs/api.md). Private walls stay out of sight.
 */
import { expect, it } from 'vitest';
import { launchChromium } from './helpers/chromium.js';
import { eventually, startTestServer } from './helpers/server.js';

it.each(['sse', 'long', 'short'] as const)('shows the public walls before login, live by %s', async (transport) => {
  const server = await startTestServer();
  const browser = await launchChromium();
  const page = await browser.newPage();
  page.setDefaultTimeout(5000);
  await page.goto(server.url);

  await page.locator('#messages .content', { hasText: 'Welcome to Pollster!' }).waitFor();
  expect(await page.locator('#walls button').allTextContents()).toEqual(['General']);
  expect(await page.locator('#wall-title').textContent()).toBe('General');
  expect(await page.locator('#whoami').textContent()).toBe('');
  expect(await page.locator('#compose textarea').isDisabled()).toBe(true);

  if (transport === 'sse') {
    await eventually(() => server.pollster.stats().open_streams === 1);
  } else {
    await page.selectOption('#transport', transport);
    await page.locator('#status', { hasText: transport === 'long' ? 'Long polling' : 'Short polling' }).waitFor();
    if (transport === 'long') await eventually(() => server.pollster.stats().waiting_polls === 1);
  }
  const alice = await server.login('alice');
  const bob = await server.login('bob');
  await server.call('POST', '/walls/2/messages', { session: bob, body: { content: 'on a private wall' } });
  await server.call('POST', '/walls/1/messages', { session: alice, body: { content: `public, by ${transport}` } });
  await page.locator('#messages .content', { hasText: `public, by ${transport}` }).waitFor();
  expect(await page.locator('#messages .content').allTextContents()).not.toContain('on a private wall');
  expect(await page.locator('#walls button').allTextContents()).toEqual(['General']);
});
