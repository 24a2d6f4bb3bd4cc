import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import type { Page } from 'playwright-core';
import {
  type Browser,
  ensureDashboardBuilt,
  NEEDS_CHROMIUM,
  ownerBrowser,
} from './helpers/dashboard-browser.ts';
import { ordersSchema, startTestServer, type TestServer } from './helpers/server.ts';
import { until } from './helpers/until.ts';

/** The Usage page's "Requests" figure, as shown. */
async function requestsShown(page: Page): Promise<number> {
  await page.getByTestId('usage-charts').waitFor();
  return Number((await page.getByTestId('stat-Requests').textContent())?.replace(/\D/g, ''));
}

/**
 * Production and sandbox traffic apart: the Usage page counts live keys' requests unless the owner
 * picks Sandbox or Both, and the Endpoints page's traffic column counts production only, saying so.
 */
describe('dashboard usage per environment in a real browser', NEEDS_CHROMIUM, () => {
  let server: TestServer;
  let browser: Browser | undefined;
  let page: Page;

  /** `count` records written to orders with `key`, each answered 202. */
  async function write(on: TestServer, key: string, count: number): Promise<void> {
    for (let i = 0; i < count; i++) {
      const written = await on.request('POST', '/api/v1/data/orders', {
        key,
        json: { order_id: `O-${i}`, amount: i },
      });
      assert.equal(written.status, 202, written.text);
    }
  }

  before(async () => {
    ensureDashboardBuilt();
    server = await startTestServer('sqlite');
    await server.createEndpoint({ slug: 'orders', name: 'Orders', schema: ordersSchema });
    assert.equal((await server.admin('POST', '/admin/v1/endpoints/orders/deploy')).status, 201);
    const live = await server.createKey({ name: 'shop-live', environment: 'live' });
    const sandbox = await server.createKey({ name: 'shop-sandbox', environment: 'test' });
    // 3 production requests, 5 sandbox ones (one of them refused: 400).
    await write(server, live.key, 3);
    await write(server, sandbox.key, 4);
    const refused = await server.request('POST', '/api/v1/data/orders', { key: sandbox.key, json: {} });
    assert.equal(refused.status, 400, refused.text);
    browser = await ownerBrowser(server.url);
    page = browser.page;
  });
  after(async () => {
    await browser?.close();
    await server?.close();
  });

  test('the Usage page shows production by default; Sandbox and Both, by mouse or keyboard, change the figures', async () => {
    await page.goto(`${server.url}/#/usage`);
    await page.getByRole('heading', { level: 1, name: 'Usage', exact: true }).waitFor();
    const environment = page.getByRole('radiogroup', { name: 'Environment', exact: true });
    const production = environment.getByRole('radio', { name: 'Production', exact: true });
    assert.equal(await production.isChecked(), true, 'Production is the default');
    assert.equal(await requestsShown(page), 3);
    assert.equal(await page.getByTestId('stat-Error rate (4xx + 5xx)').textContent(), '0.0%');
    const legend = page.getByTestId('usage-charts');
    await legend.getByText('shop-live').first().waitFor();
    assert.equal(await legend.getByText('shop-sandbox').count(), 0, "no sandbox key in production's charts");

    // The keyboard: the group's checked choice is a Tab stop, the arrows move along it.
    await production.focus();
    await page.keyboard.press('ArrowRight');
    assert.equal(await environment.getByRole('radio', { name: 'Sandbox', exact: true }).isChecked(), true);
    assert.equal(
      await until(
        () => requestsShown(page),
        (n) => n === 5,
      ),
      5,
    );
    assert.equal(await page.getByTestId('stat-Error rate (4xx + 5xx)').textContent(), '20.0%');
    await legend.getByText('shop-sandbox').first().waitFor();
    assert.equal(await legend.getByText('shop-live').count(), 0, "no live key in sandbox's charts");

    await environment.getByText('Both', { exact: true }).click();
    assert.equal(
      await until(
        () => requestsShown(page),
        (n) => n === 8,
      ),
      8,
    );
  });

  test('the Environment and Range picked stay in the address: a reload or the link shows the same view', async () => {
    /** The value of each group's checked choice. */
    const picked = async (on: Page) => {
      await on.getByTestId('usage-charts').waitFor();
      const checked = (name: string) =>
        on
          .getByRole('radiogroup', { name, exact: true })
          .locator('input[type="radio"]:checked')
          .getAttribute('value');
      return { environment: await checked('Environment'), range: await checked('Range') };
    };
    const environment = page.getByRole('radiogroup', { name: 'Environment', exact: true });
    const range = page.getByRole('radiogroup', { name: 'Range', exact: true });
    await page.goto(`${server.url}/#/usage`);
    await environment.getByText('Sandbox', { exact: true }).click();
    await range.getByText('30 days', { exact: true }).click();
    assert.equal(new URL(page.url()).hash, '#/usage?environment=test&days=30');

    await page.reload();
    assert.deepEqual(await picked(page), { environment: 'test', range: '30' });
    assert.equal(await requestsShown(page), 5);

    // The link, opened in another tab.
    const shared = await page.context().newPage();
    try {
      await shared.goto(`${server.url}/#/usage?environment=both&days=90`);
      assert.deepEqual(await picked(shared), { environment: 'both', range: '90' });
      assert.equal(await requestsShown(shared), 8);
      // Values that are not choices (typed, cut short) are the defaults.
      await shared.goto(`${server.url}/#/usage?environment=prod&days=365`);
      await shared.reload();
      assert.deepEqual(await picked(shared), { environment: 'live', range: '7' });
      assert.equal(await requestsShown(shared), 3);
    } finally {
      await shared.close();
    }

    // Back to the defaults: the address says nothing more than the page.
    await environment.getByText('Production', { exact: true }).click();
    await range.getByText('7 days', { exact: true }).click();
    assert.equal(new URL(page.url()).hash, '#/usage');
  });

  test('with sandbox traffic only, Production says it has none and where the sandbox requests are', async () => {
    const fresh = await startTestServer('sqlite');
    const other = await ownerBrowser(fresh.url).catch(async (error) => {
      await fresh.close();
      throw error;
    });
    try {
      await fresh.createEndpoint({ slug: 'orders', name: 'Orders', schema: ordersSchema });
      await write(fresh, (await fresh.createKey({ name: 'tries', environment: 'test' })).key, 1);
      await other.page.goto(`${fresh.url}/#/usage`);
      await other.page.getByText('No production requests in this range', { exact: true }).waitFor();
      await other.page.getByText("Live keys' requests appear here; test keys' are under Sandbox.").waitFor();
      await other.page
        .getByRole('radiogroup', { name: 'Environment', exact: true })
        .getByText('Sandbox', { exact: true })
        .click();
      assert.equal(await requestsShown(other.page), 1);
    } finally {
      await other.close();
      await fresh.close();
    }
  });

  test("the Endpoints page's traffic column counts production requests and says so", async () => {
    await page.goto(`${server.url}/#/endpoints`);
    const table = page.getByRole('table', { name: 'Endpoints', exact: true });
    await table.getByRole('columnheader', { name: 'Production requests (7 days)', exact: true }).waitFor();
    const row = table.getByRole('row').filter({ hasText: '/api/v1/data/orders' });
    await until(
      () => row.getByRole('cell').nth(3).textContent(),
      (text) => text === '3',
    );
    assert.equal(
      await row.getByRole('cell').nth(3).textContent(),
      '3',
      'the 3 live requests, not the 5 sandbox ones',
    );
  });
});
