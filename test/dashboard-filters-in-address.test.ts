import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import type { Page } from 'playwright-core';
import {
  type Browser,
  ensureDashboardBuilt,
  NEEDS_CHROMIUM,
  ownerBrowser,
} from './helpers/dashboard-browser.ts';
import { type Receiver, startReceiver } from './helpers/receiver.ts';
import { ordersSchema, startDeliveringServer, type TestServer } from './helpers/server.ts';
import { until } from './helpers/until.ts';

/** Waits for the page's address to be `hash`; fails saying the last one seen. */
async function addressBecomes(on: Page, hash: string): Promise<void> {
  const seen = await until(
    async () => new URL(on.url()).hash,
    (now) => now === hash,
  );
  assert.equal(seen, hash);
}

/** Each delivery row's "endpoint · record" line, as shown, once the list has loaded. */
async function deliveriesShown(on: Page): Promise<string[]> {
  await on.getByTestId('delivery-row').first().or(on.getByText('No deliveries match the filters')).waitFor();
  return (
    await on.getByTestId('delivery-row').locator('td:first-child p:nth-child(2)').allTextContents()
  ).sort();
}

/**
 * The owner's browser on `origin`, which puts into `asked` every admin list matching `lists` the
 * page asks for, and into `refused` every answer it is refused (status and URL).
 */
async function watchedBrowser(origin: string, lists: RegExp, asked: string[], refused: string[]) {
  const browser = await ownerBrowser(origin);
  browser.page.on('request', (request) => {
    if (lists.test(request.url())) asked.push(request.url());
  });
  browser.page.on('response', (response) => {
    if (response.status() >= 400) refused.push(`${response.status()} ${response.url()}`);
  });
  return browser;
}

async function closeAll(browser: Browser | undefined, server?: TestServer, receiver?: Receiver) {
  await browser?.close();
  await server?.close();
  await receiver?.close();
}

/**
 * The Deliveries and Audit log pages keep their filters in the address, as the Usage page does:
 * a reload or a shared link shows the same list, and a value typed there that is not a choice is
 * the default, never sent to the server.
 */
