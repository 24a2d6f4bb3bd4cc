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
import { ordersSchema, startTestServer, type TestServer } from './helpers/server.ts';
import { until } from './helpers/until.ts';

/** The focused element, as `tag:text` or `body` (evaluated in the page: no DOM types here). */
async function focused(page: Page): Promise<string> {
  return String(
    await page.evaluate(
      '(() => { const e = document.activeElement; if (!e || e === document.body) return "body"; return e.tagName.toLowerCase() + ":" + (e.textContent ?? ""); })()',
    ),
  );
}

/**
 * Where am I, and which one is this: a first-run walk's gaps. Nested fields numbered apart from
 * top-level ones, focus on each new page's heading, and the Test page keeping the key last used.
 */
describe('dashboard orientation in a real browser', {
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

  /** A fresh browser (its own storage), signed in as the owner through the form. */
  async function signIn(): Promise<void> {
    await owner?.close();
    owner = await openBrowser(server.url);
    page = owner.page;
    await signInAsOwner(page, server.url);
  }

  test('a nested field is numbered and named by its place, apart from a top-level one', async () => {
    await server.createEndpoint({
      slug: 'shipments',
      name: 'Shipments',
      schema: {
        type: 'object',
        properties: {
          id: { type: 'string' },
          customer: { type: 'object', properties: { id: { type: 'string' }, name: { type: 'string' } } },
          items: { type: 'array', items: { type: 'object', properties: { id: { type: 'integer' } } } },
        },
      },
    });
    await signIn();
    await page.goto(`${server.url}/#/endpoints/shipments`);
    await page.getByRole('heading', { level: 1, name: 'Shipments' }).waitFor();

    // Three fields called "id": each group's name (what a screen reader says) tells them apart.
    const groups = page.getByTestId('field-row');
    await until(
      () => groups.count(),
      (n) => n === 6,
    );
    const names = await groups.evaluateAll((rows) =>
      rows.map((row) => {
        const labelledBy = row.getAttribute('aria-labelledby');
        const caption = labelledBy ? row.ownerDocument.getElementById(labelledBy) : null;
        return caption?.textContent ?? row.getAttribute('aria-label') ?? '';
      }),
    );
    assert.deepEqual(
      names,
      [
        'Field 1: id',
        'Field 2: customer',
        'Field 2.1: customer.id',
        'Field 2.2: customer.name',
        'Field 3: items',
        'Field 3.1: items.id',
      ],
      'each field named by its outline number and dotted path',
    );
    assert.equal(new Set(names).size, names.length, `no two fields share a name: ${names.join(' | ')}`);
    const nested = page.getByRole('group', { name: 'Field 2.1: customer.id', exact: true });
    assert.equal(await nested.getByLabel('Field name').inputValue(), 'id', 'the group holds its own field');
    assert.equal(
      await page.getByRole('group', { name: 'Field 1: id', exact: true }).count(),
      1,
      'one group answers to "Field 1: id"',
    );
    // A sighted user sees the same number and path on the row.
    assert.equal(await nested.getByText('Field 2.1: customer.id', { exact: true }).isVisible(), true);
    // The row's buttons say which field they act on.
    assert.equal(
      await page.getByRole('button', { name: 'Remove field customer.id', exact: true }).count(),
      1,
    );
    assert.equal(await page.getByRole('button', { name: 'Remove field id', exact: true }).count(), 1);

    // A field added inside customer continues its numbering.
    await page.getByRole('button', { name: 'Add nested field to customer', exact: true }).click();
    await page.keyboard.type('email');
    await page.getByRole('group', { name: 'Field 2.3: customer.email', exact: true }).waitFor();
  });

  test('focus goes to the page heading after signing in and after following a link', async () => {
    await signIn();
    const endpoints = await until(
      () => focused(page),
      (value) => value === 'h1:Endpoints',
    );
    assert.equal(endpoints, 'h1:Endpoints', 'after signing in, the first page’s h1 has focus');

    const nav = page.getByRole('navigation', { name: 'Main navigation' });
    await nav.getByRole('link', { name: 'API keys' }).click();
    const keys = await until(
      () => focused(page),
      (value) => value === 'h1:API keys',
    );
    assert.equal(keys, 'h1:API keys', 'after a nav link, the new page’s h1 has focus (not the link)');

    // A link inside the page (the page it left is gone, and its link with it).
    await nav.getByRole('link', { name: 'Endpoints' }).click();
    await page.getByRole('link', { name: 'Orders' }).first().click();
    const editor = await until(
      () => focused(page),
      (value) => value === 'h1:Orders',
    );
    assert.equal(editor, 'h1:Orders', 'after an in-page link, the new page’s h1 has focus');

    // Back: a route change too.
    await page.goBack();
    const back = await until(
      () => focused(page),
      (value) => value === 'h1:Endpoints',
    );
    assert.equal(back, 'h1:Endpoints', 'after Back, the page’s h1 has focus');

    // A reload is not moved: the document starts at its top and Tab reaches the skip link first.
    await page.reload();
    await page.getByRole('heading', { level: 1, name: 'Endpoints' }).waitFor();
    assert.equal(await focused(page), 'body', 'a reload leaves focus alone');
    await page.keyboard.press('Tab');
    assert.equal(await focused(page), 'a:Skip to content');
  });

  test('the Test page preselects the test key last sent with, while it can still be used', async () => {
    const older = await server.createKey({ name: 'older', environment: 'test' });
    await server.createKey({ name: 'newer', environment: 'test' });
    await signIn();
    await page.goto(`${server.url}/#/test`);
    const keyField = page.getByRole('combobox', { name: 'Test key' });
    const picked = () => keyField.inputValue();
    assert.match(
      await until(picked, (v) => v.startsWith('newer ')),
      /^newer /,
      'nothing used yet: the newest',
    );

    await keyField.click();
    await page.getByRole('option', { name: /^older / }).click();
    await page.getByRole('button', { name: 'Send' }).click();
    await page.getByTestId('response-status').waitFor();

    await page.reload();
    await page.getByRole('heading', { level: 1, name: 'Test requests' }).waitFor();
    assert.match(
      await until(picked, (v) => v.startsWith('older ')),
      /^older /,
      'after a reload, the key last sent with',
    );
    const stored = String(await page.evaluate('JSON.stringify(window.localStorage)'));
    assert.ok(stored.includes(older.id), `the key's id is kept: ${stored}`);
    assert.ok(!stored.includes(older.key), 'never its secret');

    // Gone (revoked): the newest again.
    assert.equal((await server.admin('POST', `/admin/v1/keys/${older.id}/revoke`)).status, 200);
    await page.reload();
    await page.getByRole('heading', { level: 1, name: 'Test requests' }).waitFor();
    assert.match(
      await until(picked, (v) => v.startsWith('newer ')),
      /^newer /,
      'a revoked key is not preselected',
    );
  });
});
