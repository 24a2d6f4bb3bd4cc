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

/** A second walk through the dashboard as a new owner: long names, and what the pages say. */
describe("dashboard walk 2: a new owner's pages", {
  skip: existsSync(CHROMIUM) ? false : `${CHROMIUM} is not installed (.ci/run installs it)`,
}, () => {
  let server: TestServer;
  let owner: Browser;
  let page: Page;

  before(async () => {
    ensureDashboardBuilt();
    server = await startTestServer('sqlite');
    owner = await openBrowser(server.url);
    page = owner.page;
    await signInAsOwner(page, server.url);
    // The session check before signing in answers 401 (expected): not counted at the end.
    owner.errors.length = 0;
  });
  after(async () => {
    await owner?.close();
    await server?.close();
  });

  /** How far the widest of `selector` runs past its own box (0: it fits). */
  async function overflow(selector: string): Promise<number> {
    // Evaluated in the page (no DOM types here).
    const element = `document.querySelector(${JSON.stringify(selector)})`;
    return Number(await page.evaluate(`${element}.scrollWidth - ${element}.clientWidth`));
  }

  test('a name without spaces wraps in the page heading and in dialog titles', async () => {
    // As long as the API takes (200 characters), as a partner's identifier pasted as a name is.
    const name = 'N'.repeat(200);
    await server.createEndpoint({ slug: 'long', name, schema: { type: 'object' } });
    await server.createKey({ name, environment: 'test' });

    await page.goto(`${server.url}/#/keys`);
    await page.getByRole('button', { name: `Actions for ${name}` }).click();
    await page.getByRole('menuitem', { name: 'Roll secret' }).click();
    const question = page.getByRole('dialog', { name: `Roll ${name}?` });
    await question.waitFor();
    assert.equal(
      await overflow('.mantine-Modal-content'),
      0,
      "the question's title stays inside the dialog (its end was cut off)",
    );
    await question.getByRole('button', { name: 'Cancel' }).click();
    await question.waitFor({ state: 'hidden' });

    await page.goto(`${server.url}/#/endpoints/long`);
    await page.getByRole('heading', { level: 1, name }).waitFor();
    assert.equal(await overflow('html'), 0, "the endpoint's name does not widen the page");
    assert.deepEqual(owner.errors, [], 'the page logged no errors');
  });

  test("a CLI token's name of spaces alone is refused at the field, in words", async () => {
    await page.goto(`${server.url}/#/tokens`);
    const form = page.getByRole('form', { name: 'Create a token' });
    const field = form.getByRole('textbox', { name: 'Name' });
    // Spaces, then the no-break and ideographic spaces the server counts as blank too.
    for (const blank of ['   ', '\u00a0\u3000\t']) {
      await field.fill(blank);
      await form.getByRole('button', { name: 'Create token' }).click();
      // It passed `required`, went trimmed to nothing and came back as a toast: "Could not create the
      // token Invalid request (name: Must NOT have fewer than 1 characters)".
      await form.getByText('Must not be blank').waitFor();
      assert.equal(await field.getAttribute('aria-invalid'), 'true', 'the field is marked invalid');
      assert.equal(await field.inputValue(), blank, 'what was typed stays');
      assert.equal(
        await page.evaluate('document.activeElement?.getAttribute("aria-invalid")'),
        'true',
        'focus is on the refused field',
      );
      assert.equal(await page.locator('.mantine-Notification-root').count(), 0, 'no toast says it again');
    }
    const tokens = await server.admin('GET', '/admin/v1/tokens');
    assert.equal(tokens.body.data.length, 1, 'no token was made (the owner has only its first)');
    // Typing clears the message, and a real name makes the token.
    await field.fill('ci');
    assert.equal(await form.getByText('Must not be blank').count(), 0, 'the message goes on typing');
    await form.getByRole('button', { name: 'Create token' }).click();
    await page.getByText('Token ci created').waitFor();
    assert.deepEqual(owner.errors, [], 'the page logged no errors');
  });

  test('a list filtered to nothing says that the filters match nothing, not that there is nothing', async () => {
    await page.goto(`${server.url}/#/audit`);
    await page.getByRole('table', { name: 'Audit log' }).waitFor();
    await page.getByRole('textbox', { name: 'Actor' }).fill('nobody@example.com');
    const empty = page.getByTestId('empty-state');
    await empty.waitFor();
    // The log holds the owner's sign-in: "Nothing recorded" said it was empty.
    assert.deepEqual(await empty.locator('p').allInnerTexts(), ['No entries match the filters']);
    await page.getByRole('textbox', { name: 'Actor' }).fill('');
    await page.getByRole('table', { name: 'Audit log' }).waitFor();

    await page.goto(`${server.url}/#/deliveries`);
    await page.getByTestId('empty-state').waitFor();
    assert.deepEqual(
      await page.getByTestId('empty-state').locator('p').allInnerTexts(),
      ['No deliveries', 'Deliveries appear here when records change and a target is set.'],
      'unfiltered, the list is empty',
    );
    await page.getByRole('radiogroup', { name: 'Filter by status' }).getByText('failed').click();
    await page.getByText('No deliveries match the filters').waitFor();
    assert.deepEqual(await page.getByTestId('empty-state').locator('p').allInnerTexts(), [
      'No deliveries match the filters',
      'Pick another environment, status or event, or clear the filters, to see the others.',
    ]);
    assert.deepEqual(owner.errors, [], 'the page logged no errors');
  });

  test("the production console's filtered list keeps to the filter after New record", async () => {
    await server.createEndpoint({ slug: 'sales', name: 'Sales', schema: ordersSchema });
    const deployed = await server.admin('POST', '/admin/v1/endpoints/sales/deploy');
    assert.equal(deployed.status, 201, `deploy answered ${deployed.status}: ${deployed.text}`);
    for (const order_id of ['o1', 'o2']) {
      const made = await server.admin('POST', '/admin/v1/console/sales/records', { order_id, amount: 1 });
      assert.equal(made.status, 201, `console create answered ${made.status}: ${made.text}`);
    }
    await page.goto(`${server.url}/#/console/sales`);
    const rows = page.getByTestId('console-record');
    await rows.nth(1).waitFor();
    await page.getByRole('textbox', { name: 'Filter field' }).fill('order_id');
    await page.getByRole('textbox', { name: 'equals' }).fill('o1');
    await page.getByRole('button', { name: 'Apply filter' }).click();
    await page.getByText('1 record, no more').waitFor();

    await page.getByRole('button', { name: 'New record' }).click();
    const dialog = page.getByRole('dialog', { name: 'New live record in sales' });
    await dialog.getByRole('textbox', { name: 'Record (JSON)' }).fill('{"order_id": "o3", "amount": 3}');
    await dialog.getByRole('button', { name: 'Create record' }).click();
    await dialog.waitFor({ state: 'hidden' });
    await page.getByText(/^Record rec_\S+ created$/).waitFor();
    // It was put at the top of "order_id equals o1": 2 records shown, o3 first.
    await page.getByText('1 record, no more').waitFor();
    assert.deepEqual(
      (await rows.allInnerTexts()).map((text) => /"order_id":"(\w+)"/.exec(text)?.[1]),
      ['o1'],
      'the list shows only the records the filter matches',
    );
    assert.deepEqual(owner.errors, [], 'the page logged no errors');
  });

  test("on a phone, an endpoint's longest slug wraps in its address under the heading", async () => {
    const slug = `s${'x'.repeat(62)}`; // 63 characters, the longest a slug may be
    await server.createEndpoint({ slug, name: 'Phone', schema: { type: 'object' } });
    await page.setViewportSize({ width: 375, height: 800 });
    try {
      await page.goto(`${server.url}/#/endpoints/${slug}`);
      await page.getByRole('heading', { level: 1, name: 'Phone' }).waitFor();
      await page.getByText(`/api/v1/data/${slug}`).waitFor();
      assert.equal(
        await overflow('html'),
        0,
        'the address does not widen the page (it ran 200px past a 375px screen)',
      );
    } finally {
      await page.setViewportSize({ width: 1280, height: 800 });
    }
    assert.deepEqual(owner.errors, [], 'the page logged no errors');
  });

  test('a saved draft reads as saved before the endpoint reloads: Save draft is off, leaving asks nothing', async () => {
    await server.createEndpoint({ slug: 'held', name: 'Held', schema: ordersSchema });
    await page.goto(`${server.url}/#/endpoints/held`);
    const nameBox = page.getByRole('textbox', { name: /^Name/ });
    assert.equal(
      await until(
        () => nameBox.inputValue(),
        (value) => value === 'Held',
      ),
      'Held',
    );
    await nameBox.fill('Held, renamed');
    // The reload after the save is held: the page stays on the editor drawn before the save.
    let release = () => {};
    const released = new Promise<void>((resolve) => {
      release = resolve;
    });
    const hold = async (route: import('playwright-core').Route) => {
      if (route.request().method() !== 'GET') return route.continue();
      await released;
      await route.continue().catch(() => {});
    };
    await page.route('**/admin/v1/endpoints/held', hold);
    const asked: string[] = [];
    const onDialog = (dialog: import('playwright-core').Dialog) => {
      asked.push(dialog.message());
      void dialog.dismiss();
    };
    page.on('dialog', onDialog);
    try {
      const saveDraft = page.getByRole('button', { name: 'Save draft' });
      await saveDraft.click();
      await page.getByText('Draft saved').waitFor();
      await page.waitForFunction('!document.querySelector("button[data-loading]")');
      assert.equal((await server.admin('GET', '/admin/v1/endpoints/held')).body.data.name, 'Held, renamed');
      // It read the edit as unsaved against the endpoint as loaded before the save.
      assert.equal(await saveDraft.isDisabled(), true, 'Save draft is off: nothing is unsaved');
      await page.getByRole('link', { name: 'API keys' }).click();
      await page.getByRole('heading', { name: 'API keys', exact: true }).waitFor();
      assert.deepEqual(asked, [], 'leaving asked about changes already saved');
    } finally {
      page.off('dialog', onDialog);
      release();
      await page.unroute('**/admin/v1/endpoints/held', hold);
    }
    assert.deepEqual(owner.errors, [], 'the page logged no errors');
  });

  test('a list of types (a nullable field) is checked, not a blank page; a repeated type is named', async () => {
    /** What the server says to an endpoint with `schema` (the editor is to say the same). */
    const saved = (slug: string, schema: unknown) =>
      server.admin('POST', '/admin/v1/endpoints', { slug, name: slug, schema });
    const nullable = { type: 'object', properties: { note: { type: ['string', 'null'] } } };
    assert.equal((await saved('notes', nullable)).status, 201);

    const errorsBefore = owner.errors.length;
    await page.goto(`${server.url}/#/endpoints/_new`);
    const editor = page.getByLabel('Schema (draft 2020-12)');
    // The meta-schema checks a list of types for repeats with Ajv's `equal`, which the build
    // left undefined: "func0 is not a function", thrown while rendering, blanked the page.
    await editor.fill(JSON.stringify(nullable, null, 2));
    await page.getByTestId('schema-validity').getByText('valid', { exact: true }).waitFor();
    assert.deepEqual(owner.errors.slice(errorsBefore), [], 'the page threw nothing');

    const repeated = { type: 'object', properties: { note: { type: ['string', 'string'] } } };
    const refused = await saved('twice', repeated);
    assert.equal(refused.status, 400, refused.text);
    const [detail] = refused.body.details as { field: string; error: string }[];
    assert.equal(detail?.field, 'schema.properties.note.type');
    await editor.fill(JSON.stringify(repeated));
    await page.getByTestId('schema-validity').getByText('invalid').waitFor();
    assert.deepEqual(
      await page.getByTestId('schema-problems').getByRole('listitem').allInnerTexts(),
      [`properties.note.type ${detail.error}`],
      'said as a save would say it',
    );
    assert.deepEqual(owner.errors.slice(errorsBefore), [], 'the page threw nothing');
  });

  test('a sign-out that gets no answer says so and stays signed in (the session is still valid)', async () => {
    await page.goto(`${server.url}/#/endpoints`);
    const signOut = page.getByRole('button', { name: 'Sign out' });
    await signOut.waitFor();
    const cut = (route: import('playwright-core').Route) =>
      route.request().method() === 'DELETE' ? route.abort() : route.continue();
    await page.route('**/admin/v1/session', cut);
    try {
      await signOut.click();
      await page.getByText('Could not sign out').waitFor();
      await page.getByText('Could not reach the server. Check your connection.').waitFor();
      // It showed the sign-in form, while the session it had not ended went on working.
      assert.equal(await page.getByRole('button', { name: 'Sign in' }).count(), 0, 'still signed in');
      assert.equal(await signOut.isVisible(), true);
    } finally {
      await page.unroute('**/admin/v1/session', cut);
    }
    // With the server reachable again, signing out works.
    await signOut.click();
    await page.getByRole('button', { name: 'Sign in' }).waitFor();
    const unexpected = owner.errors.filter((e) => !/ERR_FAILED|status of 401/.test(e));
    assert.deepEqual(unexpected, [], `browser errors: ${unexpected.join('\n')}`);
  });
});