describe('dashboard list filters kept in the address, in a real browser', NEEDS_CHROMIUM, () => {
  let server: TestServer;
  let receiver: Receiver;
  let browser: Browser | undefined;
  let page: Page;
  /** Every admin list asked for, and every answer the page was refused (status and URL). */
  const asked: string[] = [];
  const refused: string[] = [];
  let orderRecord = '';

  /** Each audit row's action, as shown, once the list has loaded. */
  async function actionsShown(on: Page): Promise<string[]> {
    await on.getByTestId('audit-row').first().or(on.getByText('No entries match the filters')).waitFor();
    return (await on.getByTestId('audit-row').locator('td:nth-child(3)').allTextContents()).sort();
  }

  before(async () => {
    ensureDashboardBuilt();
    receiver = await startReceiver();
    // Orders' deliveries succeed; invoices' are answered 500, so they stay pending (retried later).
    receiver.respond = (received) => ({ status: received.url.includes('invoices') ? 500 : 200 });
    server = await startDeliveringServer();
    const key = await server.createKey({ name: 'writer', environment: 'test' });
    for (const slug of ['orders', 'invoices']) {
      await server.createEndpoint({
        slug,
        name: slug === 'orders' ? 'Orders' : 'Invoices',
        schema: ordersSchema,
      });
      const hook = await server.admin('POST', `/admin/v1/endpoints/${slug}/webhooks`, {
        url: `${receiver.url}/${slug}`,
        events: ['record.created'],
        environment: 'test',
      });
      assert.equal(hook.status, 201, hook.text);
    }
    for (const [slug, count] of [
      ['orders', 2],
      ['invoices', 1],
    ] as const) {
      for (let i = 0; i < count; i++) {
        const written = await server.request('POST', `/api/v1/data/${slug}`, {
          key: key.key,
          json: { order_id: `O-${i}`, amount: i },
        });
        assert.equal(written.status, 202, written.text);
        if (slug === 'orders') orderRecord = written.body.id;
      }
    }
    type Listed = Array<{ endpoint: string; status: string; attempt_count: number }>;
    const listed = await until(
      async (): Promise<Listed> => (await server.admin('GET', '/admin/v1/deliveries?limit=100')).body.data,
      (list) => list.length === 3 && list.every((d) => d.attempt_count >= 1),
    );
    assert.deepEqual(listed.map((d) => `${d.endpoint} ${d.status}`).sort(), [
      'invoices pending',
      'orders succeeded',
      'orders succeeded',
    ]);
    browser = await watchedBrowser(server.url, /\/admin\/v1\/(deliveries|audit)\?/, asked, refused);
    page = browser.page;
  });
  after(() => closeAll(browser, server, receiver));

  test('the Deliveries filters picked stay in the address: a reload or the link shows the same list', async () => {
    await page.goto(`${server.url}/#/deliveries`);
    assert.equal((await deliveriesShown(page)).length, 3);
    const entries = await page.evaluate('history.length');
    await page
      .getByRole('radiogroup', { name: 'Filter by status' })
      .getByText('succeeded', { exact: true })
      .click();
    await page.getByLabel('Endpoint', { exact: true }).first().click();
    await page.getByRole('option', { name: 'Orders (orders)', exact: true }).click();
    await page.getByRole('textbox', { name: 'Record id' }).fill(` ${orderRecord} `);
    await page.getByRole('button', { name: 'Apply filters' }).click();
    await addressBecomes(page, `#/deliveries?status=succeeded&endpoint=orders&record_id=${orderRecord}`);
    const filtered = await until(
      () => deliveriesShown(page),
      (rows) => rows.length === 1,
    );
    assert.deepEqual(filtered, [`orders · ${orderRecord}`]);
    assert.equal(await page.evaluate('history.length'), entries, 'a filter adds no history entry');

    await page.reload();
    assert.deepEqual(await deliveriesShown(page), filtered);
    const status = page.getByRole('radiogroup', { name: 'Filter by status' });
    assert.equal(await status.locator('input:checked').getAttribute('value'), 'succeeded');
    assert.equal(await page.getByLabel('Endpoint', { exact: true }).first().inputValue(), 'Orders (orders)');
    assert.equal(await page.getByRole('textbox', { name: 'Record id' }).inputValue(), orderRecord);

    // The link, opened in another tab: the pending invoice only.
    const shared = await page.context().newPage();
    try {
      await shared.goto(`${server.url}/#/deliveries?status=pending&endpoint=invoices`);
      assert.deepEqual(
        (await deliveriesShown(shared)).map((row) => row.split(' · ')[0]),
        ['invoices'],
      );
    } finally {
      await shared.close();
    }

    // Clear keeps the status; All takes it out of the address too.
    await page.getByRole('button', { name: 'Clear' }).click();
    await addressBecomes(page, '#/deliveries?status=succeeded');
    const succeeded = await until(
      () => deliveriesShown(page),
      (rows) => rows.length === 2,
    );
    assert.equal(succeeded.length, 2);
    await status.getByText('all', { exact: true }).click();
    await addressBecomes(page, '#/deliveries');
    assert.equal(await page.getByRole('textbox', { name: 'Record id' }).inputValue(), '');
  });

  test('in a Deliveries address, a status or endpoint that is not one is All, asking the server nothing it refuses', async () => {
    asked.length = 0;
    refused.length = 0;
    await page.goto(
      `${server.url}/#/deliveries?status=delivered&endpoint=nope&request_id=&record_id=${orderRecord}`,
    );
    await page.reload();
    // The record asked for is still what is listed; the status and endpoint are any.
    assert.deepEqual(await deliveriesShown(page), [`orders · ${orderRecord}`]);
    assert.equal(await page.getByRole('textbox', { name: 'Record id' }).inputValue(), orderRecord);
    const status = page.getByRole('radiogroup', { name: 'Filter by status' });
    assert.equal(await status.locator('input:checked').getAttribute('value'), 'all');
    assert.equal(await page.getByLabel('Endpoint', { exact: true }).first().inputValue(), '');
    assert.deepEqual(refused, []);
    assert.ok(asked.length > 0);
    for (const url of asked) {
      const query = new URL(url).searchParams;
      assert.equal(query.get('status'), null, url);
      assert.equal(query.get('endpoint'), null, url);
    }
  });

  test('the Audit log filters stay in the address; an action it does not offer is Any action', async () => {
    await page.goto(`${server.url}/#/audit`);
    assert.ok((await actionsShown(page)).includes('key.create'));
    await page.getByRole('textbox', { name: 'Actor' }).fill('owner@example.com ');
    await page.getByLabel('Action', { exact: true }).first().click();
    await page.getByRole('option', { name: 'webhook.create', exact: true }).click();
    await addressBecomes(page, '#/audit?actor=owner%40example.com&action=webhook.create');
    assert.deepEqual(
      await until(
        () => actionsShown(page),
        (rows) => rows.every((action) => action === 'webhook.create'),
      ),
      ['webhook.create', 'webhook.create'],
    );

    await page.reload();
    assert.deepEqual(await actionsShown(page), ['webhook.create', 'webhook.create']);
    assert.equal(await page.getByRole('textbox', { name: 'Actor' }).inputValue(), 'owner@example.com');
    assert.equal(await page.getByLabel('Action', { exact: true }).first().inputValue(), 'webhook.create');

    // Another actor, from the address: the field follows it.
    await page.goto(`${server.url}/#/audit?actor=nobody%40example.com`);
    await page.getByText('No entries match the filters').waitFor();
    assert.equal(await page.getByRole('textbox', { name: 'Actor' }).inputValue(), 'nobody@example.com');

    // Typed by hand: an action the log does not record (the server would answer 400) is Any action.
    asked.length = 0;
    refused.length = 0;
    await page.goto(`${server.url}/#/audit?action=key.revoked`);
    await page.reload();
    const all = await actionsShown(page);
    assert.ok(all.includes('key.create') && all.includes('endpoint.create'), all.join());
    assert.equal(await page.getByLabel('Action', { exact: true }).first().inputValue(), '');
    assert.deepEqual(refused, []);
    for (const url of asked) assert.equal(new URL(url).searchParams.get('action'), null, url);
    assert.deepEqual(
      (browser?.errors ?? []).filter((error) => error.startsWith('pageerror')),
      [],
    );
  });
});

