import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import { after, before, describe, test } from 'node:test';
import type { Page } from 'playwright-core';
import { type Browser, CHROMIUM, ensureDashboardBuilt, openBrowser } from './helpers/dashboard-browser.ts';
import { ordersSchema, startTestServer, type TestServer } from './helpers/server.ts';
import { until } from './helpers/until.ts';

/** The owner's sign-in, by the form's field names. */
const OWNER = { Email: 'owner@example.com', Password: 'correct horse battery' };
const DESKTOP = { width: 1280, height: 800 };

/** What a user meets on the dashboard's forms, lists and editor, in a real browser. */
describe('dashboard: polish', {
  skip: existsSync(CHROMIUM) ? false : `${CHROMIUM} is not installed (.ci/run installs it)`,
}, () => {
  let server: TestServer;
  let owner: Browser | undefined;
  let page: Page;

  before(async () => {
    ensureDashboardBuilt();
    server = await startTestServer('sqlite');
    await server.createEndpoint({ slug: 'orders', name: 'Orders', schema: ordersSchema });
  });
  after(async () => {
    await owner?.close();
    await server?.close();
  });

  /** A fresh browser (its own cookies) at `viewport`, signed in as the owner. */
  async function signIn(viewport = DESKTOP): Promise<void> {
    await owner?.close();
    owner = await openBrowser(server.url);
    ({ page } = owner);
    await page.setViewportSize(viewport);
    await page.goto(`${server.url}/`);
    for (const [name, value] of Object.entries(OWNER)) {
      await page.getByRole('textbox', { name, exact: true }).fill(value);
    }
    await page.getByRole('button', { name: 'Sign in' }).click();
    await page.getByRole('heading', { level: 1, name: 'Endpoints' }).waitFor();
  }

  test('a refused webhook URL is said once, on the URL field, not also in a toast and an alert', async () => {
    await signIn();
    await page.goto(`${server.url}/#/webhooks/orders`);
    await page.getByRole('button', { name: 'New subscription' }).click();
    const dialog = page.getByRole('dialog');
    await dialog.getByLabel('URL').fill('http://127.0.0.1/x');
    await dialog.getByRole('button', { name: 'Create subscription' }).click();
    // The field says why, is marked invalid and has focus.
    const url = dialog.getByLabel('URL');
    await url.and(page.locator('[aria-invalid="true"]')).waitFor();
    await until(
      () => url.evaluate((element) => element === element.ownerDocument.activeElement),
      (focused) => focused,
    );
    const refusal = page.getByText(/Refused target/);
    await refusal.first().waitFor();
    // Give a toast, were one raised, the time to show.
    await page.waitForTimeout(500);
    assert.equal(await refusal.count(), 1, 'the refusal is shown once');
    assert.equal(await page.locator('.mantine-Notification-root').count(), 0, 'no toast');
    assert.equal(await dialog.getByRole('alert').count(), 0, 'no alert repeating the field');
    assert.equal((await server.admin('GET', '/admin/v1/endpoints/orders/webhooks')).body.data.length, 0);
    // Fixed, it is made.
    await url.fill('https://example.com/hooks');
    await dialog.getByRole('button', { name: 'Create subscription' }).click();
    await page.getByRole('button', { name: 'I have saved it' }).click();
    await page.getByTestId('subscription-row').getByText('https://example.com/hooks').waitFor();
  });
});
