import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { ordersSchema, startTestServer, type TestServer } from './helpers/server.ts';

/** Endpoints and apps, as keys: a name of only spaces is 400 naming it, and changes nothing. */
describe('a blank name is refused for endpoints and apps', () => {
  let server: TestServer;

  before(async () => {
    server = await startTestServer('sqlite');
  });
  after(() => server.close());

  const blank = [{ field: 'name', error: 'Must not be blank' }];

  test('an endpoint: on create and on update', async () => {
    const created = await server.admin('POST', '/admin/v1/endpoints', {
      slug: 'orders',
      name: '   ',
      schema: ordersSchema,
    });
    assert.equal(created.status, 400, created.text);
    assert.deepEqual(created.body.details, blank);
    assert.equal((await server.admin('GET', '/admin/v1/endpoints/orders')).status, 404, 'nothing created');
    await server.createEndpoint({ slug: 'orders', name: 'Orders', schema: ordersSchema });
    const patched = await server.admin('PATCH', '/admin/v1/endpoints/orders', { name: '\t ' });
    assert.equal(patched.status, 400, patched.text);
    assert.deepEqual(patched.body.details, blank);
    assert.equal((await server.admin('GET', '/admin/v1/endpoints/orders')).body.data.name, 'Orders');
  });

  test('an app: on create', async () => {
    const created = await server.admin('POST', '/admin/v1/apps', {
      slug: 'crm',
      name: '  ',
      routes: [
        { method: 'GET', path: '/ping', steps: [{ name: 'out', type: 'transform', expression: '1' }] },
      ],
    });
    assert.equal(created.status, 400, created.text);
    assert.deepEqual(created.body.details, blank);
    assert.equal((await server.admin('GET', '/admin/v1/apps/crm')).status, 404, 'nothing created');
  });
});