/**
 * Deliveries in production and in the sandbox are listed apart or together (Both, the default, as
 * before the page could pick), and by event type; each row says its environment. Both pickers are
 * kept in the address as the other filters are.
 */
describe('the Deliveries environment and event pickers, in a real browser', NEEDS_CHROMIUM, () => {
  let server: TestServer;
  let receiver: Receiver;
  let browser: Browser | undefined;
  let page: Page;
  const asked: string[] = [];
  const refused: string[] = [];

  /** Each delivery row's event type and environment badge ("record.created test"), once loaded. */
  async function rowsShown(on: Page): Promise<string[]> {
    await on
      .getByTestId('delivery-row')
      .first()
      .or(on.getByText('No deliveries match the filters'))
      .waitFor();
    const rows = on.getByTestId('delivery-row');
    const events = await rows.locator('td:nth-child(1) p:first-child').allTextContents();
    const environments = await rows.locator('td:nth-child(2)').allTextContents();
    return events.map((event, i) => `${event} ${environments[i]}`).sort();
  }

  /** Waits for the rows shown to be `expected` (the list reloads after a pick). */
  async function rowsBecome(expected: string[]): Promise<void> {
    const seen = await until(
      () => rowsShown(page),
      (rows) => rows.join() === expected.join(),
    );
    assert.deepEqual(seen, expected);
  }

  before(async () => {
    ensureDashboardBuilt();
    receiver = await startReceiver();
    server = await startDeliveringServer();
    await server.createEndpoint({ slug: 'orders', name: 'Orders', schema: ordersSchema });
    const deployed = await server.admin('POST', '/admin/v1/endpoints/orders/deploy');
    assert.ok(deployed.status < 300, deployed.text);
    for (const [environment, events] of [
      ['test', ['record.created', 'record.deleted']],
      ['live', ['record.created']],
    ] as const) {
      const hook = await server.admin('POST', '/admin/v1/endpoints/orders/webhooks', {
        url: `${receiver.url}/${environment}`,
        events,
        environment,
      });
      assert.equal(hook.status, 201, hook.text);
    }
    // The sandbox: a record created, then deleted; production: a record created.
    const testKey = await server.createKey({ name: 'sandbox writer', environment: 'test' });
    const liveKey = await server.createKey({ name: 'live writer', environment: 'live' });
    const tried = await server.request('POST', '/api/v1/data/orders', {
      key: testKey.key,
      json: { order_id: 'T-1', amount: 1 },
    });
    assert.equal(tried.status, 202, tried.text);
    const deleted = await server.request('DELETE', `/api/v1/data/orders/${tried.body.id}`, {
      key: testKey.key,
    });
    assert.equal(deleted.status, 202, deleted.text);
    const sold = await server.request('POST', '/api/v1/data/orders', {
      key: liveKey.key,
      json: { order_id: 'L-1', amount: 2 },
    });
    assert.equal(sold.status, 202, sold.text);
    type Listed = Array<{ event_type: string; environment: string; status: string }>;
    const listed = await until(
      async (): Promise<Listed> => (await server.admin('GET', '/admin/v1/deliveries?limit=100')).body.data,
      (list) => list.length === 3 && list.every((d) => d.status === 'succeeded'),
    );
    assert.deepEqual(listed.map((d) => `${d.event_type} ${d.environment} ${d.status}`).sort(), [
      'record.created live succeeded',
      'record.created test succeeded',
      'record.deleted test succeeded',
    ]);
    browser = await watchedBrowser(server.url, /\/admin\/v1\/deliveries\?/, asked, refused);
    page = browser.page;
  });
  after(() => closeAll(browser, server, receiver));

  test('Sandbox, Production and an event type list only those deliveries, and stay in the address', async () => {
    await page.goto(`${server.url}/#/deliveries`);
    // Both by default, as before: nothing changes for a link without the picker.
    await rowsBecome(['record.created live', 'record.created test', 'record.deleted test']);
    const environment = page.getByRole('radiogroup', { name: 'Environment' });
    assert.equal(await environment.locator('input:checked').getAttribute('value'), 'both');
    const event = page.getByLabel('Event', { exact: true }).first();
    assert.equal(await event.inputValue(), 'Any event');
    const entries = await page.evaluate('history.length');

    asked.length = 0;
    await environment.getByText('Sandbox', { exact: true }).click();
    await addressBecomes(page, '#/deliveries?environment=test');
    await rowsBecome(['record.created test', 'record.deleted test']);
    await event.click();
    await page.getByRole('option', { name: 'record.deleted', exact: true }).click();
    await addressBecomes(page, '#/deliveries?environment=test&event_type=record.deleted');
    await rowsBecome(['record.deleted test']);
    const last = new URL(asked.at(-1) ?? '').searchParams;
    assert.equal(last.get('environment'), 'test');
    assert.equal(last.get('event_type'), 'record.deleted');
    assert.equal(await page.evaluate('history.length'), entries, 'a pick adds no history entry');

    await page.reload();
    await rowsBecome(['record.deleted test']);
    assert.equal(await environment.locator('input:checked').getAttribute('value'), 'test');
    assert.equal(await event.inputValue(), 'record.deleted');

    // Production has no deleted record: the filters, not the installation, are empty.
    await environment.getByText('Production', { exact: true }).click();
    await addressBecomes(page, '#/deliveries?environment=live&event_type=record.deleted');
    await page.getByText('No deliveries match the filters').waitFor();
    assert.deepEqual(await rowsShown(page), []);

    // The Record id form's Clear leaves the pickers, as it leaves the status.
    await page.getByRole('button', { name: 'Clear' }).click();
    await addressBecomes(page, '#/deliveries?environment=live&event_type=record.deleted');
    await event.click();
    await page.getByRole('option', { name: 'record.created', exact: true }).click();
    await addressBecomes(page, '#/deliveries?environment=live&event_type=record.created');
    await rowsBecome(['record.created live']);

    await environment.getByText('Both', { exact: true }).click();
    await addressBecomes(page, '#/deliveries?event_type=record.created');
    await rowsBecome(['record.created live', 'record.created test']);
    await event.click();
    await page.getByRole('option', { name: 'Any event', exact: true }).click();
    await addressBecomes(page, '#/deliveries');
    await rowsBecome(['record.created live', 'record.created test', 'record.deleted test']);
    assert.deepEqual(refused, []);
  });

  test('an environment or event type typed in the address that is not one is the default, never sent', async () => {
    for (const typed of [
      'environment=production&event_type=record.removed',
      'environment=LIVE&event_type=',
      'environment=&event_type=RECORD.DELETED',
    ]) {
      asked.length = 0;
      refused.length = 0;
      await page.goto(`${server.url}/#/deliveries?${typed}`);
      await page.reload();
      await rowsBecome(['record.created live', 'record.created test', 'record.deleted test']);
      const environment = page.getByRole('radiogroup', { name: 'Environment' });
      assert.equal(await environment.locator('input:checked').getAttribute('value'), 'both', typed);
      assert.equal(await page.getByLabel('Event', { exact: true }).first().inputValue(), 'Any event', typed);
      assert.deepEqual(refused, [], typed);
      assert.ok(asked.length > 0, typed);
      for (const url of asked) {
        const query = new URL(url).searchParams;
        assert.equal(query.get('environment'), null, url);
        assert.equal(query.get('event_type'), null, url);
      }
    }
    assert.deepEqual(
      (browser?.errors ?? []).filter((error) => error.startsWith('pageerror')),
      [],
    );
  });
});
