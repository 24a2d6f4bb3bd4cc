import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import { after, before, describe, test } from 'node:test';
import type { Page } from 'playwright-core';
import {
  type Browser,
  CHROMIUM,
  ensureDashboardBuilt,
  openBrowser,
  signInAsOwner,
} from './helpers/dashboard-browser.ts';
import { startTestServer, type TestServer } from './helpers/server.ts';
import { until } from './helpers/until.ts';

/** The focused element's text (evaluated in the page: no DOM types here). */
async function focusedText(page: Page): Promise<string> {
  return String(await page.evaluate('document.activeElement?.textContent ?? ""'));
}

describe("dashboard: rotating a key's callback signing secret", {
  skip: existsSync(CHROMIUM) ? false : `${CHROMIUM} is not installed (.ci/run installs it)`,
}, () => {
  let server: TestServer;
  let owner: Browser;

  before(async () => {
    ensureDashboardBuilt();
    server = await startTestServer('sqlite');
  });
  after(async () => {
    await owner?.close();
    await server?.close();
  });

  test('Escape on the "Rotate…?" question cancels it alone: the secret stays shown, focus back on Rotate…', async () => {
    const { id, key } = await server.createKey({ name: 'partner', environment: 'test' });
    const before = (await server.request('GET', '/api/v1/account', { key })).body.data
      .callback_signing_secret as string;
    owner = await openBrowser(server.url);
    const { page } = owner;
    await signInAsOwner(page, server.url);
    await page.goto(`${server.url}/#/keys`);
    await page.getByRole('button', { name: 'Actions for partner' }).click();
    await page.getByRole('menuitem', { name: 'Callback signing secret' }).click();
    const dialog = page.getByRole('dialog', { name: 'Callback signing secret' });
    await dialog.getByTestId('key-callback-secret').waitFor();

    await dialog.getByRole('button', { name: 'Rotate…' }).click();
    const confirm = page.getByRole('dialog', { name: 'Rotate the callback signing secret of partner?' });
    await confirm.waitFor();
    await page.keyboard.press('Escape');
    await confirm.waitFor({ state: 'hidden' });
    // Only the question is dismissed: the secret's dialog is still there, where the owner was.
    const focused = await until(
      () => focusedText(page),
      (text) => text === 'Rotate…',
    );
    assert.equal(await dialog.isVisible(), true, 'Escape on the question closed the secret dialog too');
    assert.equal(focused, 'Rotate…');
    assert.equal((await dialog.getByTestId('key-callback-secret').textContent())?.trim(), before);
    // Nothing was rotated.
    const stored = (await server.admin('GET', `/admin/v1/keys/${id}/callback-signing-secret`)).body.data;
    assert.equal(stored.secret, before);

    // Escape again, with no question open, closes the dialog as before.
    await page.keyboard.press('Escape');
    await dialog.waitFor({ state: 'hidden' });
    // (The one 401 logged is the session check before signing in.)
    assert.deepEqual(
      owner.errors.filter((e) => !/status of 401/.test(e)),
      [],
    );
  });
});
