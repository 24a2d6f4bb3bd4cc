import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { assertEnvelope, send } from './helpers/raw-request.ts';
import { ordersSchema, startTestServer, type TestServer } from './helpers/server.ts';

const order = { order_id: 'ORD-1', amount: 10, items: ['a'], paid: false };
/** An app with one public POST route, to send App API bodies to. */
const echo = {
  method: 'POST',
  path: '/echo',
  auth: 'public',
  steps: [{ name: 'out', type: 'respond', body: "'ok'" }],
};
const shop = { slug: 'shop', name: 'Shop', routes: [echo] };

describe('request bodies: a DELETE ignores its body; JSON is UTF-8 only', () => {
  let server: TestServer;
  let key: string;
  /** The orders endpoint's max_body_bytes. */
  const limit = 2048;

  before(async () => {
    // Request framing and parsing only, no database code: SQLite alone.
    server = await startTestServer('sqlite');
    await server.createEndpoint({
      slug: 'orders',
      name: 'Orders',
      schema: ordersSchema,
      max_body_bytes: limit,
    });
    key = (await server.createKey({ name: 'test', environment: 'test' })).key;
    const app = await server.admin('POST', '/admin/v1/apps', shop);
    assert.equal(app.status, 201, app.text);
  });
  after(() => server.close());

  async function created(): Promise<string> {
    const res = await server.request('POST', '/api/v1/data/orders', { key, json: order });
    assert.equal(res.status, 202, res.text);
    return res.body.id as string;
  }

  async function exists(id: string): Promise<boolean> {
    const res = await server.request('GET', `/api/v1/data/orders/${id}`, { key });
    assert.ok(res.status === 200 || res.status === 404, `GET ${id}: ${res.text}`);
    return res.status === 200;
  }

  const auth = () => ({ authorization: `Bearer ${key}` });

  test('a data API DELETE with any body within the limit deletes, whatever the body and its Content-Type', async () => {
    const bodies: Array<[string, Record<string, string>, string | Buffer]> = [
      ['invalid JSON', { 'content-type': 'application/json' }, '{not json'],
      ['JSON', { 'content-type': 'application/json' }, '{"reason":"duplicate"}'],
      ['text', { 'content-type': 'text/plain' }, 'delete it please'],
      ['no Content-Type', {}, 'stray bytes'],
      ['a malformed Content-Type', { 'content-type': 'nonsense' }, 'x'],
      [
        'a latin1 charset',
        { 'content-type': 'application/json; charset=latin1' },
        Buffer.from([0x7b, 0xe9, 0x7d]),
      ],
      ['gzip', { 'content-type': 'application/json', 'content-encoding': 'gzip' }, 'not gzip at all'],
      ['an empty body', { 'content-type': 'application/json' }, ''],
      ['exactly the limit', { 'content-type': 'application/json' }, 'x'.repeat(limit)],
    ];
    for (const [what, headers, body] of bodies) {
      const id = await created();
      const res = await send(server.url, 'DELETE', `/api/v1/data/orders/${id}`, {
        headers: { ...auth(), ...headers },
        body,
      });
      assert.equal(res.status, 202, `${what}: ${res.text}`);
      assert.equal(res.body.id, id, `${what}: the answer names the record`);
      assert.equal(await exists(id), false, `${what}: the record is gone`);
    }
  });

  test('a chunked DELETE body within the limit is read and ignored', async () => {
    const id = await created();
    const res = await send(server.url, 'DELETE', `/api/v1/data/orders/${id}`, {
      headers: { ...auth(), 'content-type': 'application/json' },
      chunks: ['{broken', ' json'],
    });
    assert.equal(res.status, 202, res.text);
    assert.equal(await exists(id), false, 'the record is gone');
  });

  test('a DELETE with no body at all (the fast path, once key and endpoint are cached) deletes', async () => {
    for (let i = 0; i < 2; i++) {
      const id = await created();
      const res = await send(server.url, 'DELETE', `/api/v1/data/orders/${id}`, { headers: auth() });
      assert.equal(res.status, 202, `try ${i}: ${res.text}`);
      assert.equal(await exists(id), false, `try ${i}: the record is gone`);
    }
  });

  test("a DELETE body over the endpoint's max_body_bytes is 413 and the record stays", async () => {
    const id = await created();
    const over = await send(server.url, 'DELETE', `/api/v1/data/orders/${id}`, {
      headers: { ...auth(), 'content-type': 'application/json' },
      body: 'x'.repeat(limit + 1),
    });
    assertEnvelope(over, 413, 'payload_too_large', 'one byte over, with a Content-Length');
    assert.match(over.body.error, new RegExp(`${limit} bytes`), over.text);
    assert.equal(await exists(id), true, 'the record is still there after a 413 (Content-Length)');

    const chunked = await send(server.url, 'DELETE', `/api/v1/data/orders/${id}`, {
      headers: { ...auth(), 'content-type': 'text/plain' },
      chunks: ['x'.repeat(limit), 'y'],
    });
    assertEnvelope(chunked, 413, 'payload_too_large', 'one byte over, chunked');
    assert.equal(await exists(id), true, 'the record is still there after a 413 (chunked)');
  });

  test('an oversized DELETE body is refused before it is all sent: nothing waits to buffer it', async () => {
    const id = await created();
    // 1 GB declared, a few bytes sent: answered from the Content-Length alone.
    const declared = await send(server.url, 'DELETE', `/api/v1/data/orders/${id}`, {
      headers: { ...auth(), 'content-type': 'application/json', 'content-length': String(2 ** 30) },
      body: '{"a":',
      holdOpen: true,
    });
    assertEnvelope(declared, 413, 'payload_too_large', 'a declared length over the limit');
    // Chunked, the body never ends: answered once the count passes the limit.
    const streaming = await send(server.url, 'DELETE', `/api/v1/data/orders/${id}`, {
      headers: { ...auth(), 'content-type': 'application/json' },
      chunks: ['x'.repeat(limit * 2)],
      holdOpen: true,
    });
    assertEnvelope(streaming, 413, 'payload_too_large', 'a chunked body past the limit, not yet ended');
    assert.equal(await exists(id), true, 'the record is still there');
  });

  test('management API and App DELETEs answer as if no body were sent', async () => {
    const paths = [
      '/admin/v1/tokens/tok_missing',
      '/admin/v1/webhooks/whk_missing',
      '/api/v1/apps/shop/echo',
    ];
    for (const path of paths) {
      const bare = await send(server.url, 'DELETE', path, {
        headers: { authorization: `Bearer ${server.token}` },
      });
      assert.ok(
        bare.status >= 400 && bare.status !== 413 && bare.status !== 415,
        `${path} bare: ${bare.text}`,
      );
      for (const [what, headers, body] of [
        ['invalid JSON', { 'content-type': 'application/json' }, '{nope'],
        ['text', { 'content-type': 'text/plain' }, 'x'],
        ['a latin1 charset', { 'content-type': 'application/json; charset=latin1' }, '{}'],
      ] as Array<[string, Record<string, string>, string]>) {
        const res = await send(server.url, 'DELETE', path, {
          headers: { authorization: `Bearer ${server.token}`, ...headers },
          body,
        });
        assert.equal(res.status, bare.status, `${path} with ${what}: ${res.text}`);
        assert.equal(res.body?.code, bare.body?.code, `${path} with ${what}: ${res.text}`);
      }
    }
    // Over the management API's limit (5 MiB), as any write: 413, from the declared length.
    const huge = await send(server.url, 'DELETE', '/admin/v1/tokens/tok_missing', {
      headers: { authorization: `Bearer ${server.token}`, 'content-length': String(2 ** 30) },
      body: 'x',
      holdOpen: true,
    });
    assertEnvelope(huge, 413, 'payload_too_large', 'a management DELETE over the limit');
  });

  test('JSON in a charset other than UTF-8 is 415 naming the charset, on every route that reads JSON', async () => {
    const owner = { authorization: `Bearer ${server.token}` };
    const calls: Array<[string, string, Record<string, string>, string]> = [
      ['POST', '/api/v1/data/orders', auth(), JSON.stringify(order)],
      ['POST', '/admin/v1/keys', owner, JSON.stringify({ name: 'latin', environment: 'test' })],
      ['POST', '/admin/v1/session', {}, JSON.stringify({ email: 'owner@example.com', password: 'x' })],
      ['POST', '/api/v1/tokens', auth(), '{}'],
      ['POST', '/api/v1/apps/shop/echo?environment=test', {}, '{}'],
    ];
    for (const [method, path, headers, body] of calls) {
      for (const charset of ['latin1', 'ISO-8859-1', '"utf-16"']) {
        const res = await send(server.url, method, path, {
          headers: { ...headers, 'content-type': `application/json; charset=${charset}` },
          body,
        });
        const what = `${method} ${path} with charset=${charset}`;
        assertEnvelope(res, 415, 'unsupported_media_type', what);
        const named = charset.replaceAll('"', '').toLowerCase();
        assert.equal(
          res.body.error,
          `Only UTF-8 JSON is accepted: charset ${named} is not supported`,
          `${what}: the message names the charset`,
        );
      }
    }
    const keys = await server.admin('GET', '/admin/v1/keys');
    assert.ok(
      !keys.body.data.some((k: { name: string }) => k.name === 'latin'),
      'no key was made from a refused body',
    );
  });

  test('charset=UTF-8 in any case, quoted or not, is accepted', async () => {
    for (const type of [
      'application/json; charset=UTF-8',
      'application/json;charset="utf-8"',
      'Application/JSON; Charset=Utf-8',
    ]) {
      const data = await send(server.url, 'POST', '/api/v1/data/orders', {
        headers: { ...auth(), 'content-type': type },
        body: JSON.stringify(order),
      });
      assert.equal(data.status, 202, `data API with ${type}: ${data.text}`);
      const admin = await send(server.url, 'POST', '/admin/v1/keys', {
        headers: { authorization: `Bearer ${server.token}`, 'content-type': type },
        body: JSON.stringify({ name: 'utf8', environment: 'test' }),
      });
      assert.equal(admin.status, 201, `management API with ${type}: ${admin.text}`);
    }
  });
});
