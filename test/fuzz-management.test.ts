import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import fc from 'fast-check';
import { accessOf } from '../src/dashboard/access.ts';
import { startTestServer, type TestServer } from './helpers/server.ts';

const LEAKS =
  /(\bat \S+:\d+:\d+|SQLITE_|sqlite|postgres|SELECT |INSERT |node_modules|TypeError|ReferenceError)/i;

/**
 * Every management route from the server's own route table gets random bodies, ids and query
 * strings: never a 5xx, never internals in the answer.
 */
describe('property tests: bad input on every management route', () => {
  let server: TestServer;
  let routes: Array<{ method: string; path: string }>;

  before(async () => {
    server = await startTestServer('sqlite');
    await server.createEndpoint({ slug: 'orders', name: 'Orders', schema: { type: 'object' } });
    const doc = (await server.admin('GET', '/admin/v1/openapi.json')).body;
    routes = Object.entries(doc.paths as Record<string, Record<string, unknown>>).flatMap(([path, methods]) =>
      Object.keys(methods).map((method) => ({ method: method.toUpperCase(), path })),
    );
  });
  after(() => server.close());

  test('the route table covers the management API', () => {
    assert.ok(routes.length >= 25, `only ${routes.length} routes`);
  });

  test('random path parameters, bodies and queries are answered cleanly', async () => {
    const segment = fc.oneof(
      fc.string({ maxLength: 40 }),
      fc.constantFrom('orders', 'key_0000000000000000000000', '__proto__', "' OR 1=1 --", '%00', '..'),
    );
    const body = fc.oneof(fc.jsonValue({ maxDepth: 3 }), fc.constant(undefined));
    await fc.assert(
      fc.asyncProperty(
        fc.integer({ min: 0, max: 1_000 }),
        segment,
        body,
        fc.dictionary(fc.string({ maxLength: 10 }), fc.string({ maxLength: 20 }), { maxKeys: 3 }),
        async (index, param, json, query) => {
          const route = routes[index % routes.length];
          assert.ok(route);
          const path = route.path.replace(/\{[^}]+\}/g, encodeURIComponent(param));
          const qs = new URLSearchParams(query).toString();
          const res = await server.request(route.method, qs ? `${path}?${qs}` : path, {
            token: server.token,
            json: route.method === 'GET' || route.method === 'DELETE' ? undefined : (json ?? {}),
          });
          assert.ok(res.status < 500, `${route.method} ${path} → ${res.status} ${res.text}`);
          assert.doesNotMatch(res.text, LEAKS);
          if (res.status >= 400) {
            assert.equal(res.body.success, false);
            assert.match(res.body.request_id, /^req_/);
          }
        },
      ),
      { numRuns: 300 },
    );
  });

  test('every management route but the public sign-in ones refuses a missing or wrong token', async () => {
    for (const route of routes) {
      const url = route.path.replace(/\{([^}]+)\}/g, ':$1');
      if (accessOf(route.method, url) === 'public') continue;
      const path = route.path.replace(/\{[^}]+\}/g, 'x');
      for (const token of [undefined, 'gm_wrong', 'gk_test_notamanagementtoken']) {
        const res = await server.request(route.method, path, {
          token,
          json: route.method === 'GET' ? undefined : {},
        });
        assert.equal(res.status, 401, `${route.method} ${path} with ${token}`);
      }
    }
  });

  test('duplicate JSON keys and CR/LF in header values are handled', async () => {
    // The property test above may well have deleted "orders" (a legitimate DELETE): use a fresh endpoint.
    await server.createEndpoint({ slug: 'dups', name: 'Dups', schema: { type: 'object' } });
    const key = (await server.createKey({ name: 'k', environment: 'test' })).key;
    const dup = await server.request('POST', '/api/v1/data/dups', {
      key,
      raw: '{"a":1,"a":2}',
      headers: { 'content-type': 'application/json' },
    });
    assert.equal(dup.status, 202);
    const got = await server.request('GET', `/api/v1/data/dups/${dup.body.id}`, { key });
    assert.deepEqual(got.body.data.data, { a: 2 }, 'the last duplicate wins, as in JSON.parse');
    // fetch itself refuses CR/LF in header values; the server's parser does the same on a raw socket.
    await assert.rejects(
      fetch(`${server.url}/api/v1/data/orders`, {
        method: 'POST',
        headers: { authorization: `Bearer ${key}`, 'x-webhook-auth': 'a\r\nb' },
      }),
    );
  });
});
