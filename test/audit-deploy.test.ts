import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { databaseKinds } from './helpers/database.ts';
import { ordersSchema, startTestServer, type TestServer } from './helpers/server.ts';

interface Entry {
  action: string;
  target_type: string | null;
  target_id: string | null;
  details: Record<string, unknown> | null;
}

for (const kind of databaseKinds) {
  describe(`the audit log says which version a deploy published (${kind})`, () => {
    let server: TestServer;

    const entries = async (action: string): Promise<Entry[]> => {
      const res = await server.admin('GET', `/admin/v1/audit?action=${action}`);
      assert.equal(res.status, 200, res.text);
      return res.body.data as Entry[];
    };

    before(async () => {
      server = await startTestServer(kind);
    });
    after(() => server.close());

    test('each endpoint.deploy entry carries the version it made live', async () => {
      await server.createEndpoint({ slug: 'orders', name: 'Orders', schema: ordersSchema });
      for (const expected of [1, 2]) {
        const res = await server.admin('POST', '/admin/v1/endpoints/orders/deploy');
        assert.equal(res.status, 201, res.text);
        assert.equal(res.body.data.deployed.version, expected, 'the deploy made the next version');
      }
      const deploys = await entries('endpoint.deploy');
      assert.deepEqual(
        deploys.map((e) => [e.target_type, e.target_id, e.details]),
        [
          ['endpoint', 'orders', { version: 2, environment: 'live' }],
          ['endpoint', 'orders', { version: 1, environment: 'live' }],
        ],
        'newest first, each naming its version and environment',
      );
    });

    test('each app.deploy entry carries the version it made live', async () => {
      const created = await server.admin('POST', '/admin/v1/apps', {
        slug: 'hello',
        name: 'Hello',
        routes: [
          {
            method: 'GET',
            path: '/hi',
            auth: 'public',
            steps: [{ name: 'out', type: 'respond', body: "'hi'" }],
          },
        ],
      });
      assert.equal(created.status, 201, created.text);
      const res = await server.admin('POST', '/admin/v1/apps/hello/deploy');
      assert.equal(res.status, 201, res.text);
      const [deploy] = await entries('app.deploy');
      assert.deepEqual(deploy?.details, { version: 1, environment: 'live' }, JSON.stringify(deploy));
      assert.equal(deploy?.target_id, 'hello');
    });

    test('a call that makes an object still names what it made as the target', async () => {
      const sub = await server.admin('POST', '/admin/v1/endpoints/orders/webhooks', {
        url: 'https://example.com/hook',
        environment: 'test',
      });
      assert.equal(sub.status, 201, sub.text);
      const [entry] = await entries('webhook.create');
      assert.equal(entry?.target_id, sub.body.data.id, 'the whk_ made');
      assert.deepEqual(entry?.details, { endpoint: 'orders' });
    });
  });
}
