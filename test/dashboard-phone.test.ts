import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import { after, before, describe, test } from 'node:test';
import type { Locator, Page } from 'playwright-core';
import { buildApp, createServices } from '../src/app.ts';
import { loadConfig } from '../src/config.ts';
import {
  type Browser,
  CHROMIUM,
  ensureDashboardBuilt,
  openBrowser,
  type PhoneScreen,
  readClipboard,
  signInAsOwner,
} from './helpers/dashboard-browser.ts';
import { createTestDatabase } from './helpers/database.ts';
import { type Receiver, startReceiver } from './helpers/receiver.ts';
import { ordersSchema, startDeliveringServer, type TestServer } from './helpers/server.ts';
import { until } from './helpers/until.ts';

/** The narrowest phone in use (iPhone SE, first generation), and with the common small one. */
const NARROWEST: PhoneScreen = { width: 320, height: 568 };
const PHONES: PhoneScreen[] = [NARROWEST, { width: 375, height: 667 }];

/** Values without a space, as long as they may be: a name (200), a slug (63), an email. */
const LONG_NAME = 'x'.repeat(200);
const LONG_SLUG = `a${'b'.repeat(62)}`;
const LONG_EMAIL = `${'erin'.repeat(20)}@example.com`;

/** Every page of the dashboard an owner has, by its hash route and its heading. */
const PAGES: [route: string, heading: string][] = [
  ['endpoints', 'Endpoints'],
  ['endpoints/orders', 'Orders'],
  [`endpoints/${LONG_SLUG}`, LONG_NAME],
  ['endpoints/_new', 'New endpoint'],
  ['apps', 'App APIs'],
  ['apps/_new', 'New app'],
  ['apps/shop', LONG_NAME],
  ['keys', 'API keys'],
  ['test', 'Test requests'],
  ['console', 'Production console'],
  ['webhooks', 'Webhooks'],
  ['deliveries', 'Deliveries'],
  ['usage', 'Usage'],
  ['collaborators', 'Collaborators'],
  ['tokens', 'CLI tokens'],
  ['audit', 'Audit log'],
  ['account', 'Account'],
];

/** How far the page runs past the right edge of the screen (0: no sideways scroll). */
async function pageOverflow(page: Page): Promise<number> {
  return Number(await page.evaluate('document.scrollingElement.scrollWidth - window.innerWidth'));
}

/**
 * Each table cell wider than the part of its table on screen: a long value that widened its cell
 * pushed the row's other cells (its status, its actions) screens away, a swipe each.
 */
async function overwideCells(page: Page): Promise<string[]> {
  return page
    .getByTestId('table-scroll')
    .evaluateAll((scrolls) =>
      scrolls.flatMap((scroll) =>
        [...scroll.querySelectorAll('td')]
          .filter((cell) => cell.getBoundingClientRect().width > scroll.clientWidth)
          .map(
            (cell) =>
              `${Math.round(cell.getBoundingClientRect().width)}px: ${cell.textContent?.slice(0, 40)}`,
          ),
      ),
    );
}

/** Whether `inner` lies within `outer` from left to right (a pixel of slack for rounding). */
async function horizontallyWithin(inner: Locator, outer: Locator): Promise<boolean> {
  const a = await inner.boundingBox();
  const b = await outer.boundingBox();
  return a !== null && b !== null && a.x >= b.x - 1 && a.x + a.width <= b.x + b.width + 1;
}

/** Whether the whole of `element` is on the screen now. */
type Box = NonNullable<Awaited<ReturnType<Locator['boundingBox']>>>;

/**
 * Asserts that `element` lies wholly within the screen once it has settled: a dialog moves for
 * 200 ms as it opens, and a busy CI host may sample it mid-move, so the box is read again for up
 * to 3 s before the assertion fails with the last box it saw.
 */
