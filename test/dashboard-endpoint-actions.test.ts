import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import { after, before, describe, test } from 'node:test';
import type { Page } from 'playwright-core';
import { type Browser, CHROMIUM, ensureDashboardBuilt, openBrowser } from './helpers/dashboard-browser.ts';
import { ordersSchema, startTestServer, type TestServer } from './helpers/server.ts';

const OWNER = { email: 'owner@example.com', password: 'correct horse battery' };

/**
 * Endpoint and app pages in a real browser, on their own server: actions beside Save draft, and
 * the routes of pages whose slug could be mistaken for something else.
 */
describe('dashboard endpoint pages in a real browser', {
  skip: existsSync(CHROMIUM) ? false : `${CHROMIUM} is not installed (.ci/run installs it)`,
}, () => {
  let server: TestServer;
  let owner: Browser;
  let page: Page;

  before(async () => {
    ensureDashboardBuilt();
    server = await startTestServer('sqlite');
    owner = await openBrowser(server.url);
    page = owner.page;
    await page.goto(`${server.url}/`);
    await page.getByLabel('Email').fill(OWNER.email);
    await page.getByRole('textbox', { name: 'Password' }).fill(OWNER.password);
    await page.getByRole('button', { name: 'Sign in' }).click();
    await page.getByTestId('current-user').waitFor();
    // The session check before signing in answers 401 (expected): not counted at the end.
    owner.errors.length = 0;
  });
  after(async () => {
    await owner?.close();
    await server?.close();
  });

  test('Deactivate with a schema that does not check keeps the saved draft schema', async () => {
    await server.createEndpoint({ slug: 'orders', name: 'Orders', schema: ordersSchema });
    await page.goto(`${server.url}/#/endpoints/orders`);
    await page.getByRole('heading', { level: 1, name: 'Orders' }).waitFor();
    await page
      .getByLabel('Schema (draft 2020-12)')
      .fill('{"type":"object","properties":{"a":{"type":"strin"}}}');
    await page.getByText('Fix the schema first').waitFor();
    // Deactivate saves unsaved edits first: it cannot, so it waits, as Deploy does.
    const deactivate = page.getByRole('button', { name: 'Deactivate' });
    assert.equal(await deactivate.isDisabled(), true);
    await deactivate.click({ force: true });
    await page.waitForTimeout(500);
    const endpoint = await server.admin('GET', '/admin/v1/endpoints/orders');
    assert.deepEqual(endpoint.body.data.schema, ordersSchema);
    assert.equal(endpoint.body.data.active, true);
    // Fixed, the edit is saved and the endpoint deactivated.
    await page
      .getByLabel('Schema (draft 2020-12)')
      .fill('{"type":"object","properties":{"a":{"type":"string"}}}');
    await deactivate.click();
    await page.getByRole('dialog').getByRole('button', { name: 'Deactivate' }).click();
    await page.getByRole('button', { name: 'Activate', exact: true }).waitFor();
    const saved = await server.admin('GET', '/admin/v1/endpoints/orders');
    assert.deepEqual(saved.body.data.schema, { type: 'object', properties: { a: { type: 'string' } } });
    assert.equal(saved.body.data.active, false);
  });

  test("saving other edits keeps the subscription end's seconds", async () => {
    await server.createEndpoint({ slug: 'plans', name: 'Plans', schema: ordersSchema });
    const end = '2030-12-31T23:59:59.999Z';
    await server.admin('PATCH', '/admin/v1/endpoints/plans', { expires_at: end });
    await page.goto(`${server.url}/#/endpoints/plans`);
    await page.getByRole('heading', { level: 1, name: 'Plans' }).waitFor();
    await page.getByRole('textbox', { name: /^Name/ }).fill('Price plans');
    await page.getByRole('button', { name: 'Save draft' }).click();
    await page.getByRole('heading', { level: 1, name: 'Price plans' }).waitFor();
    const saved = await server.admin('GET', '/admin/v1/endpoints/plans');
    assert.equal(saved.body.data.name, 'Price plans');
    // The field shows minutes; untouched, the end stays where it was, not a minute earlier.
    assert.equal(saved.body.data.expires_at, end);
  });

  test('the console shows the records of the endpoint it is on, whichever answer lands last', async () => {
    for (const slug of ['alpha', 'beta']) {
      await server.createEndpoint({ slug, name: slug, schema: ordersSchema });
      await server.admin('POST', `/admin/v1/endpoints/${slug}/deploy`);
      await server.admin('POST', `/admin/v1/console/${slug}/records`, { order_id: `in-${slug}`, amount: 1 });
    }
    await page.goto(`${server.url}/#/console/beta`);
    const table = page.getByRole('table');
    await table.getByText('in-beta').waitFor();
    // Alpha's records are slow to come: the user moves on to alpha and straight back (Back).
    await page.route('**/admin/v1/console/alpha/records**', async (route) => {
      await new Promise((resolve) => setTimeout(resolve, 1500));
      await route.continue().catch(() => {});
    });
    await page.goto(`${server.url}/#/console/alpha`);
    await page.waitForTimeout(200);
    await page.goBack();
    await table.getByText('in-beta').waitFor();
    await page.waitForTimeout(2500);
    assert.equal(await table.getByText('in-alpha').count(), 0, "alpha's late answer is not shown on beta");
    assert.equal(await table.getByText('in-beta').count(), 1);
    await page.unroute('**/admin/v1/console/alpha/records**');
  });

  test('an endpoint and an app whose slug is "new" open their own pages', async () => {
    await server.createEndpoint({ slug: 'new', name: 'New arrivals', schema: ordersSchema });
    await server.admin('POST', '/admin/v1/apps', { slug: 'new', name: 'Newsletter', routes: [] });
    await page.goto(`${server.url}/#/endpoints`);
    await page.getByRole('link', { name: 'New arrivals' }).click();
    await page.getByRole('heading', { level: 1, name: 'New arrivals' }).waitFor();
    await page.goto(`${server.url}/#/apps`);
    await page.getByRole('link', { name: 'Newsletter' }).first().click();
    await page.getByRole('heading', { level: 1, name: 'Newsletter' }).waitFor();
    // The create forms are still a click away.
    await page.goto(`${server.url}/#/endpoints`);
    await page.getByRole('link', { name: 'New endpoint' }).click();
    await page.getByRole('heading', { level: 1, name: 'New endpoint' }).waitFor();
    await page.goto(`${server.url}/#/apps`);
    await page.getByRole('link', { name: 'New app' }).click();
    await page.getByRole('heading', { level: 1, name: 'New app' }).waitFor();
    assert.deepEqual(owner.errors, []);
  });
});
