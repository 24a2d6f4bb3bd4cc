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
import { startReceiver } from './helpers/receiver.ts';
import { ordersSchema, startDeliveringServer, startTestServer, type TestServer } from './helpers/server.ts';
import { until } from './helpers/until.ts';

const DESKTOP = { width: 1280, height: 800 };

const PHONE = { width: 390, height: 844 };

/**
 * A wide table's scroll container: how far its content runs past the right of what is shown, and
 * whether each edge's shadow is on (its opacity).
 */
async function edges(scroll: Locator): Promise<{ hidden: number; left: string; right: string }> {
  return scroll.evaluate((element) => {
    const viewport = element.querySelector('.mantine-ScrollArea-viewport');
    const view = element.ownerDocument.defaultView;
    return {
      hidden: viewport ? viewport.scrollWidth - viewport.clientWidth - viewport.scrollLeft : Number.NaN,
      left: view?.getComputedStyle(element, '::before').opacity ?? '',
      right: view?.getComputedStyle(element, '::after').opacity ?? '',
    };
  });
}

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
  async function signIn(viewport = DESKTOP, at = server): Promise<void> {
    await owner?.close();
    owner = await openBrowser(at.url);
    ({ page } = owner);
    await page.setViewportSize(viewport);
    await signInAsOwner(page, at.url);
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

  test("the deliveries' endpoint filter is a list of the endpoints to pick from, searched by typing", async () => {
    // Its own server, with a webhook worker (it writes the queued records and attempts deliveries).
    const receiver = await startReceiver();
    const hooks = await startDeliveringServer();
    try {
      const key = await hooks.createKey({ name: 'writer', environment: 'test' });
      for (const [slug, name] of [
        ['orders', 'Orders'],
        ['invoices', 'Invoices'],
      ]) {
        await hooks.createEndpoint({ slug, name, schema: ordersSchema });
        await hooks.admin('POST', `/admin/v1/endpoints/${slug}/webhooks`, {
          url: `${receiver.url}/${slug}`,
          environment: 'test',
        });
        const write = await hooks.request('POST', `/api/v1/data/${slug}`, {
          key: key.key,
          json: { order_id: `${slug}-1`, amount: 1 },
        });
        assert.equal(write.status, 202, write.text);
      }
      await until(
        async () => (await hooks.admin('GET', '/admin/v1/deliveries')).body.data.length,
        (n) => n === 2,
      );
      await signIn(DESKTOP, hooks);
      await page.goto(`${hooks.url}/#/deliveries`);
      const rows = page.getByTestId('delivery-row');
      await until(
        () => rows.count(),
        (n) => n === 2,
      );
      // The endpoints are listed by name and slug; typing narrows the list.
      const picker = page.getByLabel('Endpoint', { exact: true }).first();
      await picker.click();
      const options = page.getByRole('option');
      const listed = () => options.allTextContents();
      assert.deepEqual(await until(listed, (names) => names.length === 2), [
        'Invoices (invoices)',
        'Orders (orders)',
      ]);
      await picker.fill('ord');
      assert.deepEqual(await until(listed, (names) => names.length === 1), ['Orders (orders)']);
      await options.first().click();
      assert.equal(await picker.inputValue(), 'Orders (orders)');
      await page.getByRole('button', { name: 'Apply filters' }).click();
      await until(
        () => rows.count(),
        (n) => n === 1,
      );
      await rows.getByText(/^orders · /).waitFor();
      // Cleared, every endpoint's deliveries again.
      await page.getByRole('button', { name: 'Any endpoint' }).click();
      assert.equal(await picker.inputValue(), '');
      await page.getByRole('button', { name: 'Apply filters' }).click();
      await until(
        () => rows.count(),
        (n) => n === 2,
      );
    } finally {
      await owner?.close();
      owner = undefined;
      await hooks.close();
      await receiver.close();
    }
  });

  test('on a phone, a table wider than the screen shows a shadow on the side with more, gone at its end and on a desktop', async () => {
    await server.admin('POST', '/admin/v1/endpoints/orders/webhooks', {
      url: 'https://example.com/wide',
      environment: 'test',
    });
    await server.createKey({ name: 'partner', environment: 'test' });
    await server.admin('POST', '/admin/v1/tokens', { name: 'ci' });
    await server.admin('POST', '/admin/v1/invites', { email: 'friend@example.com' });
    await signIn(PHONE);
    for (const [path, tables] of [
      ['endpoints', 1],
      ['keys', 1],
      ['tokens', 1],
      ['webhooks/orders', 1],
      ['collaborators', 2],
      ['audit', 1],
    ] as const) {
      await page.setViewportSize(PHONE);
      await page.goto(`${server.url}/#/${path}`);
      const scrolls = page.getByTestId('table-scroll');
      await until(
        () => scrolls.count(),
        (n) => n === tables,
      );
      for (let i = 0; i < tables; i++) {
        const scroll = scrolls.nth(i);
        await scroll.locator('tbody tr').first().waitFor();
        // Rows run past the right edge: the shadow there says so.
        const start = await until(
          () => edges(scroll),
          (e) => e.right === '1',
        );
        assert.deepEqual(
          { ...start, hidden: start.hidden > 0 },
          { hidden: true, left: '0', right: '1' },
          path,
        );
        // Scrolled to the end, the shadow moves to the left edge.
        await scroll
          .locator('.mantine-ScrollArea-viewport')
          .evaluate((viewport) => viewport.scrollTo({ left: viewport.scrollWidth }));
        const end = await until(
          () => edges(scroll),
          (e) => e.right === '0' && e.left === '1',
        );
        assert.deepEqual(end, { hidden: 0, left: '1', right: '0' }, `${path} scrolled to the end`);
      }
      // On a desktop the whole table shows: no shadow.
      await page.setViewportSize(DESKTOP);
      for (let i = 0; i < tables; i++) {
        const wide = await until(
          () => edges(scrolls.nth(i)),
          (e) => e.right === '0' && e.left === '0',
        );
        assert.deepEqual(wide, { hidden: 0, left: '0', right: '0' }, `${path} at 1280 px`);
      }
    }
  });

  test('Back or Forward from unsaved endpoint edits asks first: Cancel keeps them; with none, nothing asks', async () => {
    await server.createEndpoint({ slug: 'drafty', name: 'Drafty', schema: ordersSchema });
    await signIn();
    const asked: string[] = [];
    let answer = false;
    page.on('dialog', (dialog) => {
      asked.push(dialog.message());
      void (answer ? dialog.accept() : dialog.dismiss());
    });
    await page.getByRole('link', { name: 'drafty' }).click();
    await page.getByRole('heading', { level: 1, name: 'Drafty' }).waitFor();
    await page.getByRole('button', { name: 'Add field' }).click();
    await page
      .getByRole('group', { name: /^Field 6/ })
      .getByLabel('Field name')
      .fill('note');

    // Back asks; Cancel stays on the page, the edit with it.
    await page.evaluate('history.back()');
    await until(
      async () => asked.length,
      (n) => n === 1,
    );
    assert.match(asked[0] ?? '', /unsaved changes to this endpoint/);
    await until(
      async () => page.url(),
      (url) => url.endsWith('#/endpoints/drafty'),
    );
    assert.equal(await page.getByRole('group', { name: 'Field 6: note' }).count(), 1);
    assert.equal(await page.getByRole('heading', { level: 1, name: 'Drafty' }).count(), 1);
    // Back still goes back, once agreed to.
    answer = true;
    await page.evaluate('history.back()');
    await page.getByRole('heading', { level: 1, name: 'Endpoints' }).waitFor();
    assert.equal(asked.length, 2);

    // Forward to the endpoint, now with nothing unsaved: Back and Forward ask nothing.
    await page.evaluate('history.forward()');
    await page.getByRole('heading', { level: 1, name: 'Drafty' }).waitFor();
    assert.equal(await page.getByRole('group', { name: 'Field 6: note' }).count(), 0);
    await page.evaluate('history.back()');
    await page.getByRole('heading', { level: 1, name: 'Endpoints' }).waitFor();
    await page.evaluate('history.forward()');
    await page.getByRole('heading', { level: 1, name: 'Drafty' }).waitFor();
    assert.equal(asked.length, 2);

    // Forward asks too (the endpoint left for API keys, then Back to it and an edit).
    await page.getByRole('navigation').getByRole('link', { name: 'API keys' }).click();
    await page.getByRole('heading', { level: 1, name: 'API keys' }).waitFor();
    await page.evaluate('history.back()');
    await page.getByRole('heading', { level: 1, name: 'Drafty' }).waitFor();
    assert.equal(asked.length, 2);
    answer = false;
    await page.getByRole('button', { name: 'Add field' }).click();
    await page
      .getByRole('group', { name: /^Field 6/ })
      .getByLabel('Field name')
      .fill('note');
    await page.evaluate('history.forward()');
    await until(
      async () => asked.length,
      (n) => n === 3,
    );
    await until(
      async () => page.url(),
      (url) => url.endsWith('#/endpoints/drafty'),
    );
    assert.equal(await page.getByRole('group', { name: 'Field 6: note' }).count(), 1);

    // Deleting the endpoint says the edits go with it, and then goes to the list unasked.
    await page.getByRole('button', { name: 'Delete endpoint' }).click();
    const confirm = page.getByRole('dialog', { name: 'Delete drafty?' });
    await confirm.getByText('Your unsaved changes go with it.').waitFor();
    await confirm.getByRole('button', { name: 'Delete endpoint' }).click();
    await page.getByRole('heading', { level: 1, name: 'Endpoints' }).waitFor();
    assert.equal(asked.length, 3);
    assert.equal((await server.admin('GET', '/admin/v1/endpoints/drafty')).status, 404);
  });
  test('leaving the app editor with unsaved edits asks first; an untouched new app or a saved one does not', async () => {
    const made = await server.admin('POST', '/admin/v1/apps', {
      slug: 'shop',
      name: 'Shop',
      routes: [
        {
          method: 'GET',
          path: '/hi',
          auth: 'public',
          steps: [
            { name: 'recent', type: 'find', endpoint: 'orders', limit: 1 },
            { name: 'out', type: 'respond', body: "'hi'" },
          ],
        },
      ],
    });
    assert.equal(made.status, 201, made.text);
    await signIn();
    const asked: string[] = [];
    const answer = false;
    page.on('dialog', (dialog) => {
      asked.push(dialog.message());
      void (answer ? dialog.accept() : dialog.dismiss());
    });
    const nav = page.getByRole('navigation');
    // A new app left as it opened: nothing to lose, nothing asked.
    await page.goto(`${server.url}/#/apps/_new`);
    await page.getByRole('heading', { level: 1, name: 'New app' }).waitFor();
    await nav.getByRole('link', { name: 'API keys' }).click();
    await page.getByRole('heading', { level: 1, name: 'API keys' }).waitFor();
    assert.equal(asked.length, 0);

    // An edited draft: a link and Back ask; Cancel keeps the edit.
    await page.goto(`${server.url}/#/apps/shop`);
    await page.getByRole('heading', { level: 1, name: 'Shop' }).waitFor();
    await page.getByRole('textbox', { name: 'Name', exact: true }).fill('Shop 2');
    await nav.getByRole('link', { name: 'API keys' }).click();
    await until(
      async () => asked.length,
      (n) => n === 1,
    );
    assert.match(asked[0] ?? '', /unsaved changes to this app/);
    assert.equal(await page.getByRole('textbox', { name: 'Name', exact: true }).inputValue(), 'Shop 2');
    await page.evaluate('history.back()');
    await until(
      async () => asked.length,
      (n) => n === 2,
    );
    await until(
      async () => page.url(),
      (url) => url.endsWith('#/apps/shop'),
    );
    assert.equal(await page.getByRole('textbox', { name: 'Name', exact: true }).inputValue(), 'Shop 2');

    // Saved: leaving asks nothing.
    await page.getByRole('button', { name: 'Save draft' }).click();
    await until(
      async () => (await server.admin('GET', '/admin/v1/apps/shop')).body.data.name,
      (name) => name === 'Shop 2',
    );
    await page.getByRole('button', { name: 'Save draft' }).and(page.locator('[disabled]')).waitFor();
    // Deploying asks first, and names the endpoint its steps use that is not live (orders was
    // never deployed): a live call would be refused.
    await page.getByRole('button', { name: 'Deploy', exact: true }).click();
    const question = page.getByRole('dialog', { name: 'Deploy version 1?' });
    const idle = question.getByTestId('deploy-idle-endpoints');
    await idle.waitFor();
    assert.match(
      String(await idle.textContent()),
      /orders is not deployed to live, or inactive: live calls whose steps use it answer 403/,
    );
    await question.getByRole('button', { name: 'Cancel' }).click();
    await question.waitFor({ state: 'hidden' });
    assert.equal((await server.admin('GET', '/admin/v1/apps/shop')).body.data.live_version, null);

    await nav.getByRole('link', { name: 'API keys' }).click();
    await page.getByRole('heading', { level: 1, name: 'API keys' }).waitFor();
    assert.equal(asked.length, 2);
  });
});
