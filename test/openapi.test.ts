import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import SwaggerParser from '@apidevtools/swagger-parser';
import { databaseKinds } from './helpers/database.ts';
import { ordersSchema, startTestServer, type TestServer } from './helpers/server.ts';

for (const kind of databaseKinds) {
  describe(`OpenAPI documents and /docs (${kind})`, () => {
    let server: TestServer;
    let testKey: string;
    let liveKey: string;

    before(async () => {
      server = await startTestServer(kind);
      await server.createEndpoint({ slug: 'orders', name: 'Orders', schema: ordersSchema });
      await server.createEndpoint({
        slug: 'line-items',
        name: 'Line items',
        schema: { type: 'object', properties: { sku: { type: 'string' } } },
      });
      await server.admin('POST', '/admin/v1/endpoints/orders/deploy');
      testKey = (await server.createKey({ name: 't', environment: 'test' })).key;
      liveKey = (await server.createKey({ name: 'l', environment: 'live' })).key;
    });
    after(() => server.close());

    test('the data API document is valid OpenAPI 3.1 with one typed path per endpoint of the environment', async () => {
      const res = await server.request('GET', '/api/v1/openapi.json', { key: testKey });
      assert.equal(res.status, 200);
      const doc = res.body;
      await SwaggerParser.validate(structuredClone(doc));
      assert.equal(doc.openapi, '3.1.0');
      assert.ok(doc.paths['/api/v1/data/orders'].post);
      assert.ok(doc.paths['/api/v1/data/line-items/{record_id}'].put);
      assert.deepEqual(doc.components.schemas.OrdersData.required, ['order_id', 'amount']);
      const post = doc.paths['/api/v1/data/orders'].post;
      for (const status of ['202', '400', '401', '403', '404', '409', '413', '415', '422', '429'])
        assert.ok(post.responses[status], status);
      assert.ok(post.responses['429'].headers['Retry-After']);
      assert.ok(post.responses['202'].headers['X-RateLimit-Remaining']);
      assert.deepEqual(Object.keys(doc.components.securitySchemes).sort(), ['apiKey', 'bearer']);
      assert.deepEqual(Object.keys(doc.webhooks).sort(), [
        'record.created',
        'record.deleted',
        'record.updated',
        'request.failed',
      ]);
      const mint = doc.paths['/api/v1/tokens'].post;
      assert.equal(mint.requestBody.content['application/json'].schema.properties.expires_in.maximum, 3600);
      assert.ok(mint.responses['201']);
      const names = post.parameters.map((p: { $ref: string }) => p.$ref.split('/').pop());
      assert.deepEqual(names, ['IdempotencyKey', 'WebhookCallback', 'WebhookAuth', 'WebhookAuthHeader']);
    });

    test('live keys see only deployed endpoints, with the deployed schema; draft changes show for test at once', async () => {
      await server.admin('PATCH', '/admin/v1/endpoints/orders', {
        schema: { type: 'object', properties: { renamed: { type: 'string' } } },
      });
      const live = (await server.request('GET', '/api/v1/openapi.json', { key: liveKey })).body;
      await SwaggerParser.validate(structuredClone(live));
      assert.ok(live.paths['/api/v1/data/orders']);
      assert.equal(live.paths['/api/v1/data/line-items'], undefined);
      assert.ok(live.components.schemas.OrdersData.properties.order_id);
      const test = (await server.request('GET', '/api/v1/openapi.json', { key: testKey })).body;
      assert.ok(test.components.schemas.OrdersData.properties.renamed);
      assert.equal((await server.request('GET', '/api/v1/openapi.json')).status, 401);
    });

    test('the management document lists every management route and validates', async () => {
      const res = await server.admin('GET', '/admin/v1/openapi.json');
      assert.equal(res.status, 200);
      await SwaggerParser.validate(structuredClone(res.body));
      const paths = res.body.paths;
      for (const [path, method] of [
        ['/admin/v1/endpoints', 'post'],
        ['/admin/v1/endpoints/{slug}/deploy', 'post'],
        ['/admin/v1/keys/{id}/roll', 'post'],
        ['/admin/v1/deliveries/{id}/redeliver', 'post'],
        ['/admin/v1/usage', 'get'],
      ] as const) {
        assert.ok(paths[path]?.[method], `${method} ${path}`);
      }
      assert.equal((await server.request('GET', '/admin/v1/openapi.json')).status, 401);
    });

    test('/docs serves the interactive reference over the public sandbox document', async () => {
      const page = await fetch(`${server.url}/docs/`);
      assert.equal(page.status, 200);
      const html = await page.text();
      assert.match(html, /createApiReference/);
      assert.match(html, /\/docs\/openapi\.json/);
      const script = await fetch(`${server.url}/docs/js/scalar.js`);
      assert.equal(script.status, 200);
      const spec = await fetch(`${server.url}/docs/openapi.json`);
      assert.equal(spec.status, 200);
      const doc = (await spec.json()) as { servers: Array<{ url: string }>; info: { title: string } };
      assert.match(doc.info.title, /test/);
      assert.deepEqual(
        doc.servers.map((s) => s.url),
        [server.url, 'http://localhost:4000'],
      );
    });
  });
}