async function assertOnScreen(page: Page, element: Locator, what: string): Promise<void> {
  const size = page.viewportSize();
  assert.ok(size, 'the page has a viewport');
  const fits = (box: Box | null): boolean =>
    box !== null &&
    box.x >= -1 &&
    box.y >= -1 &&
    box.x + box.width <= size.width + 1 &&
    box.y + box.height <= size.height + 1;
  const box = await until(() => element.boundingBox(), fits, 3_000);
  assert.ok(fits(box), `${what}: ${JSON.stringify(box)} is not within ${size.width}x${size.height}`);
}

/**
 * The dashboard on a phone (320 and 375 CSS pixels wide, touch): no page scrolls sideways, a long
 * value wraps instead of widening its table, dialog or chart, the menu reaches every page, the
 * shown-once secret is all on screen and copied, and fields that take ids and JSON are not
 * capitalised or "corrected" by the phone's keyboard.
 */
describe('dashboard on a phone', {
  skip: existsSync(CHROMIUM) ? false : `${CHROMIUM} is not installed (.ci/run installs it)`,
}, () => {
  let server: TestServer;
  let receiver: Receiver;
  let owner: Browser | undefined;
  let page: Page;

  before(async () => {
    ensureDashboardBuilt();
    // A delivery for the deliveries page: the worker sends the record's event to the receiver.
    receiver = await startReceiver();
    server = await startDeliveringServer();
    await server.createEndpoint({ slug: 'orders', name: 'Orders', schema: ordersSchema });
    const hook = await server.admin('POST', '/admin/v1/endpoints/orders/webhooks', {
      url: receiver.url,
      environment: 'test',
    });
    assert.equal(hook.status, 201, hook.text);
    await server.createEndpoint({ slug: LONG_SLUG, name: LONG_NAME, schema: ordersSchema });
    const key = await server.createKey({ name: LONG_NAME, environment: 'test', scopes: ['*'] });
    const written = await server.request('POST', '/api/v1/data/orders', {
      key: key.key,
      json: { order_id: 'O-1', amount: 1 },
    });
    assert.equal(written.status, 202, written.text);
    const app = await server.admin('POST', '/admin/v1/apps', { slug: 'shop', name: LONG_NAME, routes: [] });
    assert.equal(app.status, 201, app.text);
    const invited = await server.admin('POST', '/admin/v1/invites', { email: LONG_EMAIL });
    assert.equal(invited.status, 201, invited.text);
    await receiver.waitFor(1);
  });
  after(async () => {
    await owner?.close();
    await server?.close();
    await receiver?.close();
  });

  async function signIn(phone: PhoneScreen): Promise<void> {
    await owner?.close();
    owner = await openBrowser(server.url, phone);
    ({ page } = owner);
    await signInAsOwner(page, server.url);
  }

  for (const phone of PHONES) {
    test(`${phone.width}px: no page scrolls sideways and no long value widens a table cell past the screen`, async () => {
      await signIn(phone);
      for (const [route, heading] of PAGES) {
        await page.goto(`${server.url}/#/${route}`);
        await page.getByRole('heading', { level: 1, name: heading, exact: true }).waitFor();
        // Lists and charts come in after the heading.
        await page.waitForLoadState('networkidle');
        assert.equal(await pageOverflow(page), 0, `#/${route} scrolls sideways at ${phone.width}px`);
        assert.deepEqual(await overwideCells(page), [], `#/${route} at ${phone.width}px`);
      }
    });

    test(`${phone.width}px: the menu reaches every page and closes once one is chosen`, async () => {
      await signIn(phone);
      const burger = page.getByRole('button', { name: 'Toggle navigation' });
      await assertOnScreen(page, burger, 'the menu button is on screen');
      const box = await burger.boundingBox();
      assert.ok(
        box && box.width >= 24 && box.height >= 24,
        `a touch target of 24px or more: ${JSON.stringify(box)}`,
      );
      const nav = page.getByRole('navigation', { name: 'Main navigation' });
      await burger.tap();
      for (const [, label] of PAGES.filter(([route]) => !route.includes('/'))) {
        const link = nav.getByRole('link', { name: label === 'App APIs' ? 'App APIs' : label, exact: true });
        await link.scrollIntoViewIfNeeded();
        await assertOnScreen(page, link, `${label} is reachable in the menu`);
      }
      await nav.getByRole('link', { name: 'Usage', exact: true }).tap();
      await page.getByRole('heading', { level: 1, name: 'Usage' }).waitFor();
      await until(
        () => burger.getAttribute('aria-expanded'),
        (expanded) => expanded === 'false',
      );
      assert.equal(await pageOverflow(page), 0);
    });

    test(`${phone.width}px: a new key's dialog fits, and its secret is all on screen and copied`, async () => {
      await signIn(phone);
      await page.goto(`${server.url}/#/keys`);
      await page.getByRole('button', { name: 'Create key' }).tap();
      const create = page.getByRole('dialog', { name: 'Create an API key' });
      await create.getByLabel('Name').fill(`partner-${'n'.repeat(150)}`);
      await assertOnScreen(page, create, 'the create dialog fits the screen');
      const submit = create.getByRole('button', { name: 'Create key' });
      await submit.scrollIntoViewIfNeeded();
      await assertOnScreen(page, submit, 'its button is reachable');
      await submit.tap();

      const reveal = page.getByRole('dialog', { name: 'Your new API key' });
      const secret = reveal.getByTestId('secret-value');
      await secret.waitFor();
      await assertOnScreen(page, reveal, 'the dialog fits the screen');
      // The key's 158-character name ran 900px past the dialog's edge: the dialog scrolled sideways.
      const sideways = await reveal.evaluate((dialog) => dialog.scrollWidth - dialog.clientWidth);
      assert.equal(sideways, 0, 'nothing in the dialog runs past its edge');
      const name = reveal.getByText(`partner-${'n'.repeat(150)}`, { exact: true });
      assert.equal(await horizontallyWithin(name, reveal), true, 'the name wraps within the dialog');
      await secret.scrollIntoViewIfNeeded();
      await assertOnScreen(page, secret, 'the whole secret is on screen');
      assert.equal(await horizontallyWithin(secret, reveal), true);
      assert.equal(
        await secret.evaluate((code) => code.scrollWidth - code.clientWidth),
        0,
        'no part is cut off',
      );
      const shown = (await secret.textContent())?.trim() ?? '';
      assert.match(shown, /^gk_test_/);
      const copy = reveal.getByRole('button', { name: 'Copy API key' });
      await copy.tap();
      await reveal.getByRole('button', { name: 'Copied' }).waitFor();
      assert.equal(await readClipboard(page), shown, 'the copy button copies the whole secret');
      const done = reveal.getByRole('button', { name: 'I have saved it' });
      await done.scrollIntoViewIfNeeded();
      await assertOnScreen(page, done, 'its "I have saved it" button is reachable');
      await done.tap();
      await reveal.waitFor({ state: 'hidden' });
      assert.equal(await pageOverflow(page), 0);
    });

    test(`${phone.width}px: every delivery status can be seen and tapped`, async () => {
      await signIn(phone);
      await page.goto(`${server.url}/#/deliveries`);
      const filter = page.getByRole('radiogroup', { name: 'Filter by status' });
      await filter.waitFor();
      for (const status of ['all', 'pending', 'succeeded', 'failed', 'cancelled']) {
        const option = filter.locator('label').filter({ hasText: status });
        // "cancelled" was cut to "ca" at 320px, past the control's clipped edge.
        assert.equal(await horizontallyWithin(option, filter), true, `${status} is within the control`);
        await assertOnScreen(page, option, `${status} is on screen`);
        assert.equal(
          await option.evaluate((label) => label.scrollWidth - label.clientWidth),
          0,
          `${status} is whole`,
        );
        const box = await option.boundingBox();
        assert.ok(box && box.height >= 24, `${status}: a touch target 24px high: ${JSON.stringify(box)}`);
      }
      await filter.locator('label').filter({ hasText: 'cancelled' }).tap();
      assert.equal(await filter.getByRole('radio', { name: 'cancelled' }).isChecked(), true);
    });

    test(`${phone.width}px: number inputs' arrows and a delivery's details button are 24x24px touch targets`, async () => {
      await signIn(phone);
      const atLeast24 = async (target: Locator, what: string) => {
        await target.scrollIntoViewIfNeeded();
        const box = await target.boundingBox();
        // Before: the arrows were 24x17px, the details button 22px high.
        assert.ok(box && box.width >= 24 && box.height >= 24, `${what}: ${JSON.stringify(box)}`);
      };
      await page.goto(`${server.url}/#/deliveries`);
      const details = page.getByRole('button', { name: /details of dlv_/ }).first();
      await details.waitFor();
      await atLeast24(details, "a delivery's details button");

      await page.goto(`${server.url}/#/endpoints/orders`);
      const retries = page.getByRole('textbox', { name: 'Webhook retries' });
      await retries.waitFor();
      const arrows = page
        .locator('.mantine-NumberInput-root', { has: retries })
        .locator('.mantine-NumberInput-control');
      assert.equal(await arrows.count(), 2, 'an up and a down arrow');
      for (const arrow of await arrows.all()) await atLeast24(arrow, 'a number input arrow');
      // Within the field, and they still step its value.
      const field = page.locator('.mantine-NumberInput-wrapper', { has: retries });
      for (const arrow of await arrows.all())
        assert.equal(await horizontallyWithin(arrow, field), true, 'the arrow is within the field');
      await retries.fill('3');
      await arrows.first().tap();
      assert.equal(await retries.inputValue(), '4');
    });

    test(`${phone.width}px: a chart's legend stays within the chart`, async () => {
      await signIn(phone);
      await page.goto(`${server.url}/#/usage`);
      // The requests made are sandbox ones (Production, the default, has none).
      await page.getByRole('radiogroup', { name: 'Environment' }).getByText('Sandbox', { exact: true }).tap();
      const chart = page.getByTestId('usage-charts').locator('.recharts-wrapper').first();
      await chart.waitFor();
      const items = chart.locator('.mantine-ChartLegend-legendItem');
      await until(
        () => items.count(),
        (n) => n > 0,
      );
      assert.ok((await items.count()) > 0, 'the chart has its legend');
      const chartBox = await chart.boundingBox();
      assert.ok(
        chartBox && chartBox.width <= phone.width,
        `the chart fits the screen: ${JSON.stringify(chartBox)}`,
      );
      for (const item of await items.all()) {
        // The key's 200-character name ran off both sides, its colour swatch with it.
        const name = item.locator('.mantine-ChartLegend-legendItemName');
        const swatch = item.locator('.mantine-ChartLegend-legendItemColor');
        assert.equal(await horizontallyWithin(name, chart), true, `${await name.textContent()}: its name`);
        assert.equal(
          await horizontallyWithin(swatch, chart),
          true,
          `${await name.textContent()}: its colour`,
        );
      }
    });
  }

  test("320px: an endpoint's long name wraps in a select's options instead of being cut off", async () => {
    await signIn(NARROWEST);
    await page.goto(`${server.url}/#/webhooks`);
    await page.getByLabel('Endpoint').first().tap();
    const listbox = page.getByRole('listbox');
    const option = listbox.getByRole('option', { name: `${LONG_NAME} (${LONG_SLUG})` });
    await option.waitFor();
    // The option ran 1,200px past the dropdown's edge: the name's end and its slug out of sight.
    assert.equal(await horizontallyWithin(option, listbox), true, 'the option fits the dropdown');
    assert.equal(
      await horizontallyWithin(listbox, page.locator('body')),
      true,
      'the dropdown fits the screen',
    );
  });

  test('320px: before `gatehouse init`, the command to run is all on screen', async () => {
    const database = await createTestDatabase('sqlite');
    const services = await createServices(
      loadConfig({ DATABASE_URL: database.url, PORT: '0', HOST: '127.0.0.1', LOG_LEVEL: 'silent' }),
    );
    const app = buildApp(services, { logger: false });
    const fresh = await openBrowser('http://127.0.0.1', NARROWEST);
    try {
      await fresh.page.goto(`${await app.listen({ port: 0, host: '127.0.0.1' })}/`);
      const command = fresh.page.getByTestId('init-command');
      await command.getByText('npx gatehouse init --email you@example.com').waitFor();
      // One unwrapped line ran past the card's edge: its end was read by scrolling the block.
      assert.equal(await command.evaluate((block) => block.scrollWidth - block.clientWidth), 0);
      await assertOnScreen(fresh.page, command, 'the first-run command is on screen');
      assert.equal(await pageOverflow(fresh.page), 0);
    } finally {
      await fresh.close();
      await app.close();
      await services.close();
      await database.drop();
    }
  });

  test("fields for ids, names in a schema and JSON are not capitalised or corrected by a phone's keyboard", async () => {
    await signIn({ width: 375, height: 667 });
    const machine = async (field: Locator, what: string) => {
      assert.equal(await field.getAttribute('autocapitalize'), 'none', `${what}: autocapitalize`);
      assert.equal(await field.getAttribute('autocorrect'), 'off', `${what}: autocorrect`);
      assert.equal(await field.getAttribute('spellcheck'), 'false', `${what}: spellcheck`);
    };
    await page.goto(`${server.url}/#/endpoints/orders`);
    await machine(page.getByRole('textbox', { name: 'Slug' }), 'Slug');
    const amount = page.getByRole('group', { name: 'Field 2: amount', exact: true });
    await machine(amount.getByLabel('Field name'), 'Field name');
    await machine(amount.getByLabel('Allowed values'), 'Allowed values');
    await machine(page.getByLabel('Schema (draft 2020-12)'), 'Schema');
    // A minimum may be negative or a fraction: a number pad without a minus or a point cannot type it.
    const minimum = amount.getByLabel('Minimum', { exact: true });
    assert.notEqual(await minimum.getAttribute('inputmode'), 'numeric', 'Minimum: not the number pad');
    await machine(minimum, 'Minimum');
    const orderId = page.getByRole('group', { name: 'Field 1: order_id', exact: true });
    assert.equal(
      await orderId.getByLabel('Min length').getAttribute('inputmode'),
      'numeric',
      'a length: digits',
    );

    await page.goto(`${server.url}/#/test/orders`);
    await page.getByRole('heading', { level: 1, name: 'Test requests' }).waitFor();
    await machine(page.getByRole('textbox', { name: 'Record id' }), 'Record id');
    await machine(page.getByRole('textbox', { name: 'JSON body' }), 'JSON body');

    await page.goto(`${server.url}/#/deliveries`);
    await machine(page.getByRole('textbox', { name: 'Record id' }), 'Delivery record id');
    await machine(page.getByRole('textbox', { name: 'Request id' }), 'Delivery request id');

    // The sign-in form's fields were right already: the email keyboard, the password manager.
    await page.getByRole('button', { name: 'Sign out' }).tap();
    const email = page.getByRole('textbox', { name: 'Email', exact: true });
    assert.equal(await email.getAttribute('type'), 'email');
    assert.equal(await email.getAttribute('autocomplete'), 'username');
    assert.equal(
      await page.getByRole('textbox', { name: 'Password', exact: true }).getAttribute('autocomplete'),
      'current-password',
    );
  });
});
