import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import { after, before, describe, test } from 'node:test';
import type { Locator, Page } from 'playwright-core';
import {
  type Browser,
  CHROMIUM,
  ensureDashboardBuilt,
  openBrowser,
  signInAsOwner,
} from './helpers/dashboard-browser.ts';
import { startTestServer, type TestServer } from './helpers/server.ts';

/** How many times `text` is on the page as shown (toasts, alerts and field errors alike). */
async function timesShown(page: Page, text: string): Promise<number> {
  const shown = String(await page.evaluate('document.body.innerText'));
  return shown.split(text).length - 1;
}

/** The toasts on show. */
function toasts(page: Page): Locator {
  return page.locator('.mantine-Notification-root');
}

/** Gives a toast, were one raised, the time to show. */
async function settle(page: Page): Promise<void> {
  await page.waitForTimeout(600);
}

/** A refusal is said once: on the field, not also in the dialog's alert (nor in a toast). */
describe('dashboard: a refused save is said once', {
  skip: existsSync(CHROMIUM) ? false : `${CHROMIUM} is not installed (.ci/run installs it)`,
}, () => {
  let server: TestServer;
  let owner: Browser | undefined;
  let page: Page;

  before(async () => {
    ensureDashboardBuilt();
    server = await startTestServer('sqlite');
  });
  after(async () => {
    await owner?.close();
    await server?.close();
  });

  async function signIn(): Promise<void> {
    await owner?.close();
    owner = await openBrowser(server.url);
    ({ page } = owner);
    await signInAsOwner(page, server.url);
  }

  test('create key: an expiry in the past is said once, on the Expires at field, not also in the alert', async () => {
    await signIn();
    await page.goto(`${server.url}/#/keys`);
    await page.getByRole('button', { name: 'Create key' }).click();
    const create = page.getByRole('dialog', { name: 'Create an API key' });
    await create.getByRole('textbox', { name: 'Name' }).fill('late');
    await create.getByLabel('Expires at').fill('2020-01-01T10:00');
    await create.getByRole('button', { name: 'Create key' }).click();
    await create.getByLabel('Expires at').and(page.locator('[aria-invalid="true"]')).waitFor();
    await settle(page);
    assert.equal(await timesShown(page, 'Must be in the future'), 1, 'create: shown once');
    assert.equal(await create.getByRole('alert').count(), 0, 'create: no alert repeating the field');
    assert.equal(await toasts(page).count(), 0, 'create: no toast');
    assert.equal((await server.admin('GET', '/admin/v1/keys')).body.data.length, 0, 'no key made');
  });

  test('edit key: an expiry in the past is said once, on the Expires at field, not also in the alert', async () => {
    const key = await server.createKey({ name: 'partner', environment: 'test' });
    await signIn();
    await page.goto(`${server.url}/#/keys`);
    await page.getByRole('button', { name: 'Actions for partner' }).click();
    await page.getByRole('menuitem', { name: /^Edit/ }).click();
    const edit = page.getByRole('dialog', { name: 'Edit partner' });
    await edit.getByLabel('Expires at').fill('2020-01-01T10:00');
    await edit.getByRole('button', { name: 'Save changes' }).click();
    await edit.getByLabel('Expires at').and(page.locator('[aria-invalid="true"]')).waitFor();
    await settle(page);
    assert.equal(await timesShown(page, 'Must be in the future'), 1, 'edit: shown once');
    assert.equal(await edit.getByRole('alert').count(), 0, 'edit: no alert repeating the field');
    assert.equal(await toasts(page).count(), 0, 'edit: no toast');
    assert.equal((await server.admin('GET', `/admin/v1/keys/${key.id}`)).body.data.expires_at, null);
  });

  test('key dialog: a refusal no field can show is said once, in the alert', async () => {
    await signIn();
    await page.goto(`${server.url}/#/keys`);
    await page.getByRole('button', { name: 'Create key' }).click();
    const create = page.getByRole('dialog', { name: 'Create an API key' });
    await create.getByRole('textbox', { name: 'Name' }).fill('unsent');
    await page.route('**/admin/v1/keys', (route) =>
      route.request().method() === 'POST' ? route.abort('connectionrefused') : route.continue(),
    );
    await create.getByRole('button', { name: 'Create key' }).click();
    const alert = create.getByRole('alert');
    await alert.getByText('Could not create the key').waitFor();
    await settle(page);
    assert.equal(await alert.count(), 1, 'one alert');
    assert.equal(await toasts(page).count(), 0, 'no toast');
    await page.unroute('**/admin/v1/keys');
    const keys = (await server.admin('GET', '/admin/v1/keys')).body.data as { name: string }[];
    assert.equal(
      keys.some((k) => k.name === 'unsent'),
      false,
    );
  });
});
