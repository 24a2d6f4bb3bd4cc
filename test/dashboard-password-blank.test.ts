import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import type { Locator, Page } from 'playwright-core';
import {
  type Browser,
  ensureDashboardBuilt,
  NEEDS_CHROMIUM,
  openBrowser,
  ownerBrowser,
} from './helpers/dashboard-browser.ts';
import { startTestServer, TEST_OWNER, type TestServer } from './helpers/server.ts';
import { until } from './helpers/until.ts';

/** Long enough, and nothing but whitespace: spaces, then no-break and ideographic spaces. */
const BLANK_PASSWORDS = ['        ', '\u00a0\u00a0\u00a0\u00a0\u3000\u3000\u3000\u3000'];

/** The requests the page sent to `path`, counted as they go. */
function sentTo(page: Page, method: string, path: string): { count: number } {
  const sent = { count: 0 };
  page.on('request', (request) => {
    if (request.method() === method && new URL(request.url()).pathname === path) sent.count++;
  });
  return sent;
}

/** The field says `message` as its error, tied to it (aria-describedby), marked invalid, focused. */
async function assertFieldError(field: Locator, message: string): Promise<void> {
  await field.and(field.page().locator('[aria-invalid="true"]')).waitFor();
  const describedBy = (await field.getAttribute('aria-describedby')) ?? '';
  const described = await Promise.all(
    describedBy
      .split(/\s+/)
      .filter((id) => id !== '')
      .map((id) => field.page().locator(`[id="${id}"]`).textContent()),
  );
  assert.ok(described.includes(message), `described by ${JSON.stringify(described)}`);
  const focused = () => field.evaluate((element) => element === element.ownerDocument.activeElement);
  assert.equal(await until(focused, Boolean), true, 'the field has the focus');
}

/** Each blank password typed twice into `form` and sent: refused at the `password` field. */
async function refuseBlanks(form: Locator, password: string, repeat: string, send: string): Promise<void> {
  for (const blank of BLANK_PASSWORDS) {
    await form.getByRole('textbox', { name: password, exact: true }).fill(blank);
    await form.getByRole('textbox', { name: repeat, exact: true }).fill(blank);
    await form.getByRole('button', { name: send }).click();
    await assertFieldError(form.getByRole('textbox', { name: password, exact: true }), 'Must not be blank');
  }
}

/** Nothing went wrong in the page: the 401 is the session probe of a page loaded signed out. */
function assertNoErrors(browser: Browser): void {
  const unexpected = browser.errors.filter((e) => !/status of 401/.test(e));
  assert.deepEqual(unexpected, [], `browser errors: ${unexpected.join('\n')}`);
}

/**
 * A password made only of whitespace, 8 characters long, is refused by the dashboard itself where a
 * password is chosen, in the server's words and at the field: it is never sent.
 */
describe('dashboard: a blank new password is refused before it is sent', NEEDS_CHROMIUM, () => {
  let server: TestServer;
  before(async () => {
    ensureDashboardBuilt();
    server = await startTestServer('sqlite');
  });
  after(() => server?.close());

  test('accepting an invite', async () => {
    const invite = await server.admin('POST', '/admin/v1/invites', { email: 'blank@example.com' });
    assert.equal(invite.status, 201, invite.text);
    const browser: Browser = await openBrowser(server.url);
    try {
      const { page } = browser;
      const accepts = sentTo(page, 'POST', '/admin/v1/invites/accept');
      await page.goto(String(invite.body.data.url).replace(/^.*#/, `${server.url}/#`));
      const form = page.getByRole('form', { name: 'Accept invitation' });
      const password = form.getByRole('textbox', { name: 'New password', exact: true });
      await refuseBlanks(form, 'New password', 'Repeat password', 'Create account and sign in');
      assert.equal(accepts.count, 0, 'a blank password is not sent');
      // A real password (spaces around it are fine) still goes through.
      await password.fill('  a real one  ');
      await form.getByRole('textbox', { name: 'Repeat password', exact: true }).fill('  a real one  ');
      await form.getByRole('button', { name: 'Create account and sign in' }).click();
      await page.getByRole('heading', { level: 1, name: 'Endpoints' }).waitFor();
      assert.equal(accepts.count, 1);
      assertNoErrors(browser);
    } finally {
      await browser.close();
    }
  });

  test('changing your own password', async () => {
    const browser = await ownerBrowser(server.url);
    try {
      const { page } = browser;
      const changes = sentTo(page, 'PUT', '/admin/v1/account/password');
      await page.goto(`${server.url}/#/account`);
      const form = page.getByRole('form', { name: 'Change password' });
      await form.getByRole('textbox', { name: 'Current password', exact: true }).fill(TEST_OWNER.password);
      const next = form.getByRole('textbox', { name: 'New password', exact: true });
      await refuseBlanks(form, 'New password', 'Repeat new password', 'Change password');
      // Too short is still said as before.
      await next.fill('short');
      await form.getByRole('textbox', { name: 'Repeat new password', exact: true }).fill('short');
      await form.getByRole('button', { name: 'Change password' }).click();
      await assertFieldError(next, 'Use at least 8 characters');
      assert.equal(changes.count, 0, 'no refused password is sent');
      assertNoErrors(browser);
    } finally {
      await browser.close();
    }
  });
});
