import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import { after, before, describe, test } from 'node:test';
import { Ajv2020 } from 'ajv/dist/2020.js';
import addFormats from 'ajv-formats';
import type { Page } from 'playwright-core';
import { sampleFor, samplePayload } from '../src/endpoints/sample.ts';
import { type Browser, CHROMIUM, ensureDashboardBuilt, openBrowser } from './helpers/dashboard-browser.ts';
import { ordersSchema, startDeliveringServer, startTestServer, type TestServer } from './helpers/server.ts';
import { until } from './helpers/until.ts';

const OWNER = { email: 'owner@example.com', password: 'correct horse battery' };
const HOUR = 3_600_000;

/** Dashboard pages in a real browser, on their own server: what they offer is what works. */
describe('dashboard usability in a real browser', {
  skip: existsSync(CHROMIUM) ? false : `${CHROMIUM} is not installed (.ci/run installs it)`,
}, () => {
  let server: TestServer;
  let owner: Browser;
  let page: Page;

  before(async () => {
    ensureDashboardBuilt();
    server = await startTestServer('sqlite', { GATEHOUSE_DEFAULT_PER_DAY: '10000' });
    await server.createEndpoint({ slug: 'orders', name: 'Orders', schema: ordersSchema });
  });
  after(async () => {
    await owner?.close();
    await server?.close();
  });

  /** A fresh browser signed in as the owner; the page's clock is a fake one, running from now. */
  async function signIn(at: TestServer = server): Promise<void> {
    await owner?.close();
    owner = await openBrowser(at.url);
    page = owner.page;
    await page.clock.install({ time: Date.now() });
    await page.goto(`${at.url}/`);
    await page.getByLabel('Email').fill(OWNER.email);
    await page.getByRole('textbox', { name: 'Password' }).fill(OWNER.password);
    await page.getByRole('button', { name: 'Sign in' }).click();
    await page.getByTestId('current-user').waitFor();
  }

  test('the Test page offers no expired key, nor one that expired while the page was open', async () => {
    await server.createKey({
      name: 'soon',
      environment: 'test',
      expires_at: new Date(Date.now() + HOUR).toISOString(),
    });
    await server.createKey({ name: 'later', environment: 'test' });
    const gone = await server.createKey({ name: 'gone', environment: 'test' });
    // Expired already (the API refuses an expiry in the past, so it is set where it is kept).
    await server.services.database.db
      .updateTable('api_keys')
      .set({ expires_at: new Date(Date.now() - HOUR).toISOString() })
      .where('id', '=', gone.id)
      .execute();
    assert.equal((await server.request('GET', '/api/v1/account', { key: gone.key })).status, 401);

    await signIn();
    await page.goto(`${server.url}/#/test`);
    const keyField = page.getByRole('combobox', { name: 'Test key' });
    await keyField.click();
    await page.getByRole('option', { name: /^later / }).waitFor();
    assert.equal(await page.getByRole('option', { name: /^gone / }).count(), 0, 'the expired key');
    await page.getByRole('option', { name: /^soon / }).click();
    assert.match(await keyField.inputValue(), /^soon /);

    // Two hours on, with the page still open: Send does not use the key that expired meanwhile.
    await page.clock.setSystemTime(Date.now() + 2 * HOUR);
    await page.getByRole('button', { name: 'Send' }).click();
    await page.getByText('The key soon expired').waitFor();
    assert.equal(await page.getByRole('button', { name: 'Send' }).isDisabled(), true);
    const sent = await server.admin('GET', '/admin/v1/test-requests');
    assert.equal(sent.body.data.length, 0, 'no request was made with the expired key');
    await keyField.click();
    await page.getByRole('option', { name: /^later / }).waitFor();
    assert.equal(await page.getByRole('option', { name: /^soon / }).count(), 0, 'expired meanwhile');
    await page.getByRole('option', { name: /^later / }).click();
    await page.getByText('The key soon expired').waitFor({ state: 'detached' });
    await page.getByRole('button', { name: 'Send' }).click();
    await page.getByTestId('response-status').waitFor();
    assert.match(
      (await page.getByTestId('response-status').textContent()) ?? '',
      /^20/,
      'the key still valid works',
    );
  });

  test("the Keys page shows a key's effective limits, the installation's defaults marked so", async () => {
    await server.createKey({ name: 'own-limits', environment: 'test', limits: { per_minute: 5 } });
    await server.createKey({ name: 'no-limits', environment: 'test' });
    await signIn();
    await page.goto(`${server.url}/#/keys`);
    const own = page.getByTestId('key-row-own-limits').getByTestId('key-limits');
    await own.waitFor();
    assert.equal(await own.textContent(), '5/min · 10,000/day (default)');
    const none = page.getByTestId('key-row-no-limits').getByTestId('key-limits');
    assert.equal(await none.textContent(), '10,000/day (default)');
  });

  test("the field builder refuses a word or a fraction among a number field's allowed values, and Save waits", async () => {
    const schema = {
      type: 'object',
      properties: { qty: { type: 'integer' }, price: { type: 'number' } },
    };
    await server.createEndpoint({ slug: 'sizes', name: 'Sizes', schema });
    await signIn();
    await page.goto(`${server.url}/#/endpoints/sizes`);
    await page.getByRole('heading', { level: 1, name: 'Sizes' }).waitFor();
    const qty = page.getByRole('group', { name: 'Field 1: qty' }).getByLabel('Allowed values');
    const save = page.getByRole('button', { name: 'Save draft' });
    const savedSchema = async () => (await server.admin('GET', '/admin/v1/endpoints/sizes')).body.data.schema;

    await qty.fill('1, 2, many');
    await page.getByText('"many" is not a number', { exact: true }).waitFor();
    assert.equal(await save.isDisabled(), true);
    assert.match((await page.getByTestId('save-blocked').textContent()) ?? '', /Fix the fields first.*qty/);
    await save.click({ force: true });
    await page.waitForTimeout(300);
    assert.deepEqual(await savedSchema(), schema, 'nothing saved with the word dropped');

    await qty.fill('1, 1.5');
    await page.getByText('1.5 is not an integer', { exact: true }).waitFor();
    assert.equal(await save.isDisabled(), true);
    // A number field takes 1.5; its word is refused as well.
    const price = page.getByRole('group', { name: 'Field 2: price' }).getByLabel('Allowed values');
    await qty.fill('1, 2');
    await price.fill('1.5, free');
    await page.getByText('"free" is not a number', { exact: true }).waitFor();
    assert.equal(await save.isDisabled(), true);
    await price.fill('1.5, 2');
    await page.getByTestId('save-blocked').waitFor({ state: 'detached' });
    await save.click();
    await page.getByText('Draft saved').first().waitFor();
    const saved = await savedSchema();
    assert.deepEqual(saved.properties.qty, { type: 'integer', enum: [1, 2] });
    assert.deepEqual(saved.properties.price, { type: 'number', enum: [1.5, 2] });
  });

  test('a refusal with more than three details shows every one of them', async () => {
    await server.admin('POST', '/admin/v1/endpoints/orders/deploy');
    const bad = { order_id: 1, amount: 'x', items: 'no', paid: 'maybe', email: 5 };
    const refused = await server.admin('POST', '/admin/v1/console/orders/records', bad);
    assert.equal(refused.status, 400);
    const fields: string[] = refused.body.details.map((d: { field: string }) => d.field);
    assert.ok(fields.length > 3, JSON.stringify(refused.body.details));
    await signIn();
    await page.goto(`${server.url}/#/console/orders`);
    await page.getByRole('button', { name: 'New record' }).click();
    const dialog = page.getByRole('dialog');
    await dialog.getByLabel('Record (JSON)').fill(JSON.stringify(bad));
    await dialog.getByRole('button', { name: 'Create record' }).click();
    const alert = dialog.getByRole('alert');
    await alert.waitFor();
    const shown = (await alert.textContent()) ?? '';
    for (const detail of refused.body.details as { field: string; error: string }[]) {
      assert.ok(shown.includes(`${detail.field}: ${detail.error}`), `${detail.field} in ${shown}`);
    }
  });

  test('a sample that cannot meet its schema says so on the endpoint and Test pages', async () => {
    // No string of ^a{3}$ has 5 characters.
    const schema = {
      type: 'object',
      properties: {
        word: { type: 'string', pattern: '^[a-z]+$', minLength: 5 },
        bad: { type: 'string', pattern: '^a{3}$', minLength: 5 },
      },
    };
    await server.createEndpoint({ slug: 'codes', name: 'Codes', schema });
    await signIn();
    await page.goto(`${server.url}/#/endpoints/codes`);
    const note = page.getByTestId('sample-unmet');
    await note.waitFor();
    assert.match((await note.textContent()) ?? '', /every keyword of bad:/);
    await page.goto(`${server.url}/#/test/codes`);
    await note.waitFor();
    const body = page.getByLabel('JSON body');
    const sample = JSON.parse(await body.inputValue());
    assert.match(sample.word, /^[a-z]{5,}$/);
    // Once the body is edited by hand, the note about the sample goes.
    await body.fill(JSON.stringify({ ...sample, bad: 'aaa' }));
    await note.waitFor({ state: 'detached' });
  });

  test("the production console's new-record sample follows the deployed schema, not the draft", async () => {
    const live = {
      type: 'object',
      properties: { sku: { type: 'string', pattern: '^L-[0-9]+$' } },
      required: ['sku'],
      additionalProperties: false,
    };
    await server.createEndpoint({ slug: 'stock', name: 'Stock', schema: live });
    assert.equal((await server.admin('POST', '/admin/v1/endpoints/stock/deploy')).status, 201);
    // The draft moves on: another field, required, and a sku of another shape.
    const draft = {
      type: 'object',
      properties: { sku: { type: 'string', pattern: '^D-[0-9]+$' }, bin: { type: 'string' } },
      required: ['sku', 'bin'],
    };
    const patched = await server.admin('PATCH', '/admin/v1/endpoints/stock', { schema: draft });
    assert.equal(patched.status, 200, patched.text);
    await signIn();
    await page.goto(`${server.url}/#/console/stock`);
    await page.getByRole('button', { name: 'New record' }).click();
    const box = page.getByLabel('Record (JSON)');
    const sample = JSON.parse(
      await until(
        () => box.inputValue(),
        (text) => text !== '',
      ),
    );
    assert.deepEqual(Object.keys(sample), ['sku']);
    assert.match(sample.sku, /^L-[0-9]+$/);
    await page.getByRole('button', { name: 'Create record' }).click();
    const listed = await until(
      () => server.admin('GET', '/admin/v1/console/stock/records'),
      (res) => res.body.data?.length === 1,
    );
    assert.equal(listed.body.data[0].data.sku, sample.sku);
  });

  test('the Deliveries page looks again while a delivery is due soon, not while none is', async () => {
    // Its own server, with a webhook worker (it writes the queued records and attempts deliveries).
    const hooks = await startDeliveringServer();
    try {
      await hooks.createEndpoint({
        slug: 'orders',
        name: 'Orders',
        schema: ordersSchema,
        retry: { max_retries: 3, interval_seconds: 3600 },
      });
      // Nothing listens on port 9: the first attempt fails, the next is an hour away.
      await hooks.admin('POST', '/admin/v1/endpoints/orders/webhooks', {
        url: 'http://127.0.0.1:9/hooks',
        events: ['record.created'],
        environment: 'test',
      });
      const key = await hooks.createKey({ name: 'writer', environment: 'test' });
      const made = await hooks.request('POST', '/api/v1/data/orders', {
        key: key.key,
        json: { order_id: 'O-1', amount: 1 },
      });
      assert.equal(made.status, 202, made.text);
      const retrying = await until(
        async () => (await hooks.admin('GET', '/admin/v1/deliveries?status=pending')).body.data,
        (list) => list.length === 1 && list[0].attempt_count === 1,
      );
      assert.equal(retrying[0]?.attempt_count, 1);

      await signIn(hooks);
      let looks = 0;
      page.on('request', (request) => {
        if (new URL(request.url()).pathname === '/admin/v1/deliveries') looks += 1;
      });
      /** Lets the page's clock run for a long while, then says how often the page looked. */
      const looksOver = async (minutes: number) => {
        const before = looks;
        for (let i = 0; i < minutes * 2; i++) {
          await page.clock.runFor(30_000);
          await page.waitForTimeout(50);
        }
        await page.waitForTimeout(500);
        return looks - before;
      };
      await page.goto(`${hooks.url}/#/deliveries`);
      await page.getByTestId('delivery-row').first().waitFor();
      await until(
        async () => looks,
        (n) => n >= 1,
      );
      await page.waitForTimeout(500);
      assert.equal(await looksOver(5), 0, 'no look while the next attempt is an hour away');

      // Due in half a minute (by the page's clock, which ran on): it looks every few seconds.
      const setNextAttempt = async (ms: number) => {
        const pageNow = Number(await page.evaluate('Date.now()'));
        await hooks.services.database.db
          .updateTable('webhook_deliveries')
          .set({ next_attempt_at: new Date(pageNow + ms).toISOString() })
          .execute();
      };
      await setNextAttempt(30_000);
      await page.getByRole('button', { name: 'Refresh' }).click();
      const refreshed = await until(
        async () => looks,
        (n) => n >= 2,
      );
      await page.clock.runFor(4_000);
      assert.ok(
        (await until(
          async () => looks,
          (n) => n > refreshed,
        )) > refreshed,
        'looked again',
      );

      // An hour away again (as after another failed attempt): once seen, the page stops looking.
      await setNextAttempt(HOUR);
      const seen = looks;
      await page.clock.runFor(4_000);
      await until(
        async () => looks,
        (n) => n > seen,
      );
      await page.waitForTimeout(500);
      assert.equal(await looksOver(5), 0, 'no look at an idle page');
    } finally {
      await owner?.close();
      await hooks.close();
    }
  });
});

