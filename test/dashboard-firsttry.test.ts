import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import { after, before, describe, test } from 'node:test';
import type { Locator, Page } from 'playwright-core';
import { type Browser, CHROMIUM, ensureDashboardBuilt, openBrowser } from './helpers/dashboard-browser.ts';
import { ordersSchema, startTestServer, type TestServer } from './helpers/server.ts';
import { until } from './helpers/until.ts';

const OWNER = { email: 'owner@example.com', password: 'correct horse battery' };
const PHONE = { width: 390, height: 844 };

/** How far an element's content runs past its own box or past the window's right edge, in px. */
async function overrun(locator: Locator): Promise<{ inside: number; window: number }> {
  return locator.evaluate((element) => {
    const box = element.getBoundingClientRect();
    return {
      inside: element.scrollWidth - element.clientWidth,
      window: Math.max(0, Math.ceil(box.right - element.ownerDocument.documentElement.clientWidth)),
    };
  });
}

/** A new owner's first steps in a real browser, on a phone as on a desktop. */
describe('dashboard: a first try', {
  skip: existsSync(CHROMIUM) ? false : `${CHROMIUM} is not installed (.ci/run installs it)`,
}, () => {
  let server: TestServer;
  let owner: Browser;
  let page: Page;

  before(async () => {
    ensureDashboardBuilt();
    server = await startTestServer('sqlite');
  });
  after(async () => {
    await owner?.close();
    await server?.close();
  });

  async function signIn(viewport = PHONE): Promise<void> {
    await owner?.close();
    owner = await openBrowser(server.url);
    page = owner.page;
    await page.setViewportSize(viewport);
    await page.goto(`${server.url}/`);
    await page.getByLabel('Email').fill(OWNER.email);
    await page.getByRole('textbox', { name: 'Password' }).fill(OWNER.password);
    await page.getByRole('button', { name: 'Sign in' }).click();
    await page.getByRole('heading', { level: 1, name: 'Endpoints' }).waitFor();
  }

  test('on a phone, a new API key, token and invite link are shown whole, not cut off at the edge', async () => {
    await signIn();
    await page.goto(`${server.url}/#/keys`);
    await page.getByRole('button', { name: 'Create key' }).click();
    const dialog = page.getByRole('dialog');
    await dialog.getByRole('textbox', { name: 'Name' }).fill('partner');
    await dialog.getByRole('button', { name: 'Create key' }).click();
    const key = dialog.getByTestId('secret-value');
    await key.waitFor();
    assert.deepEqual(await overrun(key), { inside: 0, window: 0 }, 'the API key');
    await dialog.getByRole('button', { name: 'I have saved it' }).click();

    // A key's callback signing secret, shown again when asked for, is not cut off either.
    await page.getByRole('button', { name: 'Actions for partner' }).click();
    await page.getByRole('menuitem', { name: 'Callback signing secret' }).click();
    const callbackSecret = page.getByRole('dialog').getByTestId('key-callback-secret');
    await callbackSecret.waitFor();
    assert.deepEqual(await overrun(callbackSecret), { inside: 0, window: 0 }, "the key's callback secret");
    await page.keyboard.press('Escape');
    await callbackSecret.waitFor({ state: 'detached' });

    await page.goto(`${server.url}/#/tokens`);
    await page.getByRole('textbox', { name: 'Name' }).fill('laptop');
    await page.getByRole('button', { name: 'Create token' }).click();
    const token = page.getByTestId('secret-value');
    await token.waitFor();
    assert.deepEqual(await overrun(token), { inside: 0, window: 0 }, 'the management token');

    await page.goto(`${server.url}/#/collaborators`);
    await page.getByRole('textbox', { name: 'Email' }).fill('friend@example.com');
    await page.getByRole('button', { name: 'Create invite link' }).click();
    const link = page.getByTestId('invite-url');
    await link.waitFor();
    assert.deepEqual(await overrun(link), { inside: 0, window: 0 }, 'the invite link');
    // The sentence above it (when the link expires) is not cut off either.
    const note = page.getByText('Send this link to them');
    assert.deepEqual((await overrun(note)).window, 0, 'the note on the invite link');
  });

  test('on a phone, badges in tables show their word in full, not cut to "ACTI…" or "TOKE…"', async () => {
    await server.createEndpoint({ slug: 'orders', name: 'Orders', schema: ordersSchema });
    await server.admin('POST', '/admin/v1/endpoints/orders/webhooks', {
      url: 'https://example.com/hooks',
      environment: 'test',
    });
    await server.admin('POST', '/admin/v1/tokens', { name: 'ci' });
    await server.admin('POST', '/admin/v1/invites', { email: 'friend@example.com' });
    await signIn();
    const cut: Record<string, (string | null)[]> = {};
    for (const [path, rows] of [
      ['endpoints', 'Endpoints'],
      ['webhooks/*', 'Webhook subscriptions'],
      ['audit', 'Audit log'],
    ] as const) {
      await page.goto(`${server.url}/#/${path}`);
      const table = page.getByRole('table', { name: rows });
      await table.locator('tbody tr').first().waitFor();
      const labels = table.locator('.mantine-Badge-label');
      assert.ok((await labels.count()) >= 2, path);
      cut[path] = await labels.evaluateAll((elements) =>
        elements.filter((e) => e.scrollWidth > e.clientWidth).map((e) => e.textContent),
      );
    }
    assert.deepEqual(cut, { endpoints: [], 'webhooks/*': [], audit: [] }, 'badges cut off');
  });

  test("a key's expiry cannot be edited into the past (a mistyped year), as it cannot be created there", async () => {
    const key = await server.createKey({ name: 'typo', environment: 'live' });
    const patched = await server.admin('PATCH', `/admin/v1/keys/${key.id}`, {
      expires_at: '2020-01-01T10:00:00Z',
    });
    assert.equal(patched.status, 400, patched.text);
    assert.deepEqual(patched.body.details, [{ field: 'expires_at', error: 'Must be in the future' }]);
    const kept = await server.admin('GET', `/admin/v1/keys/${key.id}`);
    assert.equal(kept.body.data.expires_at, null);
    assert.equal((await server.request('GET', '/api/v1/account', { key: key.key })).status, 200);

    // In the dashboard's Edit dialog, the field says so and the dialog stays open with the input.
    await signIn({ width: 1280, height: 800 });
    await page.goto(`${server.url}/#/keys`);
    await page.getByRole('button', { name: 'Actions for typo' }).click();
    await page.getByRole('menuitem', { name: /^Edit/ }).click();
    const dialog = page.getByRole('dialog');
    await dialog.getByLabel('Expires at').fill('2020-01-01T10:00');
    await dialog.getByRole('button', { name: 'Save changes' }).click();
    await dialog.getByLabel('Expires at').and(page.locator('[aria-invalid="true"]')).waitFor();
    await dialog.getByText('Must be in the future', { exact: true }).waitFor();
    assert.equal(await dialog.getByLabel('Expires at').inputValue(), '2020-01-01T10:00');
    assert.equal((await server.admin('GET', `/admin/v1/keys/${key.id}`)).body.data.expires_at, null);
    // A date ahead is saved.
    await dialog.getByLabel('Expires at').fill('2099-01-31T10:00');
    await dialog.getByRole('button', { name: 'Save changes' }).click();
    await dialog.waitFor({ state: 'detached' });
    assert.match(
      (await server.admin('GET', `/admin/v1/keys/${key.id}`)).body.data.expires_at,
      /^2099-01-31T/,
    );
  });

  test("an error toast stays on its page and closes when you go to another, not covering that one's content", async () => {
    await signIn({ width: 1280, height: 800 });
    await page.goto(`${server.url}/#/endpoints/_new`);
    await page.getByRole('textbox', { name: 'Slug' }).fill('unsent');
    await page.getByRole('textbox', { name: 'Name', exact: true }).fill('Unsent');
    // A create that never reaches the server is said in a toast (a refusal naming a field is said
    // on the field instead, test/dashboard-once.test.ts).
    await page.route('**/admin/v1/endpoints', (route) =>
      route.request().method() === 'POST' ? route.abort('connectionrefused') : route.continue(),
    );
    await page.getByRole('button', { name: 'Create endpoint' }).click();
    const toast = page.locator('.mantine-Notification-root').filter({ hasText: 'Could not save' });
    await toast.waitFor();
    // It stays while the page it is about is shown (it may be read slowly)...
    await page.waitForTimeout(1_000);
    assert.equal(await toast.count(), 1);
    // ... and goes with it: the API keys page is not told its endpoint could not be saved.
    page.once('dialog', (dialog) => void dialog.accept()); // leaving the unsaved form asks
    await page.getByRole('navigation').getByRole('link', { name: 'API keys' }).click();
    await page.getByRole('heading', { level: 1, name: 'API keys' }).waitFor();
    await toast.waitFor({ state: 'detached' });
    // An error raised on the new page is shown there as before.
    await page.getByRole('button', { name: 'Create key' }).click();
    const dialog = page.getByRole('dialog');
    await dialog.getByRole('textbox', { name: 'Name' }).fill('late');
    await dialog.getByLabel('Expires at').fill('2020-01-01T10:00');
    await dialog.getByRole('button', { name: 'Create key' }).click();
    await dialog.getByText('Must be in the future', { exact: true }).waitFor();
  });

  test('on a phone, the new key dialog shows both environments whole, not "(sandbox, draft sch" and "Live (produc"', async () => {
    await signIn();
    await page.goto(`${server.url}/#/keys`);
    await page.getByRole('button', { name: 'Create key' }).click();
    const dialog = page.getByRole('dialog');
    const environments = dialog.getByRole('radiogroup');
    await environments.waitFor();
    const labels = environments.locator('label');
    assert.equal(await labels.count(), 2);
    const cut = await labels.evaluateAll((elements) =>
      elements
        .filter((label) => {
          const box = label.getBoundingClientRect();
          const group = label.closest('[role="radiogroup"]')?.getBoundingClientRect();
          if (!group) return true;
          return label.scrollWidth > label.clientWidth || box.left < group.left || box.right > group.right;
        })
        .map((label) => label.textContent),
    );
    assert.deepEqual(cut, [], 'environment labels cut off');
    assert.deepEqual(await overrun(environments), { inside: 0, window: 0 });
    // Live is still picked with a tap.
    await dialog.getByText('Live (production)').click();
    assert.equal(await dialog.getByRole('radio', { name: 'Live (production)' }).isChecked(), true);
  });

  test('a password too short, then long but repeated wrong, is told the second problem only', async () => {
    // Accepting an invite.
    const invite = await server.admin('POST', '/admin/v1/invites', { email: 'pal@example.com' });
    assert.equal(invite.status, 201, invite.text);
    await owner?.close();
    owner = await openBrowser(server.url);
    page = owner.page;
    await page.setViewportSize(PHONE);
    await page.goto(invite.body.data.url);
    await page.getByLabel('New password').fill('short');
    await page.getByLabel('Repeat password').fill('short');
    await page.getByRole('button', { name: 'Create account and sign in' }).click();
    // Said at the field, as on the Account page (it was an alert above the form).
    const short = page.getByText('Use at least 8 characters', { exact: true });
    await short.waitFor();
    await page.getByLabel('New password').fill('a long passphrase');
    await page.getByLabel('Repeat password').fill('a long passphrase!');
    await page.getByRole('button', { name: 'Create account and sign in' }).click();
    await page.getByText('The passwords differ').waitFor();
    await short.waitFor({ state: 'detached' });
    await page.getByLabel('Repeat password').fill('a long passphrase');
    await page.getByRole('button', { name: 'Create account and sign in' }).click();
    await page.getByRole('heading', { level: 1, name: 'Endpoints' }).waitFor();

    // Changing one's password on the Account page.
    await page.goto(`${server.url}/#/account`);
    await page.getByLabel('Current password').fill('a long passphrase');
    await page.getByLabel('New password', { exact: false }).first().fill('short');
    await page.getByLabel('Repeat new password').fill('short');
    await page.getByRole('button', { name: 'Change password' }).click();
    const tooShort = page.getByText('Use at least 8 characters');
    await tooShort.waitFor();
    await page.getByLabel('New password', { exact: false }).first().fill('another passphrase');
    await page.getByLabel('Repeat new password').fill('another passphrase!');
    await page.getByRole('button', { name: 'Change password' }).click();
    await page.getByText('The passwords differ').waitFor();
    await tooShort.waitFor({ state: 'detached' });
  });

  test('following a link away from unsaved endpoint edits asks first, and staying keeps them', async () => {
    await server.createEndpoint({ slug: 'drafty', name: 'Drafty', schema: ordersSchema });
    await signIn({ width: 1280, height: 800 });
    await page.goto(`${server.url}/#/endpoints/drafty`);
    await page.getByRole('heading', { level: 1, name: 'Drafty' }).waitFor();
    await page.getByRole('button', { name: 'Add field' }).click();
    const added = page.getByRole('group', { name: /^Field 6/ }).getByLabel('Field name');
    await added.fill('note');
    const asked: string[] = [];
    // Stay: the page and the edit are still there.
    page.once('dialog', (dialog) => {
      asked.push(dialog.message());
      void dialog.dismiss();
    });
    await page.getByRole('link', { name: 'Test', exact: true }).click();
    await until(
      async () => asked.length,
      (n) => n === 1,
    );
    assert.match(asked[0] ?? '', /unsaved changes/);
    assert.match(page.url(), /#\/endpoints\/drafty$/);
    assert.equal(await page.getByRole('group', { name: 'Field 6: note' }).count(), 1);
    // Leave: the nav link goes where it says.
    page.once('dialog', (dialog) => void dialog.accept());
    await page.getByRole('navigation').getByRole('link', { name: 'API keys' }).click();
    await page.getByRole('heading', { level: 1, name: 'API keys' }).waitFor();
    // With nothing unsaved, nothing is asked.
    await page.goto(`${server.url}/#/endpoints/drafty`);
    await page.getByRole('heading', { level: 1, name: 'Drafty' }).waitFor();
    page.once('dialog', (dialog) => {
      asked.push(dialog.message());
      void dialog.dismiss();
    });
    await page.getByRole('navigation').getByRole('link', { name: 'API keys' }).click();
    await page.getByRole('heading', { level: 1, name: 'API keys' }).waitFor();
    assert.equal(asked.length, 1);
  });

  test('deactivating a live key asks first: Cancel leaves it serving, a sandbox key is deactivated at once', async () => {
    const live = await server.createKey({ name: 'production-partner', environment: 'live' });
    const sandbox = await server.createKey({ name: 'sandbox-partner', environment: 'test' });
    const status = async (id: string) => (await server.admin('GET', `/admin/v1/keys/${id}`)).body.data.status;
    const settled = (id: string) =>
      until(
        () => status(id),
        (s) => s === 'inactive',
      );
    await signIn({ width: 1280, height: 900 });
    await page.goto(`${server.url}/#/keys`);

    await page.getByRole('button', { name: 'Actions for production-partner' }).click();
    await page.getByRole('menuitem', { name: 'Deactivate' }).click();
    const dialog = page.getByRole('dialog', { name: 'Deactivate production-partner?' });
    await dialog.getByText(/live key/).waitFor();
    await dialog.getByRole('button', { name: 'Cancel' }).click();
    await dialog.waitFor({ state: 'hidden' });
    assert.equal(await status(live.id), 'active', 'Cancel keeps the live key serving');
    const served = await server.request('GET', '/api/v1/account', { key: live.key });
    assert.equal(served.status, 200);

    await page.getByRole('button', { name: 'Actions for production-partner' }).click();
    await page.getByRole('menuitem', { name: 'Deactivate' }).click();
    await dialog.getByRole('button', { name: 'Deactivate key' }).click();
    assert.equal(await settled(live.id), 'inactive');

    await page.getByRole('button', { name: 'Actions for sandbox-partner' }).click();
    await page.getByRole('menuitem', { name: 'Deactivate' }).click();
    assert.equal(await settled(sandbox.id), 'inactive');
  });
});
