import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { ordersSchema, startTestServer, TEST_OWNER, type TestServer } from './helpers/server.ts';

type Json = Record<string, unknown>;

/**
 * RFC 9110 §15.5.2: a 401 must carry a WWW-Authenticate challenge. Every 401 Gatehouse sends (data
 * API, App APIs, management API, sign-in, /metrics) names Bearer, and both OpenAPI documents
 * declare the header on each operation's 401.
 */
describe('every 401 carries a WWW-Authenticate challenge', () => {
  let server: TestServer;
  let key: string;

  before(async () => {
    server = await startTestServer('sqlite', { GATEHOUSE_METRICS_TOKEN: 'metrics-secret-for-test' });
    await server.createEndpoint({ slug: 'orders', name: 'Orders', schema: ordersSchema });
    key = (await server.createKey({ name: 'challenge', environment: 'test' })).key;
    // An App route that takes API keys, refused without one as the data API refuses.
    const steps = [{ name: 'out', type: 'respond', body: "{ 'ok': true }" }];
    const routes = [{ method: 'GET', path: '/ping', auth: 'apiKey', steps }];
    const app = await server.admin('POST', '/admin/v1/apps', { slug: 'shop', name: 'Shop', routes });
    assert.equal(app.status, 201, `app created: ${app.text}`);
  });
  after(() => server.close());

  test('on the data API, App APIs, the management API, sign-in and /metrics', async () => {
    const calls: Array<[string, string, Parameters<TestServer['request']>[2]]> = [
      ['GET', '/api/v1/data/orders', {}],
      ['GET', '/api/v1/data/orders', { key: 'gk_test_notarealkey000000000000000000000000' }],
      ['POST', '/api/v1/data/orders', { json: { order_id: 'A', amount: 1 } }],
      ['GET', '/api/v1/account', {}],
      ['GET', '/api/v1/openapi.json', {}],
      ['GET', '/api/v1/apps/shop/ping?environment=test', {}],
      ['GET', '/admin/v1/endpoints', {}],
      ['GET', '/admin/v1/keys', { token: 'gm_notarealtoken' }],
      ['POST', '/admin/v1/session', { json: { email: TEST_OWNER.email, password: 'not the password' } }],
      ['GET', '/metrics', {}],
    ];
    for (const [method, path, options] of calls) {
      const res = await server.request(method, path, options);
      assert.equal(res.status, 401, `${method} ${path} is refused with 401: ${res.text}`);
      assert.equal(
        res.headers.get('www-authenticate'),
        'Bearer realm="gatehouse"',
        `${method} ${path}'s 401 names the Bearer scheme`,
      );
    }
    const ok = await server.request('GET', '/api/v1/data/orders', { key });
    assert.equal(ok.status, 200, 'a valid key is served');
    assert.equal(ok.headers.get('www-authenticate'), null, 'an answer other than 401 carries no challenge');
  });

  test('both OpenAPI documents declare it, required, on every 401', async () => {
    const data = (await server.request('GET', '/api/v1/openapi.json', { key })).body as Json;
    const admin = (await server.admin('GET', '/admin/v1/openapi.json')).body as Json;
    for (const [name, doc] of [
      ['data', data],
      ['management', admin],
    ] as const) {
      const headers = (doc.components as Json).headers as Json;
      const challenge = headers['WWW-Authenticate'] as Json | undefined;
      assert.equal(challenge?.required, true, `the ${name} document defines WWW-Authenticate, required`);
      let seen = 0;
      for (const [path, item] of Object.entries(doc.paths as Json)) {
        for (const [method, op] of Object.entries(item as Json)) {
          const unauthorized = ((op as Json).responses as Json | undefined)?.['401'] as Json | undefined;
          if (!unauthorized) continue;
          seen++;
          assert.deepEqual(
            (unauthorized.headers as Json)['WWW-Authenticate'],
            { $ref: '#/components/headers/WWW-Authenticate' },
            `${name}: ${method.toUpperCase()} ${path}'s 401 declares WWW-Authenticate`,
          );
        }
      }
      assert.ok(seen > 3, `the ${name} document has operations answering 401 (${seen})`);
    }
  });
});
