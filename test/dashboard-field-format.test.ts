import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import type { Page } from 'playwright-core';
import { compileSchema } from '../src/endpoints/json-schema.ts';
import {
  type Browser,
  ensureDashboardBuilt,
  NEEDS_CHROMIUM,
  ownerBrowser,
} from './helpers/dashboard-browser.ts';
import { startTestServer, type TestServer } from './helpers/server.ts';

/** Every format the server knows (its refusal of an unknown one lists them). */
function serverFormats(): string[] {
  try {
    compileSchema({ type: 'object', properties: { a: { type: 'string', format: 'no-such-format' } } });
  } catch (error) {
    const message = JSON.stringify(error);
    const list = /the formats are ([^"]+)/.exec(message)?.[1] ?? '';
    return list.split(/, (?:or )?| or /).filter((name) => name !== '');
  }
  throw new Error('an unknown format was accepted');
}

/** The formats the server checks a string against: those that refuse " (", a string no format admits. */
function stringFormatsChecked(): string[] {
  return serverFormats().filter((format) => {
    const validate = compileSchema({ type: 'object', properties: { a: { type: 'string', format } } });
    return !validate({ a: ' (' });
  });
}

/**
 * The field builder offers a string field (and an array's string items) the formats the server
 * checks; the format picked is saved in the schema, shown again when the endpoint is reopened,
 * and checked by the data API.
 */
describe('dashboard field builder: a string field’s format', NEEDS_CHROMIUM, () => {
  let server: TestServer;
  let owner: Browser;
  let page: Page;

  before(async () => {
    ensureDashboardBuilt();
    server = await startTestServer('sqlite');
    owner = await ownerBrowser(server.url);
    page = owner.page;
  });
  after(async () => {
    await owner?.close();
    await server?.close();
  });

  test('a format picked in the builder is saved, shown again, and checked on records', async () => {
    await server.createEndpoint({
      slug: 'contacts',
      name: 'Contacts',
      schema: { type: 'object', properties: { name: { type: 'string' } } },
    });
    await page.goto(`${server.url}/#/endpoints/contacts`);
    await page.getByRole('heading', { level: 1, name: 'Contacts' }).waitFor();

    await page.getByRole('button', { name: 'Add field', exact: true }).click();
    const row = page.getByTestId('field-row').nth(1);
    await row.getByLabel('Field name').fill('email');
    const format = row.getByLabel('Format', { exact: true });
    await format.click();
    const options = page.getByRole('listbox').getByRole('option');
    await options.first().waitFor();
    // Exactly the formats the server checks a string against.
    assert.deepEqual((await options.allTextContents()).sort(), stringFormatsChecked().sort());
    await page.getByRole('option', { name: 'email', exact: true }).click();
    assert.equal(await format.inputValue(), 'email');

    // An array of strings takes a format for its items.
    await page.getByRole('button', { name: 'Add field', exact: true }).click();
    const links = page.getByTestId('field-row').nth(2);
    await links.getByLabel('Field name').fill('links');
    await links.getByLabel('Type', { exact: true }).click();
    await page.getByRole('option', { name: 'array', exact: true }).click();
    await links.getByLabel('Item format', { exact: true }).click();
    await page.getByRole('option', { name: 'uri', exact: true }).click();

    await page.getByRole('button', { name: 'Save draft' }).click();
    await page.getByText('Draft saved').first().waitFor();
    const saved = await server.admin('GET', '/admin/v1/endpoints/contacts');
    assert.deepEqual(saved.body.data.schema.properties, {
      name: { type: 'string' },
      email: { type: 'string', format: 'email' },
      links: { type: 'array', items: { type: 'string', format: 'uri' } },
    });

    // Reopened, the builder shows both formats.
    await page.reload();
    await page.getByRole('heading', { level: 1, name: 'Contacts' }).waitFor();
    const email = page.getByRole('group', { name: 'Field 2: email', exact: true });
    assert.equal(await email.getByLabel('Format', { exact: true }).inputValue(), 'email');
    const reopened = page.getByRole('group', { name: 'Field 3: links', exact: true });
    assert.equal(await reopened.getByLabel('Item format', { exact: true }).inputValue(), 'uri');

    // Deployed, the data API checks them: a bad email or link is refused
    // (400 validation_failed, the data API's answer to a body its schema refuses) and nothing is written.
    assert.equal((await server.admin('POST', '/admin/v1/endpoints/contacts/deploy')).status, 201);
    const { key } = await server.createKey({ name: 'formats', environment: 'test', scopes: ['*'] });
    const write = (json: object) => server.request('POST', '/api/v1/data/contacts', { key, json });
    const badEmail = await write({ name: 'Ann', email: 'not-an-email' });
    assert.equal(badEmail.status, 400, badEmail.text);
    assert.equal(badEmail.body.code, 'validation_failed');
    assert.deepEqual(badEmail.body.details, [{ field: 'email', error: 'Must be a valid email' }]);
    const badLink = await write({ name: 'Ann', links: ['https://example.com/', 'not a uri'] });
    assert.equal(badLink.status, 400, badLink.text);
    assert.equal(badLink.body.code, 'validation_failed');
    assert.deepEqual(badLink.body.details, [{ field: 'links[1]', error: 'Must be a valid uri' }]);
    const none = await server.request('GET', '/api/v1/data/contacts', { key });
    assert.deepEqual(none.body.data, [], 'nothing was written');
    const good = await write({ name: 'Ann', email: 'ann@example.com', links: ['https://example.com/'] });
    assert.ok(good.status === 201 || good.status === 202, good.text);
  });

  test('a format the builder does not list is shown as it is, and kept', async () => {
    await server.createEndpoint({
      slug: 'notes',
      name: 'Notes',
      schema: { type: 'object', properties: { secret: { type: 'string', format: 'password' } } },
    });
    await page.goto(`${server.url}/#/endpoints/notes`);
    const secret = page.getByRole('group', { name: 'Field 1: secret', exact: true });
    assert.equal(await secret.getByLabel('Format', { exact: true }).inputValue(), 'password');
    // Changing another input keeps it.
    await secret.getByLabel('Max length').fill('40');
    await page.getByRole('button', { name: 'Save draft' }).click();
    await page.getByText('Draft saved').first().waitFor();
    const saved = await server.admin('GET', '/admin/v1/endpoints/notes');
    assert.deepEqual(saved.body.data.schema.properties, {
      secret: { type: 'string', format: 'password', maxLength: 40 },
    });
  });
});