/** A string field with a pattern and lengths: its sample meets both, as Ajv checks it. */
test('sample payloads meet a pattern and minLength/maxLength together, or say where they cannot', () => {
  const ajv = new Ajv2020({ allErrors: true, strict: false });
  (addFormats as unknown as (ajv: Ajv2020) => void)(ajv);
  const schema = {
    type: 'object',
    properties: {
      word: { type: 'string', pattern: '^[a-z]+$', minLength: 5 },
      code: { type: 'string', pattern: '^[A-Z]{2}[0-9]*$', minLength: 4, maxLength: 6 },
      pair: { type: 'string', pattern: '^x+$', minLength: 2, maxLength: 2 },
      short: { type: 'string', pattern: '^[a-z]{2,12}$', maxLength: 3 },
      sku: { type: 'string', pattern: '^sku-[0-9]+$', minLength: 9, maxLength: 10 },
      lines: {
        type: 'array',
        items: {
          type: 'object',
          properties: { ref: { type: 'string', pattern: '^R[0-9]{2,}$', minLength: 6 } },
        },
      },
    },
  };
  const sample = sampleFor(schema);
  const validate = ajv.compile(schema);
  assert.ok(validate(sample.value), `${JSON.stringify(sample.value)}: ${JSON.stringify(validate.errors)}`);
  assert.deepEqual(sample.unmet, []);
  // The same sample every time.
  assert.deepEqual(samplePayload(schema), sample.value);

  // No string of ^a{3}$ has 5 characters: the sample says so, naming the field, rather than
  // passing for a valid one.
  const impossible = {
    type: 'object',
    properties: {
      ok: { type: 'string', pattern: '^[a-z]+$', minLength: 3 },
      lines: {
        type: 'array',
        items: { type: 'object', properties: { bad: { type: 'string', pattern: '^a{3}$', minLength: 5 } } },
      },
    },
  };
  const unmet = sampleFor(impossible);
  assert.deepEqual(unmet.unmet, ['lines[].bad']);
  assert.equal(ajv.compile(impossible)(unmet.value), false);
});

