/**
 * The page in a real browser: Debian's Chromium driven by playwright-core.
 * `.ci/run` installs chromium with apt; without it this test fails with a
 * message saying so rather than skipping.
 */
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import type { Page } from 'playwright-core';
import { describe, expect, it } from 'vitest';
import { launchChromium } from './helpers/chromium.js';
import { postFromCli } from './helpers/cli.js';
import { eventually, startTestServer, tempDir, type TestServer } from './helpers/server.js';

async function openPage(server: TestServer): Promise<Page> {
  const browser = await launchChromium();
  const page = await browser.newPage({ viewport: { width: 1280, height: 800 } });
  page.setDefaultTimeout(5000);
  await page.goto(server.url);
  return page;
}

async function expectMessage(page: Page, content: string): Promise<void> {
  await page.locator('#messages .content', { hasText: content }).waitFor();
}

describe('the chat page in Chromium', () => {
  it('logs in, shows history, and receives messages live by SSE, long polling and short polling', async () => {
    const server = await startTestServer();
    const page = await openPage(server);
    await page.selectOption('#login select', 'demo');
    await page.click('#login button');
    await page.locator('#whoami', { hasText: 'Logged in as demo' }).waitFor();
    await expectMessage(page, 'Welcome to Pollster!');
    await page.locator('#status', { hasText: 'Connected by Server-Sent Events' }).waitFor();
    await eventually(() => server.pollster.stats().open_streams === 1);

    const writer = await server.login('alice');
    await server.call('POST', '/walls/1/messages', { session: writer, body: { content: 'over SSE <b>not bold</b>' } });
    await expectMessage(page, 'over SSE <b>not bold</b>');
    expect(await page.locator('#messages b').count()).toBe(0);

    expect((await postFromCli(server.dbPath, ['--wall', '1', '--user', 'demo', 'from the console'])).code).toBe(0);
    await expectMessage(page, 'from the console');

    await page.selectOption('#transport', 'long');
    await page.locator('#status', { hasText: 'Long polling' }).waitFor();
    await eventually(() => server.pollster.stats().open_streams === 0 && server.pollster.stats().waiting_polls === 1);
    await server.call('POST', '/walls/1/messages', { session: writer, body: { content: 'over a long poll' } });
    await expectMessage(page, 'over a long poll');

    await page.selectOption('#transport', 'short');
    await page.locator('#status', { hasText: 'Short polling' }).waitFor();
    await server.call('POST', '/walls/1/messages', { session: writer, body: { content: 'over a short poll' } });
    await expectMessage(page, 'over a short poll');

    // Posting from the page itself.
    await page.fill('#compose textarea', 'typed in the page');
    await page.click('#compose button');
    await expectMessage(page, 'typed in the page');

    await page.locator('#stat-mode', { hasText: 'pool, notify' }).waitFor();
    const screenshot = join(tempDir('pollster-screenshot-'), 'chat.png');
    await page.screenshot({ path: screenshot });
    expect(existsSync(screenshot)).toBe(true);
  });
});
