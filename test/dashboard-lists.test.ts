import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import { after, before, describe, test } from 'node:test';
import { type Browser, CHROMIUM, ensureDashboardBuilt, openBrowser } from './helpers/dashboard-browser.ts';
import { type Receiver, startReceiver } from './helpers/receiver.ts';
import { ordersSchema, startDeliveringServer, type TestServer } from './helpers/server.ts';

const OWNER = { email: 'owner@example.com', password: 'correct horse battery' };

/** Paged lists in a real browser: what is on show is the list the filters ask for. */
describe('dashboard paged lists in a real browser', {
  skip: existsSync(CHROMIUM) ? false : `${CHROMIUM} is not installed (.ci/run installs it)`,
}, () => {
  let server: TestServer;
  let receiver: Receiver;
  let browser: Browser;

  before(async () => {
    ensureDashboardBuilt();
    receiver = await startReceiver();
    server = await startDeliveringServer();
    browser = await openBrowser(server.url);
    const { page } = browser;
    await page.goto(`${server.url}/`);
    await page.getByLabel('Email').fill(OWNER.email);
    await page.getByRole('textbox', { name: 'Password' }).fill(OWNER.password);
    await page.getByRole('button', { name: 'Sign in' }).click();
    await page.getByTestId('current-user').waitFor();
  });
  after(async () => {
    await browser?.close();
    await server?.close();
    await receiver?.close();
  });

  test("the audit log's next page, asked for before a filter changed, is not added to the filtered list", async () => {
    await server.createEndpoint({ slug: 'orders', name: 'Orders', schema: ordersSchema });
    for (let i = 0; i < 55; i++)
      await server.admin('POST', '/admin/v1/keys', { name: `k${i}`, environment: 'test' });
    const { page } = browser;
    await page.goto(`${server.url}/#/audit`);
    const table = page.getByRole('table', { name: 'Audit log' });
    await table.getByText('key.create').first().waitFor();
    // The next page is slow to come; meanwhile the owner picks an action.
    await page.route('**/admin/v1/audit?*after=*', async (route) => {
      await new Promise((resolve) => setTimeout(resolve, 1500));
      await route.continue().catch(() => {});
    });
    await page.getByRole('button', { name: 'Load more' }).click();
    await page.getByLabel('Action', { exact: true }).first().click();
    await page.getByRole('option', { name: 'endpoint.create', exact: true }).click();
    await table.getByText('endpoint.create').waitFor();
    await page.waitForTimeout(2500);
    assert.equal(await table.getByText('key.create').count(), 0, 'only endpoint.create entries');
    assert.equal(await table.getByText('endpoint.create').count(), 1);
    await page.unroute('**/admin/v1/audit?*after=*');
  });

  test("the deliveries' next page, asked for before a filter changed, is not added to the filtered list", async () => {
    await server.admin('POST', '/admin/v1/endpoints/orders/webhooks', {
      url: `${receiver.url}/hooks`,
      events: ['record.created'],
      environment: 'test',
    });
    const key = await server.createKey({ name: 'writer', environment: 'test' });
    for (let i = 0; i < 30; i++) {
      await server.request('POST', '/api/v1/data/orders', {
        key: key.key,
        json: { order_id: `O-${i}`, amount: i },
      });
    }
    for (let tries = 0; ; tries++) {
      const listed = await server.admin('GET', '/admin/v1/deliveries?limit=100&status=succeeded');
      if (listed.body.data.length === 30) break;
      assert.ok(tries < 200, `${listed.body.data.length} deliveries succeeded`);
      await new Promise((resolve) => setTimeout(resolve, 50));
    }
    const { page } = browser;
    await page.goto(`${server.url}/#/deliveries`);
    const rows = page.getByTestId('delivery-row');
    await rows.nth(24).waitFor();
    await page.route('**/admin/v1/deliveries?*after=*', async (route) => {
      await new Promise((resolve) => setTimeout(resolve, 1500));
      await route.continue().catch(() => {});
    });
    await page.getByRole('button', { name: 'Load more' }).click();
    // Meanwhile, only the failed ones (there are none).
    await page
      .getByRole('radiogroup', { name: 'Filter by status' })
      .getByText('failed', { exact: true })
      .click();
    await page.getByText('No deliveries').waitFor();
    await page.waitForTimeout(2500);
    assert.equal(await rows.count(), 0, 'no succeeded delivery under "failed"');
    await page.unroute('**/admin/v1/deliveries?*after=*');
  });
});