test('the items of a uniqueItems array sample differ, or the sample says they cannot', () => {
  const ajv = new Ajv2020({ allErrors: true, strict: false });
  (addFormats as unknown as (ajv: Ajv2020) => void)(ajv);
  const unique = (items: unknown, minItems = 3) => ({ type: 'array', uniqueItems: true, minItems, items });
  const schema = {
    type: 'object',
    properties: {
      tags: unique({ type: 'string' }),
      short: unique({ type: 'string', maxLength: 8 }),
      codes: unique({ type: 'string', pattern: '^[A-Z]{2}$' }),
      sizes: unique({ enum: ['s', 'm', 'l', 'xl'] }),
      counts: unique({ type: 'integer', minimum: 1, maximum: 2 }, 2),
      top: unique({ type: 'integer', maximum: 10, minimum: 9 }, 2),
      halves: unique({ type: 'number', multipleOf: 0.5, minimum: 0.5 }),
      flags: unique({ type: 'boolean' }, 2),
      lines: unique({ type: 'object', properties: { sku: { type: 'string' }, qty: { type: 'integer' } } }),
      nested: unique(unique({ type: 'integer' }, 2), 2),
    },
  };
  const sample = sampleFor(schema);
  const validate = ajv.compile(schema);
  assert.ok(validate(sample.value), `${JSON.stringify(sample.value)}: ${JSON.stringify(validate.errors)}`);
  assert.deepEqual(sample.unmet, []);

  // Two distinct booleans at most, one value allowed: the sample names the arrays.
  const impossible = {
    type: 'object',
    properties: {
      flags: unique({ type: 'boolean' }, 3),
      one: unique({ type: 'integer', minimum: 4, maximum: 4 }, 2),
      fixed: unique({ const: 'x' }, 2),
    },
  };
  const refused = sampleFor(impossible);
  assert.deepEqual(refused.unmet, ['flags', 'one', 'fixed']);
  assert.equal(ajv.compile(impossible)(refused.value), false);
});

test('a number no value can meet (bounds and multipleOf apart) is named, not passed off as valid', () => {
  const ajv = new Ajv2020({ allErrors: true, strict: false });
  const schema = {
    type: 'object',
    properties: {
      ok: { type: 'number', minimum: 0.5, exclusiveMaximum: 1, multipleOf: 0.25 },
      none: { type: 'integer', minimum: 1, exclusiveMaximum: 2, multipleOf: 5 },
      fraction: { type: 'integer', minimum: 1.2, maximum: 1.8 },
    },
  };
  const sample = sampleFor(schema);
  assert.deepEqual(sample.unmet, ['none', 'fraction']);
  const validate = ajv.compile(schema);
  assert.equal(validate(sample.value), false);
  assert.deepEqual([...new Set((validate.errors ?? []).map((e) => e.instancePath))].sort(), [
    '/fraction',
    '/none',
  ]);
  assert.ok(ajv.compile(schema.properties.ok)((sample.value as { ok: number }).ok));
});
