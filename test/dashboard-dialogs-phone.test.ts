import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import type { Locator, Page } from 'playwright-core';
import {
  type Browser,
  ensureDashboardBuilt,
  NEEDS_CHROMIUM,
  ownerBrowser,
} from './helpers/dashboard-browser.ts';
import { type Receiver, startReceiver } from './helpers/receiver.ts';
import { ordersSchema, startDeliveringServer, type TestServer } from './helpers/server.ts';
import { until } from './helpers/until.ts';

/** A phone 320 CSS pixels wide (the narrowest in use), 640 high. */
const SCREEN = { width: 320, height: 640 };

/** Names without a space, as long as they may be. */
const LONG_NAME = `k${'n'.repeat(199)}`;
const LONG_SLUG = `a${'b'.repeat(62)}`;

type Box = NonNullable<Awaited<ReturnType<Locator['boundingBox']>>>;
const within = (box: Box | null): boolean =>
  box !== null &&
  box.x >= -1 &&
  box.y >= -1 &&
  box.x + box.width <= SCREEN.width + 1 &&
  box.y + box.height <= SCREEN.height + 1;

/**
 * Every dialog (and drawer) of the dashboard at 320x640, with the longest names: the page does not
 * scroll sideways under it, the dialog lies within the screen, nothing in it runs past its edge or
 * is read by scrolling a box sideways, and each of its buttons can be brought on screen, whole, by
 * scrolling the dialog. A record's JSON in the console's view dialog was cut off at 320px.
 */
