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

  // An empty nested object named no field either: `"limits": {}` answered 200 and kept every limit
  // (windows are merged), `"retry": {}` only moved the draft's revision. Refused on create and on
  // change alike, naming the fields it takes; nothing is created or changed.
  const nested = [
    [
      'key',
      'limits',
      'limits needs at least one of per_minute, per_day or per_month; to leave the key no limits of its own, send "limits": null',
      'Must have at least one of per_minute, per_day or per_month',
      { per_minute: 10 },
    ],
    [
      'endpoint',
      'retry',
      'retry needs at least one of max_retries or interval_seconds',
      'Must have at least one of max_retries or interval_seconds',
      { max_retries: 5, interval_seconds: 60 },
    ],
  ] as const;

  for (const [what, field, message, error, one] of nested) {
    test(`${what}: "${field}": {} is refused on a change and on a create; nothing changes`, async () => {
      const path = paths[what] as string;
      const before = (await server.admin('GET', path)).body.data;
      await new Promise((resolve) => setTimeout(resolve, 5)); // updated_at would move
      const empty = await server.admin('PATCH', path, { [field]: {} });
      // Before: 200, nothing changed but updated_at (and an endpoint's draft revision).
      assert.equal(empty.status, 400, empty.text);
      assert.equal(empty.body.code, 'invalid_request');
      assert.equal(empty.body.error, message);
      assert.deepEqual(empty.body.details, [{ field, error }]);
      assert.deepEqual((await server.admin('GET', path)).body.data, before, 'nothing changed');

      const collection = what === 'key' ? '/admin/v1/keys' : '/admin/v1/endpoints';
      const count = async () => (await server.admin('GET', collection)).body.data.length;
      const was = await count();
      const created = await server.admin(
        'POST',
        collection,
        what === 'key'
          ? { name: 'empty limits', environment: 'test', limits: {} }
          : { slug: 'empty-retry', name: 'Empty retry', schema: ordersSchema, retry: {} },
      );
      // Before: 201, as if the field had been left out.
      assert.equal(created.status, 400, created.text);
      assert.equal(created.body.error, message);
      assert.deepEqual(created.body.details, [{ field, error }]);
      assert.equal(await count(), was, 'nothing created');

      // One field of it still changes it; a key's `"limits": null` still removes them all.
      const changed = await server.admin('PATCH', path, { [field]: one });
      assert.equal(changed.status, 200, changed.text);
      assert.deepEqual(changed.body.data[field], one);
      if (what === 'key') {
        const none = await server.admin('PATCH', path, { limits: null });
        assert.equal(none.status, 200, none.text);
        assert.deepEqual(none.body.data.limits, {});
      }
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
