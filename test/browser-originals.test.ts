/**
 * The originals, in a real browser: pages written the way the originals' clients
 * were — the real jQuery from npm doing `$.get('/')` and a form-encoded
 * `$.post('/')` long-poll loop; the Rails page's bare `new EventSource('/check')`
 * — run in Debian's Chromium against Pollster, unchanged.
 *
 * The fixture pages and jQuery are served by the browser itself (Playwright
 * routes for `/__fixtures__/` on Pollster's origin), so the pages' relative
 * URLs reach the real server, no CORS is involved, and Pollster ships neither
 * jQuery nor a test route.
 */
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import type { Page } from 'playwright-core';
import { describe, expect, it } from 'vitest';
import { launchChromium } from './helpers/chromium.js';
import { postFromCli } from './helpers/cli.js';
import { eventually, startTestServer, type TestServer } from './helpers/server.js';

const FIXTURES: Record<string, { file: string; type: string }> = {
  'sinatra-client.html': { file: '../test/fixtures/originals/sinatra-client.html', type: 'text/html' },
  'rails-client.html': { file: '../test/fixtures/originals/rails-client.html', type: 'text/html' },
  'jquery.js': { file: '../node_modules/jquery/dist/jquery.min.js', type: 'text/javascript' },
};

async function openFixture(server: TestServer, name: string): Promise<Page> {
  const browser = await launchChromium();
  const page = await browser.newPage();
  page.setDefaultTimeout(5000);
  await page.route(`${server.url}/__fixtures__/*`, (route) => {
    const fixture = FIXTURES[new URL(route.request().url()).pathname.slice('/__fixtures__/'.length)];
    if (!fixture) return route.fulfill({ status: 404 });
    return route.fulfill({
      contentType: `${fixture.type}; charset=utf-8`,
      body: readFileSync(fileURLToPath(new URL(fixture.file, import.meta.url))),
    });
  });
  await page.goto(`${server.url}/__fixtures__/${name}`);
  return page;
}

describe("the originals' own clients in Chromium", () => {
  it("jQuery: $.get('/') acks, and a form-encoded $.post('/') long-poll loop gets another client's post and a CLI write", async () => {
    const server = await startTestServer();
    const page = await openFixture(server, 'sinatra-client.html');
    const polls: Array<{ contentType: string | undefined; body: string | null }> = [];
    page.on('request', (request) => {
      if (request.method() === 'POST' && new URL(request.url()).pathname === '/') {
        polls.push({ contentType: request.headers()['content-type'], body: request.postData() });
      }
    });
    await page.locator('#ack', { hasText: 'huzzah!' }).waitFor();
    await eventually(() => server.pollster.stats().waiting_polls === 1);

    const writer = await server.login('bob');
    await server.call('POST', '/walls/2/messages', { session: writer, body: { content: 'from another client' } });
    await page.locator('#posts li', { hasText: 'from another client' }).waitFor();

    expect((await postFromCli(server.dbPath, ['--wall', '1', '--user', 'demo', 'from the console'])).code).toBe(0);
    await page.locator('#posts li', { hasText: 'from the console' }).waitFor();

    // It really was jQuery's form encoding of the nested hash, not JSON.
    expect(polls[0]?.contentType).toBe('application/x-www-form-urlencoded; charset=UTF-8');
    expect(polls[0]?.body).toMatch(
      /^session_id=[\w-]+&last_post_id%5B1%5D=\d+&last_post_id%5B2%5D=\d+&last_post_id%5B3%5D=\d+&last_post_id%5B4%5D=\d+$/,
    );
    expect(await page.locator('#posts li').allTextContents()).toEqual(['from another client', 'from the console']);
  });

  it("Rails: a bare new EventSource('/check') gets public posts from another client and the CLI, and nothing private", async () => {
    const server = await startTestServer();
    const page = await openFixture(server, 'rails-client.html');
    await eventually(() => server.pollster.stats().open_streams === 1);

    const writer = await server.login('demo');
    await server.call('POST', '/walls/2/messages', { session: writer, body: { content: 'private: never shown' } });
    await server.call('POST', '/walls/1/messages', { session: writer, body: { content: 'from another client' } });
    await page.locator('#messages li', { hasText: 'from another client' }).waitFor();

    expect((await postFromCli(server.dbPath, ['--wall', '3', '--user', 'bob', 'private: also never shown'])).code).toBe(0);
    expect((await postFromCli(server.dbPath, ['--wall', '1', '--user', 'alice', 'from the console'])).code).toBe(0);
    await page.locator('#messages li', { hasText: 'from the console' }).waitFor();

    expect(await page.locator('#messages li').allTextContents()).toEqual(['from another client', 'from the console']);
  });
});
