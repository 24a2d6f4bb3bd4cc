import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { type Answer, assertEnvelope, exchange, send } from './helpers/raw-request.ts';
import { countRows, ordersSchema, startTestServer, type TestServer } from './helpers/server.ts';

/** The status and JSON body of the one answer in a raw exchange. */
function parsed(text: string): Answer {
  const [head = '', body = ''] = text.split('\r\n\r\n');
  const json = body === '' ? undefined : JSON.parse(body);
  return { status: Number(head.split(' ')[1]), headers: {}, body: json, text };
}

/**
 * HTTP edge cases of the data API that a client can get wrong: a Content-Type sent twice, a
 * query with a malformed percent-escape. Each is answered alike by the fast path (key and
 * endpoint cached) and by Fastify's routes (before they are).
 */
describe('data API: repeated Content-Type and malformed query escapes', () => {
  let server: TestServer;
  let key: string;
  const order = JSON.stringify({ order_id: '%zz', amount: 1 });

  before(async () => {
    server = await startTestServer('sqlite');
    await server.createEndpoint({ slug: 'orders', name: 'Orders', schema: ordersSchema });
    key = (await server.createKey({ name: 'edges', environment: 'test' })).key;
  });
  after(() => server.close());

  /** A write whose Content-Type lines are sent as given, on a connection of its own. */
  async function write(method: string, path: string, types: string[]): Promise<Answer> {
    const lines = types.map((type, i) => `${i % 2 ? 'content-type' : 'Content-Type'}: ${type}\r\n`).join('');
    const text = await exchange(server.url, [
      {
        data:
          `${method} ${path} HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer ${key}\r\nConnection: close\r\n` +
          `${lines}Content-Length: ${Buffer.byteLength(order)}\r\n\r\n${order}`,
      },
    ]);
    return parsed(text);
  }

  test('a Content-Type sent twice is a 400 naming the header, cold and on the fast path; nothing is written', async () => {
    const pairs = [
      ['application/json', 'text/plain'],
      ['text/plain', 'application/json'],
      ['application/json', 'application/json'],
    ];
    const refuse = async (method: string, path: string, what: string) => {
      for (const types of pairs) {
        const before = await countRows(server, 'requests');
        const res = await write(method, path, types);
        assertEnvelope(res, 400, 'invalid_request', `${what} ${types.join(' + ')}`);
        assert.deepEqual(res.body.details, [{ field: 'Content-Type', error: 'Send the header once' }]);
        assert.equal(await countRows(server, 'requests'), before, 'nothing written');
      }
    };
    // Before the key and endpoint are cached: Fastify's routes.
    await refuse('POST', '/api/v1/data/orders', 'cold POST');
    const created = await write('POST', '/api/v1/data/orders', ['application/json']);
    assert.equal(created.status, 202, created.text);
    // Cached now: the fast path would take a write with one Content-Type.
    await refuse('POST', '/api/v1/data/orders', 'cached POST');
    await refuse('PUT', `/api/v1/data/orders/${created.body.id}`, 'cached PUT');
    const replaced = await write('PUT', `/api/v1/data/orders/${created.body.id}`, ['application/json']);
    assert.equal(replaced.status, 202, replaced.text);
  });

  test('other JSON media types (+json) are 415 on both paths: this API takes plain JSON records', async () => {
    for (const type of [
      'application/merge-patch+json',
      'application/vnd.api+json',
      'application/problem+json',
    ]) {
      // The key and endpoint are cached by now: these are offered to the fast path first.
      const res = await write('POST', '/api/v1/data/orders', [type]);
      assertEnvelope(res, 415, 'unsupported_media_type', type);
    }
  });

  test('the management API refuses a Content-Type sent twice alike', async () => {
    const body = JSON.stringify({ slug: 'twice', name: 'Twice', schema: ordersSchema });
    const text = await exchange(server.url, [
      {
        data:
          `POST /admin/v1/endpoints HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer ${server.token}\r\n` +
          'Connection: close\r\nContent-Type: application/json\r\nContent-Type: text/plain\r\n' +
          `Content-Length: ${Buffer.byteLength(body)}\r\n\r\n${body}`,
      },
    ]);
    const res = parsed(text);
    assertEnvelope(res, 400, 'invalid_request', 'POST /admin/v1/endpoints');
    assert.deepEqual(res.body.details, [{ field: 'Content-Type', error: 'Send the header once' }]);
    assert.equal((await server.admin('GET', '/admin/v1/endpoints/twice')).status, 404);
  });

  test('a malformed percent-escape in a list query is a 400 naming the parameter, not an empty page', async () => {
    const list = (query: string, auth = key) =>
      send(server.url, 'GET', `/api/v1/data/orders?${query}`, {
        headers: { authorization: `Bearer ${auth}` },
      });
    const error =
      'Malformed percent-encoding: each % starts a UTF-8 escape such as %C3%A9 (a literal % is %25)';
    const cases: Array<[string, string]> = [
      ['filter[order_id]=%zz', 'filter[order_id]'],
      ['filter[order_id]=%E0%A4%A', 'filter[order_id]'],
      ['limit=10&filter%5Border_id%5D=a%', 'filter[order_id]'],
      ['filter[order_id]=%C3', 'filter[order_id]'],
      ['filter[%zz]=1', 'filter[%zz]'],
      ['status=%zz', 'status'],
    ];
    for (const [query, field] of cases) {
      const res = await list(query);
      assertEnvelope(res, 400, 'invalid_request', query);
      assert.deepEqual(res.body.details, [{ field, error }], query);
    }
    // A cursor is refused as a cursor, malformed escapes or not.
    assertEnvelope(await list('after=%zz'), 400, 'invalid_cursor', 'after=%zz');
    // Well formed, the same text finds the record: %25 is a literal %.
    const found = await list('filter[order_id]=%25zz');
    assert.equal(found.status, 200, found.text);
    assert.equal(found.body.data.length, 1, found.text);
    assert.equal(found.body.data[0].data.order_id, '%zz');
    // Credentials come first, as for any other query error.
    assertEnvelope(await list('filter[order_id]=%zz', 'gk_test_nope'), 401, 'invalid_api_key', 'bad key');
  });

  test('the console list refuses a malformed escape alike', async () => {
    assert.equal((await server.admin('POST', '/admin/v1/endpoints/orders/deploy')).status, 201);
    const res = await send(server.url, 'GET', '/admin/v1/console/orders/records?filter[order_id]=%zz', {
      headers: { authorization: `Bearer ${server.token}` },
    });
    assertEnvelope(res, 400, 'invalid_request', 'console list');
    assert.equal(res.body.details[0].field, 'filter[order_id]');
  });

  test('an empty path segment is a 404 not_found ("No route") whatever the method, as a POST there always was', async () => {
    const id = 'rec_0000000000000000000000';
    const cases: Array<[string, string]> = [
      ['GET', '/api/v1/data//orders'],
      ['PUT', `/api/v1/data//${id}`],
      ['DELETE', `/api/v1/data//${id}`],
      ['POST', '/api/v1/data//orders'],
      ['GET', '//api/v1/data/orders'],
      ['POST', '//api/v1/data/orders'],
    ];
    // With a key, a wrong key or none: no route is there to ask for one.
    for (const authorization of [`Bearer ${key}`, 'Bearer gk_test_nope', undefined]) {
      for (const [method, path] of cases) {
        const res = await send(server.url, method, path, {
          headers: { ...(authorization && { authorization }), 'content-type': 'application/json' },
          body: method === 'PUT' || method === 'POST' ? order : undefined,
        });
        assertEnvelope(res, 404, 'not_found', `${method} ${path} ${authorization}`);
        assert.equal(res.body.error, `No route for ${method} ${path}`);
      }
    }
  });

  test('off the data API, a Content-Type sent twice is the same 400 whichever comes first (not a 415 for text/plain first)', async () => {
    for (const [path, credential] of [
      ['/api/v1/tokens', key],
      ['/admin/v1/keys', server.token],
    ]) {
      for (const types of [
        ['text/plain', 'application/json'],
        ['application/json', 'text/plain'],
      ]) {
        const body = JSON.stringify({ name: 'twice', environment: 'test' });
        const text = await exchange(server.url, [
          {
            data:
              `POST ${path} HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer ${credential}\r\nConnection: close\r\n` +
              `Content-Type: ${types[0]}\r\ncontent-type: ${types[1]}\r\n` +
              `Content-Length: ${Buffer.byteLength(body)}\r\n\r\n${body}`,
          },
        ]);
        const res = parsed(text);
        assertEnvelope(res, 400, 'invalid_request', `${path} ${types.join(' + ')}`);
        assert.deepEqual(res.body.details, [{ field: 'Content-Type', error: 'Send the header once' }]);
      }
    }
  });
});
