import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import { after, before, describe, test } from 'node:test';
import type { Locator, Page, Response } from 'playwright-core';
import {
  type Browser,
  CHROMIUM,
  ensureDashboardBuilt,
  openBrowser,
  signInAsOwner,
} from './helpers/dashboard-browser.ts';
import { ordersSchema, startTestServer, type TestServer } from './helpers/server.ts';
import { until } from './helpers/until.ts';

/** A pattern the browser's RegExp takes and the server's RE2 refuses (a backreference). */
const BACKREFERENCE = { type: 'string', pattern: '^(a)\\1$' };

/** How many times `text` is on the page as shown (toasts, alerts and field errors alike). */
async function timesShown(page: Page, text: string): Promise<number> {
  const shown = String(await page.evaluate('document.body.innerText'));
  return shown.split(text).length - 1;
}

/** The toasts on show. */
function toasts(page: Page): Locator {
  return page.locator('.mantine-Notification-root');
}

/**
 * The answer to the next `method` request for `path`, once it reaches the page: start it before
 * the click that sends the request.
 */
function answer(page: Page, method: string, path: string): Promise<Response> {
  return page.waitForResponse(
    (response) => response.request().method() === method && new URL(response.url()).pathname === path,
  );
}

/**
 * Resolves once the page has drawn everything its handling of an answer led to. Call it after the
 * answer arrived and what the handling shows inline is on show: a toast raised in the same
 * handling, or by an effect of the render that showed the error, is drawn by then. The page's
 * pending tasks run and two frames are drawn, each after the tasks before it: a signal from the
 * page, not a time to wait. A string, not a function: tsx would add helpers the page lacks.
 */
async function drawn(page: Page): Promise<void> {
  const frame = 'new Promise((resolve) => requestAnimationFrame(() => setTimeout(resolve, 0)))';
  await page.evaluate(frame);
  await page.evaluate(frame);
}

