import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { ordersSchema, startTestServer, type TestServer } from './helpers/server.ts';

/**
 * A PATCH naming no field changed nothing and answered 200 as if it had (updated_at moved): every
 * PATCH route of the management API now refuses `{}` alike, naming the fields it changes, and
 * changes nothing; a PATCH naming a field still works.
 */
describe('PATCH with {}: 400 naming the fields to give, on every PATCH route', () => {
  let server: TestServer;
  const paths: Record<string, string> = {};

  before(async () => {
    server = await startTestServer('sqlite');
    await server.createEndpoint({ slug: 'orders', name: 'Orders', schema: ordersSchema });
    paths.endpoint = '/admin/v1/endpoints/orders';
    paths.key = `/admin/v1/keys/${(await server.createKey({ name: 'partner', environment: 'test' })).id}`;
    const app = await server.admin('POST', '/admin/v1/apps', {
      slug: 'shop',
      name: 'Shop',
      routes: [
        {
          method: 'GET',
          path: '/orders/:id',
          auth: 'apiKey',
          steps: [{ name: 'order', type: 'get', endpoint: 'orders', id: 'params.id' }],
        },
      ],
    });
    assert.equal(app.status, 201, app.text);
    paths.app = '/admin/v1/apps/shop';
    const hook = await server.admin('POST', '/admin/v1/endpoints/orders/webhooks', {
      url: 'https://hooks.example.com/orders',
      environment: 'test',
    });
    assert.equal(hook.status, 201, hook.text);
    paths.webhook = `/admin/v1/webhooks/${hook.body.data.id}`;
  });
  after(() => server.close());

  const cases = [
    ['endpoint', 'name, schema, max_body_bytes, active, expires_at or retry', { name: 'Orders 2' }],
    ['key', 'name, scopes, limits or expires_at', { name: 'partner 2' }],
    ['app', 'name or routes', { name: 'Shop 2' }],
    ['webhook', 'url, events or enabled', { enabled: false }],
  ] as const;

  for (const [what, fields, change] of cases) {
    test(`${what}: {} is refused and nothing changes; a field still changes it`, async () => {
      const path = paths[what] as string;
      const before = (await server.admin('GET', path)).body.data;
      await new Promise((resolve) => setTimeout(resolve, 5)); // updated_at would move
      const empty = await server.admin('PATCH', path, {});
      // Before: 200, nothing changed but updated_at.
      assert.equal(empty.status, 400, empty.text);
      assert.equal(empty.body.code, 'invalid_request');
      assert.equal(empty.body.error, `Give at least one field to change: ${fields}`);
      assert.deepEqual(empty.body.details, []);
      assert.deepEqual((await server.admin('GET', path)).body.data, before, 'nothing changed');

      // An unknown field is still named as such, not told to give a field.
      const unknown = await server.admin('PATCH', path, { nmae: 'x' });
      assert.equal(unknown.status, 400, unknown.text);
      assert.notEqual(unknown.body.error, empty.body.error);

      const changed = await server.admin('PATCH', path, change);
      assert.equal(changed.status, 200, changed.text);
      for (const [field, value] of Object.entries(change)) assert.deepEqual(changed.body.data[field], value);
    });
  }

  test('the management API document says a PATCH body names at least one field', async () => {
    type Operation = { requestBody: { content: Record<string, { schema: { minProperties?: number } }> } };
    const doc = (await server.admin('GET', '/admin/v1/openapi.json')).body as {
      paths: Record<string, { patch?: Operation }>;
    };
    const patches = Object.entries(doc.paths).flatMap(([path, item]) =>
      item.patch ? [[path, item.patch] as const] : [],
    );
    assert.deepEqual(patches.map(([path]) => path).sort(), [
      '/admin/v1/apps/{slug}',
      '/admin/v1/endpoints/{slug}',
      '/admin/v1/keys/{id}',
      '/admin/v1/webhooks/{id}',
    ]);
    for (const [path, patch] of patches) {
      assert.equal(patch.requestBody.content['application/json']?.schema.minProperties, 1, path);
    }
  });
});
