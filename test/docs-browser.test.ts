import assert from 'node:assert/strict';
import { existsSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { chromium } from 'playwright-core';
import { ordersSchema, startTestServer, type TestServer } from './helpers/server.ts';

const CHROMIUM = '/usr/bin/chromium';

/** /docs renders in a real browser: the endpoint's operations are on the page. */
describe('/docs in a real browser', {
  skip: existsSync(CHROMIUM) ? false : `${CHROMIUM} is not installed (.ci/run installs it)`,
}, () => {
  let server: TestServer;
  const shot = join(tmpdir(), `gatehouse-docs-${process.pid}.png`);

  before(async () => {
    server = await startTestServer('sqlite');
    await server.createEndpoint({ slug: 'orders', name: 'Orders', schema: ordersSchema });
  });
  after(async () => {
    await server.close();
    if (!process.env.KEEP_SCREENSHOT) rmSync(shot, { force: true });
  });

  test('the reference lists the endpoint operations and the servers', async () => {
    const browser = await chromium.launch({
      executablePath: CHROMIUM,
      args: [
        '--headless',
        '--no-sandbox',
        '--disable-gpu',
        '--disable-quic',
        '--no-first-run',
        '--disable-background-networking',
        '--disable-component-update',
        '--disable-sync',
      ],
    });
    try {
      const page = await browser.newPage({ viewport: { width: 1280, height: 900 } });
      const refused: string[] = [];
      const deprecated: string[] = [];
      const errors: string[] = [];
      page.on('console', (message) => {
        if (/Content Security Policy/i.test(message.text())) refused.push(message.text());
        if (/deprecated/i.test(message.text())) deprecated.push(message.text());
        if (message.type() === 'error') errors.push(`${message.text()} ${message.location().url}`);
      });
      const response = await page.goto(`${server.url}/docs/`, { waitUntil: 'domcontentloaded' });
      // Same origin as the dashboard: not framable, only its own scripts.
      const headers = response?.headers() ?? {};
      assert.equal(headers['x-frame-options'], 'DENY');
      assert.match(headers['content-security-policy'] ?? '', /frame-ancestors 'none'/);
      assert.match(headers['content-security-policy'] ?? '', /script-src 'self' 'sha256-/);
      await page.getByText('Create a record in Orders (queued)').first().waitFor({ timeout: 30_000 });
      const text = await page.locator('body').innerText();
      assert.match(text, /Gatehouse data API \(test\)/);
      assert.match(text, /List Orders, newest first/);
      assert.doesNotMatch(text, /needs JavaScript/);
      assert.deepEqual(refused, [], 'the page works within its policy');
      // A partner opening the console sees no warning about the page's own configuration.
      assert.deepEqual(deprecated, [], 'the page is configured with current options');
      // Named for what it is, and without Scalar's hosted services on a self-hosted page.
      assert.equal(await page.title(), 'Gatehouse API reference');
      for (const hosted of ['Ask AI', 'Generate MCP']) {
        assert.equal(await page.getByText(hosted).count(), 0, hosted);
      }
      await page.screenshot({ path: shot });
      assert.ok(statSync(shot).size > 10_000, 'the screenshot is empty');
      // Nor an error: without an icon named, the browser asked for /favicon.ico and logged its 404.
      await page.waitForLoadState('load');
      assert.deepEqual(errors, [], 'the page loads without errors');

      // JavaScript off: not an empty page, but the operations and where the document is.
      const plain = await browser.newContext({ javaScriptEnabled: false });
      const noScript = await plain.newPage();
      await noScript.goto(`${server.url}/docs/`, { waitUntil: 'load' });
      assert.equal(await noScript.title(), 'Gatehouse API reference');
      const shown = (await noScript.locator('body').textContent()) ?? '';
      assert.match(shown, /needs JavaScript/);
      assert.match(shown, /POST \/api\/v1\/data\/orders Create a record in Orders \(queued\)/);
      assert.match(shown, /GET \/api\/v1\/data\/orders\/\{record_id\} Get a record of Orders/);
      const link = noScript.getByRole('link', { name: '/docs/openapi.json' });
      assert.equal(await link.getAttribute('href'), '/docs/openapi.json');
      await plain.close();
    } finally {
      await browser.close();
    }
  });
});
