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
      await page.goto(`${server.url}/docs/`, { waitUntil: 'domcontentloaded' });
      await page.getByText('Create a record in Orders (queued)').first().waitFor({ timeout: 30_000 });
      const text = await page.locator('body').innerText();
      assert.match(text, /Gatehouse data API \(test\)/);
      assert.match(text, /List Orders, newest first/);
      await page.screenshot({ path: shot });
      assert.ok(statSync(shot).size > 10_000, 'the screenshot is empty');
    } finally {
      await browser.close();
    }
  });
});
