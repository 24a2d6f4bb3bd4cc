import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import { after, before, describe, test } from 'node:test';
import { Ajv2020 } from 'ajv/dist/2020.js';
import addFormatsModule from 'ajv-formats';
import { CHROMIUM, ensureDashboardBuilt, openBrowser, signInAsOwner } from './helpers/dashboard-browser.ts';
import { managementCli } from './helpers/process.ts';
import { startTestServer, type TestServer } from './helpers/server.ts';

const addFormats = addFormatsModule as unknown as (ajv: Ajv2020) => void;
const segment = (s: string) => encodeURIComponent(s.replace(/~/g, '~0').replace(/\//g, '~1'));

/**
 * A key past its `expires_at` reads `expired` wherever its status is shown (the API's get, list,
 * edit and deactivate answers, `gatehouse keys list` and `show`, with and without --json), as the
 * data API refuses it (api_key_expired); a revoked or deactivated one keeps that status.
 */
describe('an active key past its expires_at reads status "expired"', () => {
  let server: TestServer;
  const ids = { expired: '', revoked: '', inactive: '', current: '' };
  let secret = '';

  /** Moves a key's expiry into the past in the database (the API refuses a past expires_at). */
  async function expire(id: string): Promise<void> {
    await server.services.database.db
      .updateTable('api_keys')
      .set({ expires_at: new Date(Date.now() - 60_000).toISOString() })
      .where('id', '=', id)
      .execute();
  }

  before(async () => {
    server = await startTestServer('sqlite');
    const later = new Date(Date.now() + 86_400_000).toISOString();
    for (const name of Object.keys(ids) as Array<keyof typeof ids>) {
      const made = await server.createKey({ name, environment: 'test', expires_at: later });
      ids[name] = made.id;
      if (name === 'expired') secret = made.key;
    }
    assert.equal((await server.admin('POST', `/admin/v1/keys/${ids.revoked}/revoke`)).status, 200);
    assert.equal((await server.admin('POST', `/admin/v1/keys/${ids.inactive}/deactivate`)).status, 200);
    for (const id of [ids.expired, ids.revoked, ids.inactive]) await expire(id);
  });
  after(() => server.close());

  test('GET and list answer expired; revoked and inactive keep theirs; the document lists it', async () => {
    const one = await server.admin('GET', `/admin/v1/keys/${ids.expired}`);
    assert.equal(one.status, 200, one.text);
    // Before: "active", though the data API refuses the key.
    assert.equal(one.body.data.status, 'expired');
    const call = await server.request('GET', '/api/v1/account', { key: secret });
    assert.equal(call.status, 401, call.text);
    assert.equal(call.body.code, 'api_key_expired');

    const list = await server.admin('GET', '/admin/v1/keys');
    const statuses = Object.fromEntries(
      (list.body.data as Array<{ name: string; status: string }>).map((k) => [k.name, k.status]),
    );
    assert.deepEqual(statuses, {
      expired: 'expired',
      revoked: 'revoked',
      inactive: 'inactive',
      current: 'active',
    });

    // The management API's document takes the answer (its enum names `expired`).
    const doc = (await server.admin('GET', '/admin/v1/openapi.json')).body;
    const ajv = new Ajv2020({ strict: false });
    addFormats(ajv);
    ajv.addSchema({ ...doc, $id: 'https://contract.invalid/admin.json' });
    const validate = ajv.compile({
      $ref: `https://contract.invalid/admin.json#/paths/${segment('/admin/v1/keys/{id}')}/get/responses/200/content/${segment('application/json')}/schema`,
    });
    assert.ok(validate(one.body), JSON.stringify(validate.errors));
  });

  test('an edit answers expired; deactivating makes it inactive; a later expiry makes it active', async () => {
    const renamed = await server.admin('PATCH', `/admin/v1/keys/${ids.expired}`, { name: 'renamed' });
    assert.equal(renamed.status, 200, renamed.text);
    assert.equal(renamed.body.data.status, 'expired');
    const activated = await server.admin('POST', `/admin/v1/keys/${ids.expired}/activate`);
    assert.equal(activated.status, 409, 'an expired key is not activated');
    const deactivated = await server.admin('POST', `/admin/v1/keys/${ids.expired}/deactivate`);
    assert.equal(deactivated.status, 200, deactivated.text);
    assert.equal(deactivated.body.data.status, 'inactive');
    const renewed = await server.admin('PATCH', `/admin/v1/keys/${ids.expired}`, { expires_at: null });
    assert.equal(renewed.body.data.status, 'inactive');
    assert.equal(
      (await server.admin('POST', `/admin/v1/keys/${ids.expired}/activate`)).body.data.status,
      'active',
    );
    await expire(ids.expired);
    assert.equal((await server.admin('GET', `/admin/v1/keys/${ids.expired}`)).body.data.status, 'expired');
  });

  test('gatehouse keys list and show say expired, with --json too', async () => {
    const cli = managementCli(server);
    const table = await cli('keys', 'list');
    assert.equal(table.code, 0, table.stderr);
    const rowOf = (name: string) => table.stdout.split('\n').find((line) => line.includes(` ${name} `)) ?? '';
    assert.match(rowOf('renamed'), /\bexpired\b/);
    assert.match(rowOf('revoked'), /\brevoked\b/);
    assert.doesNotMatch(rowOf('revoked'), /\bexpired\b/);
    assert.match(rowOf('inactive'), /\binactive\b/);
    assert.match(rowOf('current'), /\bactive\b/);

    const json = await cli('keys', 'list', '--json');
    assert.equal(json.code, 0, json.stderr);
    const listed = JSON.parse(json.stdout).data as Array<{ name: string; status: string }>;
    // Before: --json said "active" while the table said "expired".
    assert.equal(listed.find((k) => k.name === 'renamed')?.status, 'expired');

    const shown = await cli('keys', 'show', ids.expired, '--json');
    assert.equal(JSON.parse(shown.stdout).data.status, 'expired');
    const updated = await cli('keys', 'update', ids.expired, '--name', 'renamed-again');
    assert.equal(updated.code, 0, updated.stderr);
    assert.match(updated.stdout, /status\s+expired/);
  });

  test('the Keys page shows the status the API gives, and offers Deactivate, not Activate', {
    skip: existsSync(CHROMIUM) ? false : `${CHROMIUM} is not installed`,
  }, async () => {
    ensureDashboardBuilt();
    const browser = await openBrowser(server.url);
    try {
      const { page } = browser;
      await signInAsOwner(page, server.url);
      await page.goto(`${server.url}/#/keys`);
      const statusOf = (name: string) => page.getByTestId(`key-row-${name}`).getByRole('cell').nth(2);
      await page.getByTestId('key-row-renamed-again').waitFor();
      assert.equal(await statusOf('renamed-again').textContent(), 'expired');
      assert.equal(await statusOf('revoked').textContent(), 'revoked');
      assert.equal(await statusOf('inactive').textContent(), 'inactive');
      assert.equal(await statusOf('current').textContent(), 'active');
      await page.getByRole('button', { name: 'Actions for renamed-again' }).click();
      await page.getByRole('menuitem', { name: 'Deactivate', exact: true }).waitFor();
      assert.equal(await page.getByRole('menuitem', { name: 'Activate', exact: true }).count(), 0);
    } finally {
      await browser.close();
    }
  });
});