describe('dashboard dialogs at 320px', NEEDS_CHROMIUM, () => {
  let server: TestServer;
  let receiver: Receiver;
  let owner: Browser;
  let page: Page;
  const problems: string[] = [];

  before(async () => {
    ensureDashboardBuilt();
    receiver = await startReceiver();
    server = await startDeliveringServer();
    await server.createEndpoint({ slug: LONG_SLUG, name: LONG_NAME, schema: ordersSchema });
    assert.equal((await server.admin('POST', `/admin/v1/endpoints/${LONG_SLUG}/deploy`)).status, 201);
    const hook = await server.admin('POST', `/admin/v1/endpoints/${LONG_SLUG}/webhooks`, {
      url: `${receiver.url}/${'p'.repeat(150)}`,
      environment: 'test',
    });
    assert.equal(hook.status, 201, hook.text);
    // Live: deactivating it asks first (a sandbox key is deactivated at once).
    await server.createKey({ name: LONG_NAME, environment: 'live', scopes: ['*'] });
    // A delivery, for its details.
    const sandbox = await server.createKey({ name: 'sandbox', environment: 'test', scopes: ['*'] });
    const written = await server.request('POST', `/api/v1/data/${LONG_SLUG}`, {
      key: sandbox.key,
      json: { order_id: 'O-1', amount: 1 },
    });
    assert.equal(written.status, 202, written.text);
    await receiver.waitFor(1);
    const record = await server.admin('POST', `/admin/v1/console/${LONG_SLUG}/records`, {
      order_id: 'O'.repeat(150),
      amount: 1,
    });
    assert.equal(record.status, 201, record.text);
    const app = await server.admin('POST', '/admin/v1/apps', {
      slug: LONG_SLUG,
      name: LONG_NAME,
      routes: [],
    });
    assert.equal(app.status, 201, app.text);
    const invited = await server.admin('POST', '/admin/v1/invites', {
      email: `${'e'.repeat(80)}@example.com`,
    });
    assert.equal(invited.status, 201, invited.text);
    owner = await ownerBrowser(server.url, SCREEN);
    page = owner.page;
  });
  after(async () => {
    await owner?.close();
    await server?.close();
    await receiver?.close();
  });

  /** Notes what of the open dialog named `name` does not fit, then closes it with `close`. */
  async function check(name: string | RegExp, close: (dialog: Locator) => Promise<void>): Promise<void> {
    const dialog = page.getByRole('dialog', { name });
    await dialog.waitFor();
    // A dialog moves for 200 ms as it opens: its box is read again until it settles.
    const box = await until(() => dialog.boundingBox(), within, 3_000);
    if (!within(box)) problems.push(`${name}: the dialog ${JSON.stringify(box)} is not within the screen`);
    const pageSideways = Number(
      await page.evaluate('document.documentElement.scrollWidth - document.documentElement.clientWidth'),
    );
    if (pageSideways > 0) problems.push(`${name}: the page scrolls ${pageSideways}px sideways`);
    const dialogSideways = await dialog.evaluate((element) => element.scrollWidth - element.clientWidth);
    if (dialogSideways > 0) problems.push(`${name}: its content runs ${dialogSideways}px past its edge`);
    // Content cut off by a box that hides its overflow shows in no scroll width: each element is
    // compared with the dialog's edges.
    const outside = await dialog.evaluate((element) => {
      const edge = element.getBoundingClientRect();
      return [...element.querySelectorAll('*')]
        .filter((child) => {
          const box = child.getBoundingClientRect();
          return box.width > 0 && (box.left < edge.left - 1 || box.right > edge.right + 1);
        })
        .map((child) => `${child.tagName}.${child.className}: ${child.textContent?.slice(0, 30)}`);
    });
    for (const cut of outside) problems.push(`${name}: ${cut} is past the dialog's edge`);
    // Nor is any of it read by scrolling a box in it sideways (a record's JSON was cut off at its
    // block's edge). An input's value may run on past its box, as in any input.
    const scrolled = await dialog.evaluate((element) =>
      [...element.querySelectorAll('*')]
        .filter((child) => child.tagName !== 'INPUT' && child.scrollWidth > child.clientWidth + 1)
        .filter((child) => child.clientWidth > 0)
        .map((child) => `${child.tagName}.${child.className}: ${child.textContent?.slice(0, 30)}`),
    );
    for (const box of scrolled) problems.push(`${name}: ${box} scrolls sideways`);
    for (const button of await dialog.getByRole('button').all()) {
      if (!(await button.isVisible())) continue;
      await button.scrollIntoViewIfNeeded();
      const label = (await button.getAttribute('aria-label')) ?? (await button.textContent());
      const at = await button.boundingBox();
      if (!within(at)) problems.push(`${name}: button "${label}" ${JSON.stringify(at)} is off screen`);
      const cut = await button.evaluate((element) => element.scrollWidth - element.clientWidth);
      if (cut > 0) problems.push(`${name}: button "${label}" is cut by ${cut}px`);
    }
    await close(dialog);
    await dialog.waitFor({ state: 'hidden' });
  }
  const cancel = (dialog: Locator) => dialog.getByRole('button', { name: 'Cancel', exact: true }).click();
  const pressEscape = () => page.keyboard.press('Escape');
  const saved = (dialog: Locator) => dialog.getByRole('button', { name: 'I have saved it' }).click();

  test('every dialog fits the screen, its buttons within reach', async () => {
    // API keys: create, the shown-once key, edit, and the row's confirmations.
    await page.goto(`${server.url}/#/keys`);
    await page.getByRole('button', { name: 'Create key' }).click();
    await page.getByRole('dialog', { name: 'Create an API key' }).getByLabel('Name').fill(`new-${LONG_NAME}`);
    await check('Create an API key', async (dialog) => {
      await dialog.getByRole('button', { name: 'Create key' }).click();
    });
    await check('Your new API key', saved);
    const actions = page.getByRole('button', { name: `Actions for ${LONG_NAME}`, exact: true });
    for (const [item, dialog] of [
      ['Edit name, scopes and limits', `Edit ${LONG_NAME}`],
      ['Deactivate', `Deactivate ${LONG_NAME}?`],
      ['Revoke', `Revoke ${LONG_NAME}?`],
    ] as const) {
      await actions.click();
      await page.getByRole('menuitem', { name: item, exact: true }).click();
      await check(dialog, cancel);
    }
    await actions.click();
    await page.getByRole('menuitem', { name: 'Roll secret', exact: true }).click();
    await check(`Roll ${LONG_NAME}?`, (dialog) => dialog.getByRole('button', { name: 'Roll key' }).click());
    await check('New secret', saved);
    await actions.click();
    await page.getByRole('menuitem', { name: 'Callback signing secret' }).click();
    await check('Callback signing secret', async (dialog) => {
      await dialog.getByRole('button', { name: /^Rotate/ }).click();
      await check(`Rotate the callback signing secret of ${LONG_NAME}?`, cancel);
      await pressEscape();
    });

    // Webhooks: a new subscription, editing one, rotating its secret (and the new secret), deleting it.
    await page.goto(`${server.url}/#/webhooks/${LONG_SLUG}`);
    await page.getByRole('button', { name: 'New subscription' }).click();
    await check(/^New subscription for/, cancel);
    await page.getByRole('button', { name: /^Edit http/ }).click();
    await check('Edit subscription', cancel);
    await page.getByRole('button', { name: /^Rotate secret for/ }).click();
    await check('Rotate the signing secret?', (dialog) =>
      dialog.getByRole('button', { name: 'Rotate secret' }).click(),
    );
    await check('New signing secret', saved);
    await page.getByRole('button', { name: /^Delete http/ }).click();
    await check('Delete this subscription?', cancel);

    // An endpoint: deploy, deactivate, delete.
    await page.goto(`${server.url}/#/endpoints/${LONG_SLUG}`);
    for (const [button, dialog] of [
      ['Deploy', /^Deploy version/],
      ['Deactivate', `Deactivate ${LONG_SLUG}?`],
      ['Delete endpoint', `Delete ${LONG_SLUG}?`],
    ] as const) {
      await page.getByRole('button', { name: button, exact: true }).click();
      await check(dialog, cancel);
    }

    // An app: deploy and delete.
    await page.goto(`${server.url}/#/apps/${LONG_SLUG}`);
    await page.getByRole('button', { name: 'Deploy', exact: true }).click();
    await check(/^Deploy version/, cancel);
    await page.getByRole('button', { name: 'Delete app', exact: true }).click();
    await check(`Delete ${LONG_SLUG}?`, cancel);

    // The production console: a record's view, edit and delete.
    await page.goto(`${server.url}/#/console/${LONG_SLUG}`);
    await page.getByRole('button', { name: /^View rec_/ }).click();
    await check(/^rec_/, pressEscape);
    await page.getByRole('button', { name: /^Edit rec_/ }).click();
    await check(/^Replace rec_/, cancel);
    await page.getByRole('button', { name: /^Delete rec_/ }).click();
    await check('Delete this live record?', cancel);

    // Collaborators: withdrawing an invite.
    await page.goto(`${server.url}/#/collaborators`);
    await page.getByRole('button', { name: /^Withdraw the invite/ }).click();
    await check(/^Withdraw the invite/, cancel);

    // A delivery's details.
    await page.goto(`${server.url}/#/deliveries`);
    await page
      .getByRole('button', { name: /details of dlv_/ })
      .first()
      .click();
    await page.getByTestId('delivery-detail').waitFor();
    await check('Delivery', pressEscape);

    assert.deepEqual(problems, []);
  });
});
