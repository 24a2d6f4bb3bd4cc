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
import { ordersSchema, startTestServer, TEST_OWNER, type TestServer } from './helpers/server.ts';
import { until } from './helpers/until.ts';

/** Whether `locator` has the focus. */
async function focused(locator: Locator): Promise<boolean> {
  return locator.evaluate((element) => element === element.ownerDocument.activeElement);
}

/** Waits for `locator` to get the focus; fails saying what has it instead. */
async function assertFocused(page: Page, locator: Locator, what: string): Promise<void> {
  if (await until(() => focused(locator), Boolean)) return;
  const active = await page.evaluate(
    '(() => { const e = document.activeElement; return e === null || e === document.body ? "body" : e.outerHTML.slice(0, 120); })()',
  );
  assert.fail(`${what} has not the focus: ${String(active)} has`);
}

/** The texts a field's aria-describedby points at (its description and error, as read out). */
async function describedBy(field: Locator): Promise<string[]> {
  return field.evaluate((element) =>
    (element.getAttribute('aria-describedby') ?? '')
      .split(' ')
      .map((id: string) => element.ownerDocument.getElementById(id)?.textContent ?? '')
      .filter((text: string) => text !== ''),
  );
}

/**
 * The dashboard with the keyboard alone and a screen reader: every control named and reachable,
 * focus kept somewhere sensible, errors said where they are. Asserted by role and name, as a
 * screen reader finds things.
 */
