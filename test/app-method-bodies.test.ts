import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { APP_BODY_LIMIT } from '../src/apps/runtime.ts';
import { type Answer, assertEnvelope, send } from './helpers/raw-request.ts';
import { ordersSchema, startTestServer, type TestServer } from './helpers/server.ts';

/** An app whose one route, POST /orders, writes a record: a refused call must not. */
const shop = {
  slug: 'shop',
  name: 'Shop',
  routes: [
    {
      method: 'POST',
      path: '/orders',
      auth: 'apiKey',
      steps: [
        {
          name: 'order',
          type: 'create',
          endpoint: 'orders',
          data: "{ 'order_id': 'ORD-APP', 'amount': 1, 'paid': false }",
        },
      ],
    },
  ],
};

/** Bodies no route reads: each must leave the answer as it is with no body at all. */
const bodies: Array<[string, Record<string, string>, string | Buffer]> = [
  ['invalid JSON', { 'content-type': 'application/json' }, '{not json'],
  ['valid JSON', { 'content-type': 'application/json' }, '{"order_id":"ORD-X","amount":1}'],
  ['text', { 'content-type': 'text/plain' }, 'not JSON at all'],
  ['no Content-Type', {}, 'stray bytes'],
  [
    'a latin1 charset',
    { 'content-type': 'application/json; charset=latin1' },
    Buffer.from([0x7b, 0xe9, 0x7d]),
  ],
  ['gzip', { 'content-type': 'application/json', 'content-encoding': 'gzip' }, 'not gzip at all'],
  ['an empty body', { 'content-type': 'application/json' }, ''],
];

const methods = ['PUT', 'PATCH', 'OPTIONS', 'DELETE'];
const tooLarge = `Payload too large: the limit is ${APP_BODY_LIMIT} bytes`;

describe('App API: a method no route takes never reads its body; one over 5 MiB is 413', () => {
  let server: TestServer;
  let key: string;

  before(async () => {
    // Request framing only, no database code: SQLite alone.
    server = await startTestServer('sqlite');
    await server.createEndpoint({ slug: 'orders', name: 'Orders', schema: ordersSchema });
    key = (await server.createKey({ name: 'app', environment: 'test', limits: { per_minute: 100_000 } })).key;
    const app = await server.admin('POST', '/admin/v1/apps', shop);
    assert.equal(app.status, 201, app.text);
  });
  after(() => server.close());

  const auth = () => ({ authorization: `Bearer ${key}` });

  async function recordCount(): Promise<number> {
    const res = await server.request('GET', '/api/v1/data/orders?limit=100', { key });
    assert.equal(res.status, 200, res.text);
    return res.body.data.length as number;
  }

  /** The answer as a client sees it, minus what differs per request. */
  function seen(res: Answer) {
    return {
      status: res.status,
      error: res.body?.error,
      code: res.body?.code,
      details: res.body?.details,
      allow: res.headers.allow,
    };
  }

  function assertCharged(res: Answer, what: string): void {
    assert.notEqual(res.headers['x-ratelimit-remaining'], undefined, `${what}: charged to the key`);
  }

  test('405 (with Allow) and 404 answer the same with any body within the limit, or one over it: 413', async () => {
    for (const method of methods) {
      for (const [path, status] of [
        ['/api/v1/apps/shop/orders', 405],
        ['/api/v1/apps/shop/missing', 404],
      ] as const) {
        const bare = await send(server.url, method, path, { headers: auth() });
        assert.equal(bare.status, status, `${method} ${path} bare: ${bare.text}`);
        if (status === 405) {
          assert.equal(bare.body.error, `Method ${method} is not allowed on ${path}; allowed: POST`);
          assert.equal(bare.headers.allow, 'POST');
        } else assert.equal(bare.body.error, `No route for ${method} ${path}`);
        assertCharged(bare, `${method} ${path} bare`);
        const exact = [
          'exactly the limit',
          { 'content-type': 'application/json' },
          'x'.repeat(APP_BODY_LIMIT),
        ];
        for (const [what, headers, body] of [...bodies, exact] as typeof bodies) {
          const res = await send(server.url, method, path, { headers: { ...auth(), ...headers }, body });
          assert.deepEqual(seen(res), seen(bare), `${method} ${path} with ${what}: ${res.text}`);
          assertCharged(res, `${method} ${path} with ${what}`);
        }
        const chunked = await send(server.url, method, path, {
          headers: { ...auth(), 'content-type': 'application/json' },
          chunks: ['{broken', ' json'],
        });
        assert.deepEqual(seen(chunked), seen(bare), `${method} ${path} chunked: ${chunked.text}`);

        const over = await send(server.url, method, path, {
          headers: { ...auth(), 'content-type': 'text/plain' },
          body: 'x'.repeat(APP_BODY_LIMIT + 1),
        });
        assertEnvelope(over, 413, 'payload_too_large', `${method} ${path} one byte over`);
        assert.equal(over.body.error, tooLarge);
        assertCharged(over, `${method} ${path} one byte over`);
      }
    }
    assert.equal(await recordCount(), 0, 'no refused call wrote a record');
  });

  test('an over-limit body is refused before it is all sent, declared or chunked, once the key is checked', async () => {
    for (const method of methods) {
      const path = '/api/v1/apps/shop/orders';
      // 1 GiB declared, a few bytes sent: answered from the Content-Length alone.
      const declared = await send(server.url, method, path, {
        headers: { ...auth(), 'content-type': 'application/json', 'content-length': String(2 ** 30) },
        body: '{"a":',
        holdOpen: true,
      });
      assertEnvelope(declared, 413, 'payload_too_large', `${method}: a declared length over the limit`);
      assert.equal(declared.body.error, tooLarge);
      // Chunked, the body never ends: answered once the count passes the limit.
      const streaming = await send(server.url, method, path, {
        headers: { ...auth(), 'content-type': 'application/json; charset=latin1' },
        chunks: ['x'.repeat(APP_BODY_LIMIT), 'y'],
        holdOpen: true,
      });
      assertEnvelope(streaming, 413, 'payload_too_large', `${method}: a chunked body past the limit`);
      assert.equal(streaming.body.error, tooLarge);
    }
    // A POST to a path the app lacks is refused alike; its route's POST still runs.
    const unknown = await send(server.url, 'POST', '/api/v1/apps/shop/missing', {
      headers: { ...auth(), 'content-type': 'application/json' },
      body: 'x'.repeat(APP_BODY_LIMIT + 1),
    });
    assertEnvelope(unknown, 413, 'payload_too_large', 'POST to a missing route, over the limit');
    assert.equal(await recordCount(), 0, 'nothing was written');
    // Only once the key is: without one, an apiKey route of an undeployed app is 401 as before.
    const keyless = await send(server.url, 'PUT', '/api/v1/apps/shop/orders', {
      headers: { 'content-type': 'application/json' },
      body: 'x'.repeat(APP_BODY_LIMIT + 1),
    });
    assertEnvelope(keyless, 401, 'missing_api_key', 'PUT over the limit without a key');
    const created = await send(server.url, 'POST', '/api/v1/apps/shop/orders', {
      headers: { ...auth(), 'content-type': 'application/json' },
      body: '{}',
    });
    assert.equal(created.status, 200, created.text);
    assert.equal(await recordCount(), 1, 'the POST route itself still writes');
  });
});
