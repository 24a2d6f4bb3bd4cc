import assert from 'node:assert/strict';
import { request as httpRequest } from 'node:http';
import { after, before, describe, test } from 'node:test';
import type { FastifyInstance } from 'fastify';
import { buildApp } from '../src/app.ts';
import { ConfigError, loadConfig } from '../src/config.ts';
import { generateSecret } from '../src/infra/crypto/token-format.ts';
import { ordersSchema, startTestServer, type TestServer } from './helpers/server.ts';

/**
 * Strict-Transport-Security (docs/DEPLOY.md): on every answer to a request that came over HTTPS
 * through a trusted proxy, whichever part of the server answers it; never over plain HTTP, never
 * on a direct client's say-so. The header does not depend on the database: SQLite only.
 */

const HTTPS = { 'x-forwarded-proto': 'https' };
const YEAR = 'max-age=31536000';

async function listen(app: FastifyInstance): Promise<string> {
  await app.listen({ port: 0, host: '127.0.0.1' });
  const address = app.server.address();
  return `http://127.0.0.1:${typeof address === 'object' && address ? address.port : 0}`;
}

describe('Strict-Transport-Security behind a trusted proxy', () => {
  let server: TestServer;
  let key: string;
  let recordId: string;
  // A second app over the same services that counts what reaches Fastify, to see the fast path answer.
  let counted: FastifyInstance;
  let countedUrl: string;
  let fastifyHits = 0;

  before(async () => {
    // The tests' requests come from 127.0.0.1: that is the proxy here.
    server = await startTestServer('sqlite', { GATEHOUSE_TRUST_PROXY: '127.0.0.1' });
    await server.createEndpoint({ slug: 'orders', name: 'Orders', schema: ordersSchema });
    key = (await server.createKey({ name: 'partner', environment: 'test' })).key;
    const created = await server.request('POST', '/api/v1/data/orders', {
      key,
      json: { order_id: 'A-1', amount: 1 },
    });
    assert.equal(created.status, 202, created.text);
    recordId = created.body.id;
    counted = buildApp(server.services, { logger: false });
    counted.addHook('onRequest', (_request, _reply, done) => {
      fastifyHits++;
      done();
    });
    countedUrl = await listen(counted);
  });
  after(async () => {
    await counted.close();
    await server.close();
  });

  const get = (path: string, headers: Record<string, string> = {}) =>
    server.request('GET', path, { headers });

  test('every kind of answer to an HTTPS request carries it: dashboard, docs, admin API, errors', async () => {
    const page = await get('/', HTTPS);
    assert.equal(page.status, 200);
    assert.match(page.headers.get('content-type') ?? '', /text\/html/);
    assert.equal(page.headers.get('strict-transport-security'), YEAR);
    const asset = /\/assets\/[^"]+\.js/.exec(page.text)?.[0];
    assert.ok(asset, 'the page names its script (npm run build:web)');
    assert.equal((await get(asset, HTTPS)).headers.get('strict-transport-security'), YEAR);
    const docs = await get('/docs/openapi.json', HTTPS);
    assert.equal(docs.status, 200);
    assert.equal(docs.headers.get('strict-transport-security'), YEAR);
    const admin = await server.request('GET', '/admin/v1/endpoints', { token: server.token, headers: HTTPS });
    assert.equal(admin.status, 200);
    assert.equal(admin.headers.get('strict-transport-security'), YEAR);
    const health = await get('/health', HTTPS);
    assert.equal(health.headers.get('strict-transport-security'), YEAR);
    // Errors: no key (401), a bad key (401), no such route (404), no such App (404), a wrong method (405).
    const errors = [
      await get('/api/v1/data/orders', HTTPS),
      await server.request('GET', `/api/v1/data/orders/${recordId}`, {
        key: generateSecret('gk_test'),
        headers: HTTPS,
      }),
      await get('/no/such/page', HTTPS),
      await get('/api/v1/apps/nope/things', HTTPS),
      await server.request('DELETE', '/health', { headers: HTTPS }),
    ];
    assert.deepEqual(
      errors.map((res) => [res.status, res.headers.get('strict-transport-security')]),
      [
        [401, YEAR],
        [401, YEAR],
        [404, YEAR],
        [404, YEAR],
        [405, YEAR],
      ],
    );
  });

  test('the fast path answers a create and a read with it, without Fastify', async () => {
    const call = (method: string, path: string, body?: unknown) =>
      fetch(`${countedUrl}${path}`, {
        method,
        headers: { authorization: `Bearer ${key}`, 'content-type': 'application/json', ...HTTPS },
        body: body === undefined ? undefined : JSON.stringify(body),
      });
    // Warm the caches (key and endpoint) through this app, then count what reaches Fastify.
    await (await call('GET', `/api/v1/data/orders/${recordId}`)).text();
    const hits = fastifyHits;
    const made = await call('POST', '/api/v1/data/orders', { order_id: 'B-1', amount: 2 });
    assert.equal(made.status, 202);
    assert.equal(made.headers.get('strict-transport-security'), YEAR);
    const { id } = (await made.json()) as { id: string };
    const read = await call('GET', `/api/v1/data/orders/${id}`);
    assert.equal(read.status, 200);
    assert.equal(read.headers.get('strict-transport-security'), YEAR);
    await read.text();
    assert.equal(fastifyHits, hits, 'the fast path answered both');
    // And over plain HTTP through the same proxy, the fast path's answer has none.
    const plain = await fetch(`${countedUrl}/api/v1/data/orders/${id}`, {
      headers: { authorization: `Bearer ${key}`, 'x-forwarded-proto': 'http' },
    });
    assert.equal(plain.status, 200);
    assert.equal(plain.headers.get('strict-transport-security'), null);
    await plain.text();
  });

  test('the 400 and 417 answered before routing carry it too (no Host, an unknown Expect)', async () => {
    const port = new URL(server.url).port;
    const answer = (headers: Record<string, string>, setHost = true) =>
      new Promise<[number | undefined, string | undefined]>((resolve, reject) => {
        const req = httpRequest({ host: '127.0.0.1', port, path: '/health', headers, setHost }, (res) => {
          res.resume();
          res.on('end', () => resolve([res.statusCode, res.headers['strict-transport-security']]));
        });
        req.on('error', reject);
        req.end();
      });
    assert.deepEqual(await answer({ ...HTTPS, expect: 'something-else' }), [417, YEAR]);
    assert.deepEqual(await answer(HTTPS, false), [400, YEAR]);
    assert.deepEqual(await answer({ expect: 'something-else' }), [417, undefined]);
  });

  test('plain HTTP answers carry none: no X-Forwarded-Proto, or one saying http', async () => {
    const plain: Record<string, string>[] = [
      {},
      { 'x-forwarded-proto': 'http' },
      { 'x-forwarded-proto': 'https, http' },
    ];
    for (const headers of plain) {
      for (const path of ['/', '/health', '/no/such/page', '/api/v1/data/orders']) {
        const res = await get(path, headers);
        assert.equal(
          res.headers.get('strict-transport-security'),
          null,
          `${path} ${JSON.stringify(headers)}`,
        );
      }
    }
    const admin = await server.request('GET', '/admin/v1/endpoints', { token: server.token });
    assert.equal(admin.headers.get('strict-transport-security'), null);
  });
});

describe('Strict-Transport-Security is not sent on an untrusted peer’s X-Forwarded-Proto', () => {
  for (const [name, env] of [
    ['without GATEHOUSE_TRUST_PROXY', {}],
    ['from a peer that is not the listed proxy', { GATEHOUSE_TRUST_PROXY: '10.0.0.0/8' }],
  ] as const) {
    test(name, async () => {
      const server = await startTestServer('sqlite', env);
      try {
        for (const path of ['/', '/health', '/no/such/page', '/api/v1/data/orders']) {
          const res = await server.request('GET', path, { headers: HTTPS });
          assert.equal(res.headers.get('strict-transport-security'), null, path);
        }
        const admin = await server.request('GET', '/admin/v1/endpoints', {
          token: server.token,
          headers: HTTPS,
        });
        assert.equal(admin.status, 200);
        assert.equal(admin.headers.get('strict-transport-security'), null);
      } finally {
        await server.close();
      }
    });
  }
});

describe('GATEHOUSE_HSTS_MAX_AGE and GATEHOUSE_HSTS_INCLUDE_SUBDOMAINS', () => {
  const served = async (env: Record<string, string>) => {
    const server = await startTestServer('sqlite', { GATEHOUSE_TRUST_PROXY: '127.0.0.1', ...env });
    try {
      const answers = await Promise.all(
        ['/', '/health', '/no/such/page'].map((path) => server.request('GET', path, { headers: HTTPS })),
      );
      return [...new Set(answers.map((res) => res.headers.get('strict-transport-security')))];
    } finally {
      await server.close();
    }
  };

  test('another max-age, includeSubDomains when opted in, and 0 for none', async () => {
    assert.deepEqual(await served({ GATEHOUSE_HSTS_MAX_AGE: '600' }), ['max-age=600']);
    assert.deepEqual(
      await served({ GATEHOUSE_HSTS_MAX_AGE: '63072000', GATEHOUSE_HSTS_INCLUDE_SUBDOMAINS: 'true' }),
      ['max-age=63072000; includeSubDomains'],
    );
    assert.deepEqual(await served({ GATEHOUSE_HSTS_INCLUDE_SUBDOMAINS: 'false' }), [YEAR]);
    assert.deepEqual(await served({ GATEHOUSE_HSTS_MAX_AGE: '0' }), [null]);
  });

  test('a bad value is a clear config error', () => {
    for (const [env, message] of [
      [{ GATEHOUSE_HSTS_MAX_AGE: '-1' }, /GATEHOUSE_HSTS_MAX_AGE must be an integer between 0 and/],
      [{ GATEHOUSE_HSTS_MAX_AGE: '1y' }, /GATEHOUSE_HSTS_MAX_AGE must be an integer between 0 and/],
      [
        { GATEHOUSE_HSTS_INCLUDE_SUBDOMAINS: 'yes' },
        /GATEHOUSE_HSTS_INCLUDE_SUBDOMAINS must be true or false, got "yes"/,
      ],
    ] as const) {
      assert.throws(
        () => loadConfig(env),
        (error: unknown) => error instanceof ConfigError && message.test(error.message),
      );
    }
  });
});
