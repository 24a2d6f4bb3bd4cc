import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { databaseKinds } from './helpers/database.ts';
import { ordersSchema, startTestServer, type TestServer } from './helpers/server.ts';

/** A GET route that writes (a click counter, a tracking pixel) and one that only reads. */
const tracker = {
  slug: 'tracker',
  name: 'Tracker',
  routes: [
    {
      method: 'GET',
      path: '/hit/:order_id',
      auth: 'apiKey',
      steps: [
        {
          name: 'hit',
          type: 'create',
          endpoint: 'orders',
          data: "{ 'order_id': params.order_id, 'amount': 1 }",
        },
        { name: 'out', type: 'respond', body: '{ "id": hit.id }' },
      ],
    },
    {
      method: 'GET',
      path: '/hits/:order_id',
      auth: 'apiKey',
      steps: [
        { name: 'found', type: 'find', endpoint: 'orders', filter: { order_id: 'params.order_id' } },
        {
          name: 'out',
          type: 'respond',
          headers: { 'x-hits': '$string($count(found))' },
          body: '{ "hits": $count(found) }',
        },
      ],
    },
  ],
};

/**
 * HEAD asks for what GET would answer, without its body, and is safe (RFC 9110): a link checker or
 * a preview bot sending it must not write. A GET route whose steps write is therefore not run for
 * HEAD (405, Allow: GET); one that only reads answers HEAD as GET, without the body.
 */
for (const kind of databaseKinds) {
  describe(`HEAD on an App API GET route (${kind})`, () => {
    let server: TestServer;
    let key: string;
    before(async () => {
      server = await startTestServer(kind);
      await server.createEndpoint({ slug: 'orders', name: 'Orders', schema: ordersSchema });
      key = (await server.createKey({ name: 'app', environment: 'test', scopes: ['*'] })).key;
      const app = await server.admin('POST', '/admin/v1/apps', tracker);
      assert.equal(app.status, 201, app.text);
    });
    after(() => server.close());

    const call = (method: string, path: string) =>
      fetch(`${server.url}/api/v1/apps/tracker${path}`, {
        method,
        headers: { authorization: `Bearer ${key}` },
      });
    const hits = async (orderId: string) =>
      (
        await server.services.database.db
          .selectFrom('records')
          .select('id')
          .where('data', 'like', `%"${orderId}"%`)
          .execute()
      ).length;

    test('a route that writes is not run: 405 with Allow: GET, nothing written', async () => {
      const head = await call('HEAD', '/hit/ORD-HEAD');
      assert.equal(head.status, 405);
      assert.equal(head.headers.get('allow'), 'GET');
      assert.equal(await head.text(), '');
      assert.equal(await hits('ORD-HEAD'), 0, 'HEAD wrote nothing');
      const get = await call('GET', '/hit/ORD-HEAD');
      assert.equal(get.status, 200, await get.clone().text());
      assert.equal(await hits('ORD-HEAD'), 1, 'GET writes once');
    });

    test('a route that only reads answers HEAD as GET, without the body', async () => {
      const first = await call('GET', '/hit/ORD-READ');
      assert.equal(first.status, 200, await first.text());
      const get = await call('GET', '/hits/ORD-READ');
      assert.deepEqual(await get.json(), { hits: 1 });
      const head = await call('HEAD', '/hits/ORD-READ');
      assert.equal(head.status, 200);
      assert.equal(head.headers.get('x-hits'), '1');
      assert.equal(head.headers.get('content-type'), get.headers.get('content-type'));
      assert.equal(await head.text(), '');
      assert.equal(await hits('ORD-READ'), 1);
    });
  });
}
