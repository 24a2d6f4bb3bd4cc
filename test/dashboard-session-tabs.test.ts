import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import { after, before, describe, test } from 'node:test';
import { type Browser, CHROMIUM, ensureDashboardBuilt, openBrowser } from './helpers/dashboard-browser.ts';
import { ordersSchema, startTestServer, type TestServer } from './helpers/server.ts';

const OWNER = { email: 'owner@example.com', password: 'correct horse battery' };

/** Two tabs of one browser share the session cookie: what one does to the session, the other follows. */
describe('dashboard in two tabs of one browser', {
  skip: existsSync(CHROMIUM) ? false : `${CHROMIUM} is not installed (.ci/run installs it)`,
}, () => {
  let server: TestServer;
  let browser: Browser;

  before(async () => {
    ensureDashboardBuilt();
    server = await startTestServer('sqlite');
    await server.createEndpoint({ slug: 'orders', name: 'Orders', schema: ordersSchema });
    browser = await openBrowser(server.url);
    const { page } = browser;
    await page.goto(`${server.url}/`);
    await page.getByLabel('Email').fill(OWNER.email);
    await page.getByRole('textbox', { name: 'Password' }).fill(OWNER.password);
    await page.getByRole('button', { name: 'Sign in' }).click();
    await page.getByTestId('current-user').waitFor();
    // The session check before signing in answers 401 (expected): not counted at the end.
    browser.errors.length = 0;
  });
  after(async () => {
    await browser?.close();
    await server?.close();
  });

  test("a password changed in one tab leaves the other tab's writes working", async () => {
    const other = await browser.context.newPage();
    other.setDefaultTimeout(10_000);
    await other.goto(`${server.url}/#/endpoints/orders`);
    await other.getByRole('heading', { level: 1, name: 'Orders' }).waitFor();

    // The first tab changes the password: the session stays, under a new cookie and CSRF token.
    const { page } = browser;
    await page.goto(`${server.url}/#/account`);
    const passwords = page.locator('input[type=password]');
    await passwords.nth(0).fill(OWNER.password);
    await passwords.nth(1).fill('a brand new passphrase');
    await passwords.nth(2).fill('a brand new passphrase');
    // The CLI token this test reads with stays.
    await page.getByRole('checkbox', { name: /^Also revoke my/ }).uncheck();
    await page.getByRole('button', { name: 'Change password' }).click();
    await page.getByText(/^Password changed/).waitFor();

    // The other tab saves a draft: it goes through, not "Missing or invalid CSRF token".
    await other.getByRole('textbox', { name: /^Name/ }).fill('Orders from the other tab');
    await other.getByRole('button', { name: 'Save draft' }).click();
    await other.getByRole('heading', { level: 1, name: 'Orders from the other tab' }).waitFor();
    const saved = await server.admin('GET', '/admin/v1/endpoints/orders');
    assert.equal(saved.body.data.name, 'Orders from the other tab');
    await other.close();
  });
});