/** A refusal is said once: on the field or in the editor's list, not also in a toast or an alert. */
describe('dashboard: a refused save is said once', {
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

  async function signIn(): Promise<void> {
    await owner?.close();
    owner = await openBrowser(server.url);
    ({ page } = owner);
    await signInAsOwner(page, server.url);
  }

  test('endpoint editor: a schema the server refuses is said once, under the schema, not also in a toast', async () => {
    const schema = { type: 'object', properties: { code: BACKREFERENCE } };
    const direct = await server.admin('POST', '/admin/v1/endpoints', {
      slug: 'codes',
      name: 'Codes',
      schema,
    });
    assert.equal(direct.status, 400, direct.text);
    const [detail] = direct.body.details as { field: string; error: string }[];
    assert.equal(detail?.field, 'schema.properties.code.pattern');

    await signIn();
    await page.goto(`${server.url}/#/endpoints/_new`);
    await page.getByRole('textbox', { name: 'Slug' }).fill('codes');
    await page.getByRole('textbox', { name: 'Name', exact: true }).fill('Codes');
    await page.getByLabel('Schema (draft 2020-12)').fill(JSON.stringify(schema, null, 2));
    await page.getByTestId('schema-validity').getByText('valid').waitFor();
    const refused = answer(page, 'POST', '/admin/v1/endpoints');
    await page.getByRole('button', { name: 'Create endpoint' }).click();
    assert.equal((await refused).status(), 400);
    await page.locator('#schema-refused').getByText(detail.error).waitFor();
    await drawn(page);
    assert.equal(await timesShown(page, detail.error), 1, 'the refusal is shown once');
    assert.equal(await toasts(page).count(), 0, 'no toast');
    assert.equal((await server.admin('GET', '/admin/v1/endpoints/codes')).status, 404, 'nothing saved');
  });

  test('endpoint editor: a mistyped type is said once as you type, as a save would say it, with the types there are', async () => {
    const schema = { type: 'object', properties: { title: { type: 'strin' } } };
    const direct = await server.admin('POST', '/admin/v1/endpoints', { slug: 'typo', name: 'Typo', schema });
    assert.equal(direct.status, 400, direct.text);
    const details = direct.body.details as { field: string; error: string }[];
    assert.deepEqual(
      details.map((d) => d.field),
      ['schema.properties.title.type'],
      'the server says it once',
    );

    await signIn();
    await page.goto(`${server.url}/#/endpoints/_new`);
    await page.getByLabel('Schema (draft 2020-12)').fill(JSON.stringify(schema, null, 2));
    await page.getByTestId('schema-validity').getByText('invalid').waitFor();
    // It was four lines for one typo, none naming a type to use: "must be equal to one of the
    // allowed values", "must be array", "must match a schema in anyOf".
    const problems = page.getByTestId('schema-problems').getByRole('listitem');
    assert.deepEqual(
      await problems.allInnerTexts(),
      [`properties.title.type ${details[0]?.error}`],
      'one line, in the words the server uses',
    );
    await page.getByText('1 problem, listed below').waitFor();
  });

  test('endpoint editor: a slug already taken is said once, on the Slug field', async () => {
    await signIn();
    await page.goto(`${server.url}/#/endpoints/_new`);
    await page.getByRole('textbox', { name: 'Slug' }).fill('orders');
    await page.getByRole('textbox', { name: 'Name', exact: true }).fill('Orders again');
    const refused = answer(page, 'POST', '/admin/v1/endpoints');
    await page.getByRole('button', { name: 'Create endpoint' }).click();
    assert.equal((await refused).status(), 409);
    await page.getByRole('textbox', { name: 'Slug' }).and(page.locator('[aria-invalid="true"]')).waitFor();
    await drawn(page);
    assert.equal(await timesShown(page, 'Already taken'), 1, 'the refusal is shown once');
    assert.equal(await timesShown(page, 'already exists'), 0, 'not also in a toast');
    assert.equal(await toasts(page).count(), 0, 'no toast');
    const list = (await server.admin('GET', '/admin/v1/endpoints')).body.data as { name: string }[];
    assert.deepEqual(
      list.map((e) => e.name),
      ['Orders'],
      'nothing saved',
    );
  });

  test('endpoint editor: a save that never reached the server is said once, in a toast', async () => {
    await signIn();
    await page.goto(`${server.url}/#/endpoints/orders`);
    const name = page.getByRole('textbox', { name: 'Name', exact: true });
    await until(
      () => name.inputValue(),
      (value) => value === 'Orders',
    );
    await name.fill('Orders, unsent');
    await page.route('**/admin/v1/endpoints/orders', (route) =>
      route.request().method() === 'PATCH' ? route.abort('connectionrefused') : route.continue(),
    );
    const failed = page.waitForEvent('requestfailed', (request) => request.method() === 'PATCH');
    await page.getByRole('button', { name: 'Save draft' }).click();
    await failed;
    await toasts(page).filter({ hasText: 'Could not save' }).waitFor();
    await drawn(page);
    assert.equal(await toasts(page).count(), 1, 'one toast');
    assert.equal(await timesShown(page, 'Could not save'), 1);
    assert.equal(await page.getByTestId('endpoint-problems').count(), 0, 'no inline list');
    await page.unroute('**/admin/v1/endpoints/orders');
    assert.equal((await server.admin('GET', '/admin/v1/endpoints/orders')).body.data.name, 'Orders');
  });

  test('App editor: a refused definition is said once, above the routes, not also in a toast', async () => {
    await signIn();
    await page.goto(`${server.url}/#/apps/_new`);
    await page.getByRole('textbox', { name: 'Slug' }).fill('shop');
    await page.getByRole('textbox', { name: 'Name', exact: true }).fill('Shop');
    const routes = [
      {
        method: 'GET',
        path: '/orders',
        auth: 'apiKey',
        steps: [
          { name: 'list', type: 'find', endpoint: 'ordrs' },
          { name: 'answer', type: 'respond', body: 'list' },
        ],
      },
    ];
    const direct = await server.admin('POST', '/admin/v1/apps', { slug: 'shop', name: 'Shop', routes });
    assert.equal(direct.status, 400, direct.text);
    const [detail] = direct.body.details as { field: string; error: string }[];
    assert.ok(detail, direct.text);
    await page.getByLabel('Routes (JSON)').fill(JSON.stringify(routes, null, 2));
    await page.getByTestId('routes-validity').getByText('valid JSON').waitFor();
    const refused = answer(page, 'POST', '/admin/v1/apps');
    await page.getByRole('button', { name: 'Create app' }).click();
    assert.equal((await refused).status(), 400);
    const problems = page.getByTestId('app-problems');
    await problems.getByText(detail.error).waitFor();
    await drawn(page);
    assert.equal(await timesShown(page, detail.error), 1, 'the refusal is shown once');
    assert.equal(await toasts(page).count(), 0, 'no toast');
    assert.equal(await page.getByRole('alert').count(), 1, 'one alert');
    assert.equal((await server.admin('GET', '/admin/v1/apps/shop')).status, 404, 'nothing saved');
  });

  test('App editor: a slug already taken is said once, on the Slug field, not in a toast', async () => {
    const routes = [
      {
        method: 'GET',
        path: '/ping',
        auth: 'public',
        steps: [{ name: 'pong', type: 'respond', body: "'pong'" }],
      },
    ];
    const made = await server.admin('POST', '/admin/v1/apps', { slug: 'taken', name: 'Taken', routes });
    assert.equal(made.status, 201, made.text);
    await signIn();
    await page.goto(`${server.url}/#/apps/_new`);
    await page.getByRole('textbox', { name: 'Slug' }).fill('taken');
    await page.getByRole('textbox', { name: 'Name', exact: true }).fill('Taken again');
    await page.getByLabel('Routes (JSON)').fill(JSON.stringify(routes, null, 2));
    const refused = answer(page, 'POST', '/admin/v1/apps');
    await page.getByRole('button', { name: 'Create app' }).click();
    assert.equal((await refused).status(), 409);
    const slug = page.getByRole('textbox', { name: 'Slug' });
    await slug.and(page.locator('[aria-invalid="true"]')).waitFor();
    await drawn(page);
    assert.equal(await timesShown(page, 'Already taken'), 1, 'the refusal is shown once');
    assert.equal(await toasts(page).count(), 0, 'no toast');
    assert.equal(await page.getByTestId('app-problems').count(), 0, 'no list repeating it');
    await until(
      () => slug.evaluate((element) => element === element.ownerDocument.activeElement),
      (focused) => focused,
    );
    assert.equal(
      (await server.admin('GET', '/admin/v1/apps/taken')).body.data.name,
      'Taken',
      'nothing saved',
    );
  });

  test('App editor: a deploy the server refuses is said once, above the routes, and deploys nothing', async () => {
    const ping = {
      method: 'GET',
      path: '/ping',
      auth: 'public',
      steps: [{ name: 'pong', type: 'respond', body: "'pong'" }],
    };
    const made = await server.admin('POST', '/admin/v1/apps', {
      slug: 'legacy',
      name: 'Legacy',
      routes: [ping],
    });
    assert.equal(made.status, 201, made.text);
    assert.equal((await server.admin('POST', '/admin/v1/apps/legacy/deploy')).status, 201);
    // A draft saved before dot segments were refused: it loads and runs, but is not deployed as is.
    const routes = [ping, { ...ping, path: '/old/..' }];
    await server.services.database.db
      .updateTable('apps')
      .set({ definition: JSON.stringify({ routes }), draft_revision: made.body.data.draft_revision + 1 })
      .where('slug', '=', 'legacy')
      .execute();
    server.services.bus.publish('apps', 'legacy');
    const direct = await server.admin('POST', '/admin/v1/apps/legacy/deploy');
    assert.equal(direct.status, 400, direct.text);
    const [detail] = direct.body.details as { field: string; error: string }[];
    assert.ok(detail, direct.text);

    await signIn();
    await page.goto(`${server.url}/#/apps/legacy`);
    const versions = page.getByRole('table', { name: 'Deployed versions' }).locator('tbody tr');
    await versions.first().waitFor();
    await page.getByRole('button', { name: 'Deploy', exact: true }).click();
    const confirm = page.getByRole('dialog', { name: 'Deploy version 2?' });
    const refused = answer(page, 'POST', '/admin/v1/apps/legacy/deploy');
    await confirm.getByRole('button', { name: 'Deploy', exact: true }).click();
    assert.equal((await refused).status(), 400);
    await confirm.waitFor({ state: 'detached' });
    const problems = page.getByTestId('app-problems');
    await problems.getByText(detail.error).waitFor();
    await drawn(page);
    assert.equal(await timesShown(page, detail.error), 1, 'the refusal is shown once');
    const title = problems.getByText('The server refused the definition; it was not deployed');
    assert.equal(await title.count(), 1, 'titled as a refused deploy');
    assert.ok(await problems.getByText(detail.field).isVisible(), 'naming the route it is about');
    assert.equal(await toasts(page).count(), 0, 'no toast');
    assert.equal(await page.getByRole('alert').count(), 1, 'one alert');
    assert.equal(
      await problems.evaluate((element) => element === element.ownerDocument.activeElement),
      true,
      'focus is on the refusal',
    );
    assert.equal(await versions.count(), 1, 'still one deployed version listed');

    const app = (await server.admin('GET', '/admin/v1/apps/legacy')).body.data;
    assert.equal(app.live_version, 1, 'the live version is as before');
    assert.deepEqual(app.routes, routes, 'the draft is as before');
    const listed = (await server.admin('GET', '/admin/v1/apps/legacy/versions')).body.data as {
      version: number;
      routes: unknown;
    }[];
    assert.deepEqual(
      listed.map((v) => v.version),
      [1],
      'no version added',
    );
    assert.deepEqual(listed[0]?.routes, [ping]);
  });

  test('create key: an expiry in the past is said once, on the Expires at field, not also in the alert', async () => {
    await signIn();
    await page.goto(`${server.url}/#/keys`);
    await page.getByRole('button', { name: 'Create key' }).click();
    const create = page.getByRole('dialog', { name: 'Create an API key' });
    await create.getByRole('textbox', { name: 'Name' }).fill('late');
    await create.getByLabel('Expires at').fill('2020-01-01T10:00');
    const refused = answer(page, 'POST', '/admin/v1/keys');
    await create.getByRole('button', { name: 'Create key' }).click();
    assert.equal((await refused).status(), 400);
    await create.getByLabel('Expires at').and(page.locator('[aria-invalid="true"]')).waitFor();
    await drawn(page);
    assert.equal(await timesShown(page, 'Must be in the future'), 1, 'create: shown once');
    assert.equal(await create.getByRole('alert').count(), 0, 'create: no alert repeating the field');
    assert.equal(await toasts(page).count(), 0, 'create: no toast');
    assert.equal((await server.admin('GET', '/admin/v1/keys')).body.data.length, 0, 'no key made');
  });

  test('edit key: an expiry in the past is said once, on the Expires at field, not also in the alert', async () => {
    const key = await server.createKey({ name: 'partner', environment: 'test' });
    await signIn();
    await page.goto(`${server.url}/#/keys`);
    await page.getByRole('button', { name: 'Actions for partner' }).click();
    await page.getByRole('menuitem', { name: /^Edit/ }).click();
    const edit = page.getByRole('dialog', { name: 'Edit partner' });
    await edit.getByLabel('Expires at').fill('2020-01-01T10:00');
    const refused = answer(page, 'PATCH', `/admin/v1/keys/${key.id}`);
    await edit.getByRole('button', { name: 'Save changes' }).click();
    assert.equal((await refused).status(), 400);
    await edit.getByLabel('Expires at').and(page.locator('[aria-invalid="true"]')).waitFor();
    await drawn(page);
    assert.equal(await timesShown(page, 'Must be in the future'), 1, 'edit: shown once');
    assert.equal(await edit.getByRole('alert').count(), 0, 'edit: no alert repeating the field');
    assert.equal(await toasts(page).count(), 0, 'edit: no toast');
    assert.equal((await server.admin('GET', `/admin/v1/keys/${key.id}`)).body.data.expires_at, null);
  });

  test('key dialog: a refusal no field can show is said once, in the alert', async () => {
    await signIn();
    await page.goto(`${server.url}/#/keys`);
    await page.getByRole('button', { name: 'Create key' }).click();
    const create = page.getByRole('dialog', { name: 'Create an API key' });
    await create.getByRole('textbox', { name: 'Name' }).fill('unsent');
    await page.route('**/admin/v1/keys', (route) =>
      route.request().method() === 'POST' ? route.abort('connectionrefused') : route.continue(),
    );
    const failed = page.waitForEvent('requestfailed', (request) => request.method() === 'POST');
    await create.getByRole('button', { name: 'Create key' }).click();
    await failed;
    const alert = create.getByRole('alert');
    await alert.getByText('Could not create the key').waitFor();
    await drawn(page);
    assert.equal(await alert.count(), 1, 'one alert');
    assert.equal(await toasts(page).count(), 0, 'no toast');
    await page.unroute('**/admin/v1/keys');
    const keys = (await server.admin('GET', '/admin/v1/keys')).body.data as { name: string }[];
    assert.equal(
      keys.some((k) => k.name === 'unsent'),
      false,
    );
  });
});