describe('dashboard for keyboard and screen reader users', {
  skip: existsSync(CHROMIUM) ? false : `${CHROMIUM} is not installed (.ci/run installs it)`,
}, () => {
  let server: TestServer;
  let owner: Browser | undefined;
  let page: Page;

  before(async () => {
    ensureDashboardBuilt();
    server = await startTestServer('sqlite');
    await server.createEndpoint({ slug: 'orders', name: 'Orders', schema: ordersSchema });
    await server.createKey({ name: 'writer', environment: 'test' });
    const deployed = await server.admin('POST', '/admin/v1/endpoints/orders/deploy');
    assert.equal(deployed.status, 201, deployed.text);
    const live = await server.createKey({ name: 'shop', environment: 'live' });
    // A live record (the console's list), and usage for the charts.
    const written = await server.request('POST', '/api/v1/data/orders', {
      key: live.key,
      json: { order_id: 'O-1', amount: 1 },
    });
    assert.equal(written.status, 202, written.text);
    const subscribed = await server.admin('POST', '/admin/v1/endpoints/orders/webhooks', {
      url: 'https://partner.example/hooks',
      events: ['record.created'],
      environment: 'test',
    });
    assert.equal(subscribed.status, 201, subscribed.text);
    const invited = await server.admin('POST', '/admin/v1/invites', { email: 'erin@example.com' });
    assert.equal(invited.status, 201, invited.text);
    owner = await openBrowser(server.url);
    page = owner.page;
    await signInAsOwner(page, server.url);
  });
  after(async () => {
    await owner?.close();
    await server?.close();
  });

  async function open(path: string, heading: string): Promise<void> {
    await page.goto(`${server.url}/#/${path}`);
    await page.getByRole('heading', { level: 1, name: heading, exact: true }).waitFor();
  }

  test('the navigation marks the current page; a dialog and a menu opened with Enter close with Escape onto their opener', async () => {
    await open('keys', 'API keys');
    const nav = page.getByRole('navigation', { name: 'Main navigation', exact: true });
    assert.equal(
      await nav.getByRole('link', { name: 'API keys', exact: true }).getAttribute('aria-current'),
      'page',
    );
    assert.equal(
      await nav.getByRole('link', { name: 'Endpoints', exact: true }).getAttribute('aria-current'),
      null,
    );

    const opener = page.getByRole('button', { name: 'Create key', exact: true });
    await opener.focus();
    await page.keyboard.press('Enter');
    const dialog = page.getByRole('dialog', { name: 'Create an API key', exact: true });
    await dialog.waitFor();
    assert.equal(await dialog.getAttribute('aria-modal'), 'true');
    const name = dialog.getByRole('textbox', { name: 'Name', exact: true });
    await assertFocused(page, name, 'the dialog\'s first field, "Name"');
    assert.equal(await name.getAttribute('required'), '');
    await page.keyboard.press('Escape');
    await dialog.waitFor({ state: 'detached' });
    await assertFocused(page, opener, 'the "Create key" button');

    const actions = page.getByRole('button', { name: 'Actions for writer', exact: true });
    await actions.focus();
    await page.keyboard.press('Enter');
    const menu = page.getByRole('menu', { name: 'Actions for writer', exact: true });
    // The menu takes focus once it has opened; the arrow keys move within it from there.
    const inMenu = await until(
      () => menu.evaluate((element) => element.contains(element.ownerDocument.activeElement)),
      Boolean,
    );
    assert.ok(inMenu, 'focus is in the menu');
    await page.keyboard.press('ArrowDown');
    await assertFocused(
      page,
      menu.getByRole('menuitem', { name: 'Deactivate', exact: true }),
      'the first item',
    );
    await page.keyboard.press('Escape');
    await menu.waitFor({ state: 'detached' });
    await assertFocused(page, actions, 'the "Actions for writer" button');
  });

  test("every list's buttons column has a header a screen reader can say", async () => {
    const lists: [path: string, heading: string, tables: string[]][] = [
      ['keys', 'API keys', ['API keys']],
      ['tokens', 'CLI tokens', ['Your tokens']],
      ['collaborators', 'Collaborators', ['Pending invites', 'Collaborators']],
      ['webhooks/orders', 'Webhooks', ['Webhook subscriptions']],
      ['console/orders', 'Production console', ['Live records']],
    ];
    for (const [path, heading, tables] of lists) {
      await open(path, heading);
      for (const name of tables) {
        const table = page.getByRole('table', { name, exact: true });
        await table.getByRole('row').nth(1).waitFor();
        const headers = await table.getByRole('columnheader').allInnerTexts();
        assert.equal(
          await table.getByRole('columnheader', { name: 'Actions', exact: true }).count(),
          1,
          `table "${name}" has headers ${JSON.stringify(headers)}`,
        );
      }
    }
  });

  test('the usage charts, each a Tab stop, are named by their title', async () => {
    await open('usage', 'Usage');
    const names = [
      'Requests by key',
      'Requests by endpoint',
      'Requests by status class',
      'Error rate and rate limiting',
    ];
    const first = page.getByRole('application', { name: names[0], exact: true });
    await first.waitFor();
    for (const name of names) {
      assert.equal(await page.getByRole('application', { name, exact: true }).count(), 1, name);
    }
    // Tab from the range picker reaches the first chart, by its name.
    await page.getByRole('radio', { name: '7 days', exact: true }).focus();
    await page.keyboard.press('Tab');
    await assertFocused(page, first, 'the chart "Requests by key"');
  });

  test('a form sent with its button keeps focus on the button, whether it worked or not', async () => {
    await open('tokens', 'CLI tokens');
    await page.getByRole('textbox', { name: 'Name', exact: true }).fill('ci');
    const create = page.getByRole('button', { name: 'Create token', exact: true });
    await create.focus();
    await page.keyboard.press('Enter');
    await page.getByRole('button', { name: 'Copy management token', exact: true }).waitFor();
    await assertFocused(page, create, 'the "Create token" button');

    await open('collaborators', 'Collaborators');
    await page.getByRole('textbox', { name: 'Email', exact: true }).fill(TEST_OWNER.email);
    const invite = page.getByRole('button', { name: 'Create invite link', exact: true });
    await invite.focus();
    await page.keyboard.press('Space');
    await page
      .getByRole('alert')
      .filter({ hasText: `Could not create the inviteA user with the email ${TEST_OWNER.email} exists` })
      .waitFor();
    await assertFocused(page, invite, 'the "Create invite link" button');
  });

  test("the password form's errors get the focus and are read with their field", async () => {
    await open('account', 'Account');
    const current = page.getByRole('textbox', { name: 'Current password', exact: true });
    const next = page.getByRole('textbox', { name: 'New password', exact: true });
    const repeat = page.getByRole('textbox', { name: 'Repeat new password', exact: true });
    const change = page.getByRole('button', { name: 'Change password', exact: true });
    for (const field of [current, next, repeat]) assert.equal(await field.getAttribute('required'), '');
    assert.deepEqual(await describedBy(next), ['At least 8 characters']);

    const cases: [current: string, next: string, repeat: string, field: Locator, error: string][] = [
      ['whatever', 'short', 'short', next, 'Use at least 8 characters'],
      ['whatever', 'long enough 1', 'long enough 2', repeat, 'The passwords differ'],
      ['not the password', 'a new password', 'a new password', current, 'Is not your current password'],
    ];
    for (const [currentValue, nextValue, repeatValue, field, error] of cases) {
      await current.fill(currentValue);
      await next.fill(nextValue);
      await repeat.fill(repeatValue);
      await change.focus();
      await page.keyboard.press('Enter');
      await assertFocused(page, field, `the field saying "${error}"`);
      assert.equal(await field.getAttribute('aria-invalid'), 'true');
      assert.ok((await describedBy(field)).includes(error), JSON.stringify(await describedBy(field)));
    }

    // Changed (the CLI tokens kept: the server's own is one): focus stays on the button.
    await current.fill(TEST_OWNER.password);
    await page.getByRole('checkbox', { name: 'Also revoke my 2 CLI tokens', exact: true }).uncheck();
    await change.focus();
    await page.keyboard.press('Enter');
    await page.getByRole('alert').filter({ hasText: 'DonePassword changed' }).waitFor();
    await assertFocused(page, change, 'the "Change password" button');
  });

  test("a confirmed delete or revoke puts focus on the page's heading, not on <body>", async () => {
    const flows: [path: string, heading: string, opener: RegExp, dialog: string, confirm: string][] = [
      ['console/orders', 'Production console', /^Delete rec_/, 'Delete this live record?', 'Delete record'],
      ['tokens', 'CLI tokens', /^Revoke ci$/, 'Revoke ci?', 'Revoke token'],
    ];
    for (const [path, heading, opener, name, confirm] of flows) {
      await open(path, heading);
      const button = page.getByRole('button', { name: opener });
      await button.focus();
      await page.keyboard.press('Enter');
      const dialog = page.getByRole('dialog', { name, exact: true });
      await assertFocused(page, dialog.getByRole('button', { name: 'Cancel', exact: true }), 'Cancel');
      await page.keyboard.press('Tab');
      await assertFocused(page, dialog.getByRole('button', { name: confirm, exact: true }), confirm);
      await page.keyboard.press('Enter');
      await button.waitFor({ state: 'detached' });
      await assertFocused(page, page.getByRole('heading', { level: 1, name: heading, exact: true }), heading);
    }
  });
});
