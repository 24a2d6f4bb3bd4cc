import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { databaseKinds } from './helpers/database.ts';
import { startTestServer, type TestServer } from './helpers/server.ts';

/**
 * U+0000 (`%00`) in a management URL: no id, slug or stored text holds it, and PostgreSQL refuses
 * to compare with it (every route below was a 500 there, a 404 on SQLite). Now a 400 naming the
 * field, on both databases, after authentication.
 */
for (const kind of databaseKinds) {
  describe(`management API: U+0000 in a path parameter or query (${kind})`, () => {
    let server: TestServer;
    let routes: Array<{ method: string; path: string }>;

    before(async () => {
      server = await startTestServer(kind);
      await server.createEndpoint({ slug: 'orders', name: 'Orders', schema: { type: 'object' } });
      const doc = (await server.admin('GET', '/admin/v1/openapi.json')).body;
      routes = Object.entries(doc.paths as Record<string, Record<string, unknown>>).flatMap(
        ([path, methods]) => Object.keys(methods).map((method) => ({ method: method.toUpperCase(), path })),
      );
    });
    after(() => server.close());

    test('every route with a path parameter answers 400 invalid_request naming it', async () => {
      const withParams = routes.filter((route) => route.path.includes('{'));
      assert.ok(withParams.length >= 20, `only ${withParams.length} routes with parameters`);
      for (const route of withParams) {
        const path = route.path.replace(/\{[^}]+\}/g, 'x%00');
        const res = await server.request(route.method, path, {
          token: server.token,
          json: route.method === 'GET' || route.method === 'DELETE' ? undefined : {},
        });
        assert.equal(res.status, 400, `${route.method} ${path} → ${res.status} ${res.text}`);
        assert.equal(res.body.code, 'invalid_request');
        assert.equal(res.body.details[0].error, 'Cannot hold U+0000', `${route.method} ${path}`);
      }
    });

    test('list filters holding U+0000 answer 400 naming the filter', async () => {
      for (const [path, field] of [
        ['/admin/v1/deliveries?record_id=a%00b', 'record_id'],
        ['/admin/v1/deliveries?endpoint=%00', 'endpoint'],
        ['/admin/v1/audit?action=%00', 'action'],
        ['/admin/v1/audit?actor=%00', 'actor'],
        ['/admin/v1/webhooks?environment=test%00', 'environment'],
        ['/admin/v1/invites/lookup?token=%00', 'token'],
      ] as const) {
        const res = await server.request('GET', path, { token: server.token });
        assert.equal(res.status, 400, `${path} → ${res.status} ${res.text}`);
        assert.deepEqual(res.body.details, [{ field, error: 'Cannot hold U+0000' }], path);
      }
    });

    test('without credentials it is still a 401 first', async () => {
      const res = await server.request('GET', '/admin/v1/keys/x%00');
      assert.equal(res.status, 401);
    });
  });
}
