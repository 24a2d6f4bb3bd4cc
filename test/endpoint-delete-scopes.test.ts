import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { databaseKinds } from './helpers/database.ts';
import { managementCli } from './helpers/process.ts';
import { ordersSchema, startTestServer, type TestServer } from './helpers/server.ts';

for (const kind of databaseKinds) {
  describe(`deleting an endpoint or an app takes its scopes from keys, on ${kind}`, () => {
    let server: TestServer;
    const order = { order_id: 'S-1', amount: 1 };

    const scopesOf = async (id: string) =>
      (await server.admin('GET', `/admin/v1/keys/${id}`)).body.data.scopes;

    before(async () => {
      server = await startTestServer(kind);
    });
    after(() => server.close());

    test('a key scoped to a deleted endpoint gains nothing from a new endpoint of the same slug', async () => {
      await server.createEndpoint({ slug: 'orders', name: 'Orders', schema: ordersSchema });
      await server.createEndpoint({ slug: 'notes', name: 'Notes', schema: { type: 'object' } });
      // `orders-archive` starts like `orders:`: its scopes are not the deleted endpoint's.
      const mixed = await server.createKey({
        name: 'mixed',
        environment: 'test',
        scopes: ['orders:read', 'orders-archive:write', 'orders:write', 'notes:read'],
      });
      const only = await server.createKey({ name: 'only', environment: 'test', scopes: ['orders:write'] });
      const all = await server.createKey({ name: 'all', environment: 'test', scopes: ['*'] });
      // Each key used first: its standing is cached, and must not outlive the delete.
      for (const { key } of [mixed, only, all]) {
        const made = await server.request('POST', '/api/v1/data/orders', { key, json: order });
        assert.equal(made.status, 202, made.text);
      }

      const deleted = await server.admin('DELETE', '/admin/v1/endpoints/orders');
      assert.equal(deleted.status, 200, deleted.text);
      assert.deepEqual(await scopesOf(mixed.id), ['orders-archive:write', 'notes:read']);
      assert.deepEqual(await scopesOf(only.id), []);
      assert.deepEqual(await scopesOf(all.id), ['*']);
      const shown = await managementCli(server)('keys', 'show', only.id);
      assert.equal(shown.code, 0, shown.stderr);
      assert.match(
        shown.stdout,
        /^scopes +none: every data call is refused \(403 insufficient_scope\) until it is given scopes$/m,
      );
      const mixedShown = await managementCli(server)('keys', 'show', mixed.id);
      assert.match(mixedShown.stdout, /^scopes +\["orders-archive:write","notes:read"\]$/m);
      const audit = await server.admin('GET', '/admin/v1/audit?action=endpoint.delete');
      assert.equal(audit.status, 200, audit.text);
      assert.deepEqual(audit.body.data[0]?.details, { keys_unscoped: 2 });

      await server.createEndpoint({ slug: 'orders', name: 'Orders again', schema: ordersSchema });
      for (const { key } of [mixed, only]) {
        const write = await server.request('POST', '/api/v1/data/orders', { key, json: order });
        assert.equal(write.status, 403, write.text);
        assert.equal(write.body.code, 'insufficient_scope');
        const read = await server.request('GET', '/api/v1/data/orders', { key });
        assert.equal(read.status, 403, read.text);
      }
      const list = await server.request('GET', '/api/v1/data/orders', { key: all.key });
      assert.equal(list.status, 200);
      assert.deepEqual(list.body.data, [], 'the old records went with the old endpoint');
      // The keys' other scopes still work; the account call says what is left.
      assert.equal((await server.request('GET', '/api/v1/data/notes', { key: mixed.key })).status, 200);
      const account = await server.request('GET', '/api/v1/account', { key: only.key });
      assert.deepEqual(account.body.data.scopes, []);
      // The owner gives the scope back on purpose: then it works.
      const regranted = await server.admin('PATCH', `/admin/v1/keys/${only.id}`, {
        scopes: ['orders:write'],
      });
      assert.equal(regranted.status, 200, regranted.text);
      const write = await server.request('POST', '/api/v1/data/orders', { key: only.key, json: order });
      assert.equal(write.status, 202, write.text);
    });

    test('a delete that is refused or names no endpoint leaves every scope as it was', async () => {
      await server.createEndpoint({ slug: 'ledger', name: 'Ledger', schema: { type: 'object' } });
      const key = await server.createKey({ name: 'ledger', environment: 'test', scopes: ['ledger:read'] });
      const app = await server.admin('POST', '/admin/v1/apps', {
        slug: 'books',
        name: 'Books',
        routes: [
          {
            method: 'GET',
            path: '/n',
            steps: [
              { name: 'rows', type: 'find', endpoint: 'ledger' },
              { name: 'out', type: 'respond', body: '$count(rows)' },
            ],
          },
        ],
      });
      assert.equal(app.status, 201, app.text);
      const refused = await server.admin('DELETE', '/admin/v1/endpoints/ledger');
      assert.equal(refused.status, 409, refused.text);
      assert.deepEqual(await scopesOf(key.id), ['ledger:read']);
      assert.equal((await server.request('GET', '/api/v1/data/ledger', { key: key.key })).status, 200);

      const unknown = await server.admin('DELETE', '/admin/v1/endpoints/ledgers');
      assert.equal(unknown.status, 404, unknown.text);
      assert.equal(unknown.body.code, 'endpoint_not_found');
      assert.deepEqual(await scopesOf(key.id), ['ledger:read']);
    });

    test('a key scoped to a deleted app gains nothing from a new app of the same slug', async () => {
      const shelf = (body: string) => ({
        slug: 'shelf',
        name: 'Shelf',
        routes: [{ method: 'GET', path: '/n', steps: [{ name: 'out', type: 'respond', body }] }],
      });
      assert.equal((await server.admin('POST', '/admin/v1/apps', shelf("'old'"))).status, 201);
      // `apps:shelf-2` starts like `apps:shelf`: it is not the deleted app's scope.
      const mixed = await server.createKey({
        name: 'app-mixed',
        environment: 'test',
        scopes: ['apps:shelf', 'apps:shelf-2', 'notes:read'],
      });
      const only = await server.createKey({ name: 'app-only', environment: 'test', scopes: ['apps:shelf'] });
      const all = await server.createKey({ name: 'app-all', environment: 'test', scopes: ['*'] });
      // Each key used first (and a token minted): its standing is cached, and must not outlive the delete.
      const token = await server.request('POST', '/api/v1/tokens', { key: only.key, json: {} });
      assert.equal(typeof token.body?.data?.token, 'string', token.text);
      for (const { key } of [mixed, only, all]) {
        const call = await server.request('GET', '/api/v1/apps/shelf/n', { key });
        assert.equal(call.status, 200, call.text);
      }

      const deleted = await server.admin('DELETE', '/admin/v1/apps/shelf');
      assert.equal(deleted.status, 200, deleted.text);
      assert.deepEqual(await scopesOf(mixed.id), ['apps:shelf-2', 'notes:read']);
      assert.deepEqual(await scopesOf(only.id), []);
      assert.deepEqual(await scopesOf(all.id), ['*']);
      const audit = await server.admin('GET', '/admin/v1/audit?action=app.delete');
      assert.equal(audit.status, 200, audit.text);
      assert.deepEqual(audit.body.data[0]?.details, { keys_unscoped: 2 });

      assert.equal((await server.admin('POST', '/admin/v1/apps', shelf("'new'"))).status, 201);
      for (const key of [mixed.key, only.key, token.body.data.token]) {
        const call = await server.request('GET', '/api/v1/apps/shelf/n', { key });
        assert.equal(call.status, 403, call.text);
        assert.equal(call.body.code, 'insufficient_scope');
      }
      const allowed = await server.request('GET', '/api/v1/apps/shelf/n', { key: all.key });
      assert.equal(allowed.status, 200, allowed.text);
      assert.equal(allowed.body, 'new');
      // The owner gives the scope back on purpose: then it works.
      const regranted = await server.admin('PATCH', `/admin/v1/keys/${only.id}`, { scopes: ['apps:shelf'] });
      assert.equal(regranted.status, 200, regranted.text);
      assert.equal((await server.request('GET', '/api/v1/apps/shelf/n', { key: only.key })).status, 200);

      // An unknown app changes nothing.
      const unknown = await server.admin('DELETE', '/admin/v1/apps/shelves');
      assert.equal(unknown.status, 404, unknown.text);
      assert.equal(unknown.body.code, 'app_not_found');
      assert.deepEqual(await scopesOf(only.id), ['apps:shelf']);
    });
  });
}
