import assert from 'node:assert/strict';
import { request as httpRequest } from 'node:http';
import { after, before, describe, test } from 'node:test';
import { generateSecret } from '../src/infra/crypto/token-format.ts';
import { databaseKinds } from './helpers/database.ts';
import { countRows, ordersSchema, startTestServer, type TestServer } from './helpers/server.ts';

const order = { order_id: 'ORD-2024-001', amount: 45000, items: ['Item A', 'Item B'], paid: true };

function assertEnvelope(
  res: { status: number; body: Record<string, unknown>; headers: Headers },
  status: number,
  code: string,
) {
  assert.equal(res.status, status, JSON.stringify(res.body));
  assert.equal(res.body.success, false);
  assert.equal(res.body.code, code);
  assert.equal(typeof res.body.error, 'string');
  assert.ok(Array.isArray(res.body.details));
  assert.match(String(res.body.request_id), /^req_/);
  assert.equal(res.headers.get('request-id'), res.body.request_id);
}

for (const kind of databaseKinds) {
  describe(`data API on ${kind}`, () => {
    let server: TestServer;
    let testKey: string;
    let liveKey: string;

    async function count(): Promise<{ records: number; requests: number }> {
      const db = server.services.database.db;
      const r = await db
        .selectFrom('records')
        .select((eb) => eb.fn.countAll<number>().as('n'))
        .executeTakeFirstOrThrow();
      const q = await db
        .selectFrom('requests')
        .select((eb) => eb.fn.countAll<number>().as('n'))
        .executeTakeFirstOrThrow();
      return { records: Number(r.n), requests: Number(q.n) };
    }

    /** Runs a request that must be refused, and proves it wrote nothing. */
    async function refusedWithoutWrite(
      run: () => Promise<{ status: number; body: Record<string, unknown>; headers: Headers }>,
      status: number,
      code: string,
    ) {
      const before = await count();
      const res = await run();
      assertEnvelope(res, status, code);
      assert.deepEqual(await count(), before);
    }

    /**
     * Ends an endpoint's subscription an hour ago: where it is kept, as time passing would (the API
     * refuses a new end in the past).
     */
    async function lapse(slug: string): Promise<void> {
      await server.services.database.db
        .updateTable('endpoints')
        .set({ expires_at: new Date(Date.now() - 3_600_000).toISOString() })
        .where('slug', '=', slug)
        .execute();
      server.services.endpoints.invalidate(slug);
    }

    before(async () => {
      server = await startTestServer(kind);
      await server.createEndpoint({
        slug: 'orders',
        name: 'Orders',
        schema: ordersSchema,
        max_body_bytes: 2048,
      });
      testKey = (await server.createKey({ name: 'test', environment: 'test' })).key;
      liveKey = (await server.createKey({ name: 'live', environment: 'live' })).key;
    });
    after(() => server.close());

    test('health needs no key', async () => {
      const res = await server.request('GET', '/health');
      assert.equal(res.status, 200);
      assert.deepEqual(res.body, { status: 'ok' });
      assert.match(res.headers.get('request-id') ?? '', /^req_/);
    });

    test('POST answers 202 "Request queued" and the record is readable at once', async () => {
      const res = await server.request('POST', '/api/v1/data/orders', { key: testKey, json: order });
      assert.equal(res.status, 202);
      assert.deepEqual(Object.keys(res.body), ['success', 'id', 'message']);
      assert.equal(res.body.success, true);
      assert.equal(res.body.message, 'Request queued');
      assert.match(res.body.id, /^rec_/);
      const got = await server.request('GET', `/api/v1/data/orders/${res.body.id}`, { key: testKey });
      assert.equal(got.status, 200);
      assert.equal(got.body.success, true);
      const record = got.body.data;
      assert.equal(record.id, res.body.id);
      assert.equal(record.object, 'record');
      assert.equal(record.endpoint, 'orders');
      assert.equal(record.environment, 'test');
      assert.deepEqual(record.data, order);
      assert.equal(record.version, 1);
      assert.match(record.created_at, /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$/);
      assert.equal(record.updated_at, record.created_at);
    });

    test('the write and its outbox entry commit together, with the Request-Id', async () => {
      // Someone to tell (a callback): on SQLite a create nobody is told of keeps no outbox row.
      const res = await server.request('POST', '/api/v1/data/orders', {
        key: testKey,
        json: order,
        headers: { 'x-webhook-callback': 'https://hooks.example.com/orders' },
      });
      const requestId = res.headers.get('request-id');
      const row = await server.services.database.db
        .selectFrom('requests')
        .selectAll()
        .where('record_id', '=', res.body.id)
        .executeTakeFirstOrThrow();
      assert.equal(row.id, requestId);
      assert.equal(row.status, 'queued');
      assert.equal(row.operation, 'create');
    });

    test('fields named like Object methods (constructor, toString) are required or optional as the schema says', async () => {
      await server.createEndpoint({
        slug: 'protos',
        name: 'Protos',
        schema: {
          type: 'object',
          required: ['constructor'],
          properties: { constructor: { type: 'integer' }, toString: { type: 'string' } },
        },
      });
      const post = (json: unknown) => server.request('POST', '/api/v1/data/protos', { key: testKey, json });
      const missing = await post({ toString: 'x' });
      assert.equal(missing.status, 400, missing.text);
      assert.deepEqual(missing.body.details, [{ field: 'constructor', error: 'Required field is missing' }]);
      // toString is optional: a body without it is fine.
      assert.equal((await post({ constructor: 1 })).status, 202);
      assert.equal((await post({ constructor: 1, toString: 'x' })).status, 202);
    });

    test('no data API answer may be stored by a cache: the key is in X-API-Key, which caches do not see as a credential', async () => {
      const created = await server.request('POST', '/api/v1/data/orders', { key: testKey, json: order });
      const id = created.body.id as string;
      const token = await server.request('POST', '/api/v1/tokens', { key: testKey, json: {} });
      const answers = {
        create: created,
        token,
        // Twice: the second read of a record is answered by the fast path (its key and endpoint cached).
        read: await server.request('GET', `/api/v1/data/orders/${id}`, { headers: { 'x-api-key': testKey } }),
        'read again': await server.request('GET', `/api/v1/data/orders/${id}`, {
          headers: { 'x-api-key': testKey },
        }),
        list: await server.request('GET', '/api/v1/data/orders', { headers: { 'x-api-key': testKey } }),
        account: await server.request('GET', '/api/v1/account', { headers: { 'x-api-key': testKey } }),
        document: await server.request('GET', '/api/v1/openapi.json', { headers: { 'x-api-key': testKey } }),
        'with a token': await server.request('GET', `/api/v1/data/orders/${id}`, {
          key: token.body.data.token,
        }),
        'no key': await server.request('GET', `/api/v1/data/orders/${id}`),
        'unknown record': await server.request('GET', '/api/v1/data/orders/rec_unknown', {
          headers: { 'x-api-key': testKey },
        }),
      };
      for (const [name, res] of Object.entries(answers)) {
        assert.ok(res.status < 500, `${name}: ${res.status}`);
        assert.equal(res.headers.get('cache-control'), 'no-store', name);
      }
    });

    test('X-API-Key works as well as Bearer', async () => {
      const res = await server.request('GET', '/api/v1/data/orders', { headers: { 'x-api-key': testKey } });
      assert.equal(res.status, 200);
    });

    test('two credentials in one request are refused, whichever comes first, and nothing is written', async () => {
      const other = (await server.createKey({ name: 'other', environment: 'test', scopes: ['*'] })).key;
      const created = await server.request('POST', '/api/v1/data/orders', { key: testKey, json: order });
      const before = await countRows(server, 'records');
      /** Node's client sends an array value as one header line per entry. */
      const send = (
        method: string,
        path: string,
        headers: Record<string, string | string[]>,
        body?: string,
      ) =>
        new Promise<{ status: number; body: { code: string; error: string } }>((resolve, reject) => {
          const req = httpRequest(`${server.url}${path}`, { method, headers }, (res) => {
            let text = '';
            res.on('data', (chunk) => {
              text += chunk;
            });
            res.on('end', () => resolve({ status: res.statusCode ?? 0, body: JSON.parse(text) }));
          });
          req.on('error', reject);
          req.end(body);
        });
      const json = { 'content-type': 'application/json' };
      const cases: Array<Record<string, string | string[]>> = [
        { authorization: [`Bearer ${testKey}`, `Bearer ${other}`] },
        { authorization: `Bearer ${testKey}`, 'x-api-key': other },
        { authorization: `Bearer ${testKey}`, 'x-api-key': 'junk' },
        // An empty header is no credential, but Authorization sent twice is refused all the same.
        { authorization: ['', `Bearer ${testKey}`] },
      ];
      for (const headers of cases) {
        for (const [method, path, body] of [
          ['GET', `/api/v1/data/orders/${created.body.id}`, undefined],
          ['GET', '/api/v1/data/orders', undefined],
          ['POST', '/api/v1/data/orders', JSON.stringify(order)],
        ] as const) {
          const res = await send(method, path, { ...headers, ...json }, body);
          assert.equal(res.status, 401, `${method} ${path} ${JSON.stringify(headers)}`);
          assert.equal(res.body.code, 'invalid_api_key');
          assert.match(res.body.error, /Send one credential/);
        }
      }
      assert.equal(await countRows(server, 'records'), before);
      // Beside a key, an empty header is not a second credential: the key is used.
      for (const headers of [
        { authorization: `Bearer ${testKey}`, 'x-api-key': '' },
        { authorization: '', 'x-api-key': testKey },
      ]) {
        const res = await send('GET', `/api/v1/data/orders/${created.body.id}`, headers);
        assert.equal(res.status, 200, JSON.stringify(headers));
      }
    });

    test('PUT replaces the data and bumps the version; DELETE removes it', async () => {
      const created = await server.request('POST', '/api/v1/data/orders', { key: testKey, json: order });
      const id = created.body.id;
      const replaced = await server.request('PUT', `/api/v1/data/orders/${id}`, {
        key: testKey,
        json: { order_id: 'ORD-2024-001', amount: 50000 },
      });
      assert.equal(replaced.status, 202);
      assert.deepEqual(replaced.body, { success: true, id, message: 'Request queued' });
      const got = await server.request('GET', `/api/v1/data/orders/${id}`, { key: testKey });
      assert.deepEqual(got.body.data.data, { order_id: 'ORD-2024-001', amount: 50000 });
      assert.equal(got.body.data.version, 2);
      const deleted = await server.request('DELETE', `/api/v1/data/orders/${id}`, { key: testKey });
      assert.equal(deleted.status, 202);
      assert.deepEqual(deleted.body, { success: true, id, message: 'Request queued' });
      assertEnvelope(
        await server.request('GET', `/api/v1/data/orders/${id}`, { key: testKey }),
        404,
        'record_not_found',
      );
      await refusedWithoutWrite(
        () => server.request('DELETE', `/api/v1/data/orders/${id}`, { key: testKey }),
        404,
        'record_not_found',
      );
      await refusedWithoutWrite(
        () => server.request('PUT', `/api/v1/data/orders/${id}`, { key: testKey, json: order }),
        404,
        'record_not_found',
      );
    });

    test('400: a write with a query parameter (?dry_run=1) is refused, not done; reads keep ignoring them', async () => {
      const created = await server.request('POST', '/api/v1/data/orders', { key: testKey, json: order });
      assert.equal(created.status, 202);
      const id = created.body.id;
      for (const [method, path, json] of [
        ['POST', '/api/v1/data/orders?dry_run=1', order],
        ['POST', '/api/v1/data/orders?', order],
        ['PUT', `/api/v1/data/orders/${id}?version=1`, { order_id: 'CHANGED', amount: 1 }],
        ['DELETE', `/api/v1/data/orders/${id}?soft=true`, undefined],
      ] as const) {
        if (path.endsWith('?')) {
          // A bare "?" names no parameter: the write goes through.
          assert.equal((await server.request(method, path, { key: testKey, json })).status, 202);
          continue;
        }
        await refusedWithoutWrite(
          async () => {
            const res = await server.request(method, path, { key: testKey, json });
            assert.equal(res.body.details?.[0]?.field, path.split('?')[1]?.split('=')[0], res.text);
            return res;
          },
          400,
          'invalid_request',
        );
      }
      const got = await server.request('GET', `/api/v1/data/orders/${id}?cache=1`, { key: testKey });
      assert.equal(got.status, 200);
      assert.deepEqual(got.body.data.data, order);
      assert.equal(got.body.data.version, 1);
    });

    test('400: invalid JSON, a non-object body, an empty body, schema failures per field', async () => {
      await refusedWithoutWrite(
        () =>
          server.request('POST', '/api/v1/data/orders', {
            key: testKey,
            raw: '{"order_id": ',
            headers: { 'content-type': 'application/json' },
          }),
        400,
        'invalid_json',
      );
      for (const raw of ['[1,2]', '"text"', '42', 'null']) {
        await refusedWithoutWrite(
          () =>
            server.request('POST', '/api/v1/data/orders', {
              key: testKey,
              raw,
              headers: { 'content-type': 'application/json' },
            }),
          400,
          'invalid_body',
        );
      }
      await refusedWithoutWrite(
        () =>
          server.request('POST', '/api/v1/data/orders', {
            key: testKey,
            raw: '',
            headers: { 'content-type': 'application/json' },
          }),
        400,
        'invalid_json',
      );
      const before = await count();
      const res = await server.request('POST', '/api/v1/data/orders', {
        key: testKey,
        json: { amount: -1, paid: 'yes', email: 'not-an-email' },
      });
      assertEnvelope(res, 400, 'validation_failed');
      assert.equal(res.body.error, 'Validation failed');
      const byField = Object.fromEntries(
        res.body.details.map((d: { field: string; error: string }) => [d.field, d.error]),
      );
      assert.equal(byField.order_id, 'Required field is missing');
      assert.match(byField.amount, />= 0/);
      assert.equal(byField.paid, 'Must be of type boolean');
      assert.equal(byField.email, 'Must be a valid email');
      assert.deepEqual(await count(), before);
    });

    test('400: prototype-poisoning keys and invalid UTF-8 are refused', async () => {
      await refusedWithoutWrite(
        () =>
          server.request('POST', '/api/v1/data/orders', {
            key: testKey,
            raw: '{"order_id":"x","amount":1,"__proto__":{"admin":true}}',
            headers: { 'content-type': 'application/json' },
          }),
        400,
        'invalid_json',
      );
      await refusedWithoutWrite(
        () =>
          server.request('POST', '/api/v1/data/orders', {
            key: testKey,
            raw: Buffer.concat([
              Buffer.from('{"order_id":"'),
              Buffer.from([0xff, 0xfe]),
              Buffer.from('","amount":1}'),
            ]),
            headers: { 'content-type': 'application/json' },
          }),
        400,
        'invalid_json',
      );
    });

    test('400: a body nested more than 128 levels deep; 128 levels are taken', async () => {
      const nested = (levels: number) =>
        `{"order_id":"deep","amount":1,"tree":${'['.repeat(levels - 1)}${']'.repeat(levels - 1)}}`;
      const headers = { 'content-type': 'application/json' };
      for (const path of ['/api/v1/data/orders', `/api/v1/data/orders/rec_${'0'.repeat(22)}`]) {
        await refusedWithoutWrite(
          () =>
            server.request(path.endsWith('orders') ? 'POST' : 'PUT', path, {
              key: testKey,
              raw: nested(129),
              headers,
            }),
          400,
          'invalid_json',
        );
      }
      const refused = await server.request('POST', '/api/v1/data/orders', {
        key: testKey,
        raw: nested(129),
        headers,
      });
      assert.equal(refused.body.error, 'Invalid JSON: nested more than 128 levels deep');
      const taken = await server.request('POST', '/api/v1/data/orders', {
        key: testKey,
        raw: nested(128),
        headers,
      });
      assert.equal(taken.status, 202, taken.text);
      const read = await server.request('GET', `/api/v1/data/orders/${taken.body.id}`, { key: testKey });
      assert.equal(JSON.stringify(read.body.data.data.tree), '['.repeat(127) + ']'.repeat(127));
    });

    test('numbers come back exactly as sent, beyond what a JavaScript number holds', async () => {
      const raw =
        '{ "order_id": "big",\n  "amount": 12345678901234567890, "items": ["9007199254740993"],\n' +
        '  "meta": {"id64": -9007199254740993, "ratio": 0.1000000000000000055511, "small": 2.50, "tags": [1, 2]} }';
      // Stored as JSON.stringify writes the body, but the long integers keep their digits; a long
      // decimal is the double it was validated as.
      const sent =
        '{"order_id":"big","amount":12345678901234567890,"items":["9007199254740993"],' +
        '"meta":{"id64":-9007199254740993,"ratio":0.1,"small":2.5,"tags":[1,2]}}';
      const created = await server.request('POST', '/api/v1/data/orders', {
        key: testKey,
        raw,
        headers: { 'content-type': 'application/json' },
      });
      assert.equal(created.status, 202, created.text);
      const path = `/api/v1/data/orders/${created.body.id}`;
      const read = await server.request('GET', path, { key: testKey });
      assert.ok(read.text.includes(`"data":${sent},"version":1`), read.text);
      const listed = await server.request('GET', '/api/v1/data/orders?limit=100', { key: testKey });
      assert.ok(listed.text.includes(`"data":${sent},"version":1`));
      // Replaced with a body that needs no such care: stored as JSON.stringify makes it.
      const replaced = await server.request('PUT', path, {
        key: testKey,
        raw: '{ "order_id": "small", "amount": 5 }',
        headers: { 'content-type': 'application/json' },
      });
      assert.equal(replaced.status, 202);
      const again = await server.request('GET', path, { key: testKey });
      assert.ok(again.text.includes('"data":{"order_id":"small","amount":5},"version":2'), again.text);
      // Duplicate keys: the last value (the one validated) is what is kept, the others' long
      // integers too; a byte order mark is no part of the body.
      const cases: Array<[raw: string | Buffer, stored: string]> = [
        ['{"order_id":"dup","amount":12345678901234567890,"amount":7}', '{"order_id":"dup","amount":7}'],
        [
          '{"order_id":"dup2","amount":1,"meta":{"x":1,"x":2},"id":12345678901234567890,"n":5.0,"e":1e2,"z":-0}',
          '{"order_id":"dup2","amount":1,"meta":{"x":2},"id":12345678901234567890,"n":5,"e":100,"z":0}',
        ],
        [
          Buffer.concat([
            Buffer.from([0xef, 0xbb, 0xbf]),
            Buffer.from('{"order_id":"bom","amount":12345678901234567891}'),
          ]),
          '{"order_id":"bom","amount":12345678901234567891}',
        ],
        [
          '{"order_id":"key\\u00e9","amount":12345678901234567892,"s":"caf\\u00e9"}',
          '{"order_id":"keyé","amount":12345678901234567892,"s":"café"}',
        ],
      ];
      for (const [raw, stored] of cases) {
        const created = await server.request('POST', '/api/v1/data/orders', {
          key: testKey,
          raw,
          headers: { 'content-type': 'application/json' },
        });
        assert.equal(created.status, 202, created.text);
        const read = await server.request('GET', `/api/v1/data/orders/${created.body.id}`, { key: testKey });
        assert.ok(read.text.includes(`"data":${stored},"version":1`), `${raw}: ${read.text}`);
      }
      // A repeated key whose earlier value has another shape than its last: the last is kept.
      for (const [raw, stored] of [
        ['{"order_id":"r1","amount":1,"id":12345678901234567890,"a":{"x":1},"a":null}', '"a":null'],
        ['{"order_id":"r2","amount":1,"id":12345678901234567890,"a":[1],"a":null}', '"a":null'],
        ['{"order_id":"r3","amount":1,"id":12345678901234567890,"a":{"b":{"c":1}},"a":{}}', '"a":{}'],
      ]) {
        const created = await server.request('POST', '/api/v1/data/orders', {
          key: testKey,
          raw,
          headers: { 'content-type': 'application/json' },
        });
        assert.equal(created.status, 202, `${raw}: ${created.text}`);
        const read = await server.request('GET', `/api/v1/data/orders/${created.body.id}`, { key: testKey });
        assert.ok(read.text.includes(`"id":12345678901234567890,${stored}`), read.text);
      }
      // The other numbers of a body with a long integer are stored as JSON writes them, so a
      // filter finds them by value.
      const five = await server.request('GET', '/api/v1/data/orders?filter[n]=5', { key: testKey });
      assert.equal(five.body.data.length, 1, five.text);
      // A number past a double's range would be stored as null: refused.
      const huge = await server.request('POST', '/api/v1/data/orders', {
        key: testKey,
        raw: '{"order_id":"huge","amount":1,"x":[1E400]}',
        headers: { 'content-type': 'application/json' },
      });
      assert.equal(huge.status, 400, huge.text);
      assert.equal(huge.body.code, 'invalid_json');
      assert.equal(huge.body.details[0].field, 'x[0]');
    });

    test('400: a string holding U+0000 or an unpaired surrogate (PostgreSQL can hold neither), nothing written', async () => {
      const before = await server.request('GET', '/api/v1/data/orders?limit=100', { key: testKey });
      for (const [raw, field] of [
        ['{"order_id":"x\\u0000y","amount":1}', 'order_id'],
        ['{"order_id":"ok","amount":1,"notes":["a","\\ud800"]}', 'notes[1]'],
        ['{"order_id":"ok","amount":1,"meta":{"lone\\udc00":1}}', 'meta.lone\udc00'],
      ] as const) {
        for (const method of ['POST', 'PUT'] as const) {
          const path =
            method === 'POST' ? '/api/v1/data/orders' : `/api/v1/data/orders/${before.body.data[0].id}`;
          const res = await server.request(method, path, {
            key: testKey,
            raw,
            headers: { 'content-type': 'application/json' },
          });
          assert.equal(res.status, 400, `${method} ${raw}: ${res.text}`);
          assert.equal(res.body.code, 'invalid_json');
          assert.equal(res.body.details[0].field, field);
        }
      }
      const after = await server.request('GET', '/api/v1/data/orders?limit=100', { key: testKey });
      assert.equal(after.text, before.text, 'nothing was written or changed');
      // A surrogate pair is a character like any other (an emoji), and a filter still works beside it.
      const emoji = await server.request('POST', '/api/v1/data/orders', {
        key: testKey,
        raw: '{"order_id":"\\ud83d\\ude00","amount":1}',
        headers: { 'content-type': 'application/json' },
      });
      assert.equal(emoji.status, 202, emoji.text);
      const found = await server.request(
        'GET',
        `/api/v1/data/orders?filter[order_id]=${encodeURIComponent('😀')}`,
        {
          key: testKey,
        },
      );
      assert.equal(found.status, 200, found.text);
      assert.deepEqual(
        found.body.data.map((r: { id: string }) => r.id),
        [emoji.body.id],
      );
    });

    test('400: X-Webhook-Callback, X-Webhook-Auth or Idempotency-Key sent twice, on either path', async () => {
      /** A POST whose headers may repeat (fetch would join them into one line). */
      const post = (headers: Record<string, string | string[]>) =>
        new Promise<{ status: number; body: Record<string, unknown>; headers: Headers }>(
          (resolve, reject) => {
            const body = JSON.stringify(order);
            const req = httpRequest(`${server.url}/api/v1/data/orders`, {
              method: 'POST',
              headers: {
                authorization: `Bearer ${testKey}`,
                'content-type': 'application/json',
                'content-length': String(Buffer.byteLength(body)),
                ...headers,
              },
            });
            req.on('response', (res) => {
              let text = '';
              res.on('data', (chunk) => {
                text += chunk;
              });
              res.on('end', () =>
                resolve({
                  status: res.statusCode ?? 0,
                  body: JSON.parse(text),
                  headers: new Headers(res.headers as Record<string, string>),
                }),
              );
            });
            req.on('error', reject);
            req.end(body);
          },
        );
      const hook = 'https://hooks.example.com/a';
      const cases: Array<[Record<string, string | string[]>, string, string]> = [
        [
          { 'x-webhook-callback': [hook, 'https://hooks.example.com/b'] },
          'X-Webhook-Callback',
          'May be sent only once',
        ],
        [
          { 'x-webhook-callback': hook, 'x-webhook-auth': ['one', 'two'] },
          'X-Webhook-Auth',
          'May be sent only once',
        ],
        [{ 'Idempotency-Key': ['a', 'b'] }, 'Idempotency-Key', 'Send the header once'],
      ];
      for (const [headers, field, error] of cases) {
        const before = await count();
        const res = await post(headers);
        assertEnvelope(res, 400, 'invalid_request');
        assert.deepEqual(res.body.details, [{ field, error }]);
        assert.deepEqual(await count(), before);
      }
      // Sent once, the same values are taken.
      assert.equal((await post({ 'x-webhook-callback': hook, 'Idempotency-Key': 'once' })).status, 202);
    });

    test('401: missing, malformed, bad checksum, unknown, deactivated, revoked and expired keys', async () => {
      const post = (headers: Record<string, string>) =>
        server.request('POST', '/api/v1/data/orders', { json: order, headers });
      await refusedWithoutWrite(() => post({}), 401, 'missing_api_key');
      await refusedWithoutWrite(() => post({ authorization: 'Basic abc' }), 401, 'invalid_api_key');
      await refusedWithoutWrite(
        () => post({ authorization: 'Bearer gk_test_short' }),
        401,
        'invalid_api_key',
      );
      const flipped = testKey.slice(0, -1) + (testKey.endsWith('A') ? 'B' : 'A');
      await refusedWithoutWrite(() => post({ authorization: `Bearer ${flipped}` }), 401, 'invalid_api_key');
      // Well-formed, valid checksum, but never issued.
      const lookalike = generateSecret('gk_test');
      await refusedWithoutWrite(() => post({ authorization: `Bearer ${lookalike}` }), 401, 'invalid_api_key');

      const k = await server.createKey({ name: 'lifecycle', environment: 'test' });
      assert.equal((await post({ authorization: `Bearer ${k.key}` })).status, 202);
      await server.admin('POST', `/admin/v1/keys/${k.id}/deactivate`);
      await refusedWithoutWrite(() => post({ authorization: `Bearer ${k.key}` }), 401, 'api_key_inactive');
      await server.admin('POST', `/admin/v1/keys/${k.id}/activate`);
      assert.equal((await post({ authorization: `Bearer ${k.key}` })).status, 202);
      await server.admin('POST', `/admin/v1/keys/${k.id}/revoke`);
      await refusedWithoutWrite(() => post({ authorization: `Bearer ${k.key}` }), 401, 'api_key_revoked');
      const activate = await server.admin('POST', `/admin/v1/keys/${k.id}/activate`);
      assert.equal(activate.status, 409);

      const expiring = await server.createKey({
        name: 'expiring',
        environment: 'test',
        expires_at: new Date(Date.now() + 300).toISOString(),
      });
      // A key cannot be made already expired.
      const late = await server.admin('POST', '/admin/v1/keys', {
        name: 'late',
        environment: 'test',
        expires_at: '2020-01-01T00:00:00Z',
      });
      assert.equal(late.status, 400);
      assert.deepEqual(late.body.details, [{ field: 'expires_at', error: 'Must be in the future' }]);
      await new Promise((r) => setTimeout(r, 400));
      await refusedWithoutWrite(
        () => post({ authorization: `Bearer ${expiring.key}` }),
        401,
        'api_key_expired',
      );
    });

    test('403: missing scope, inactive endpoint, expired subscription, not deployed to live', async () => {
      const readOnly = await server.createKey({ name: 'ro', environment: 'test', scopes: ['orders:read'] });
      await refusedWithoutWrite(
        () => server.request('POST', '/api/v1/data/orders', { key: readOnly.key, json: order }),
        403,
        'insufficient_scope',
      );
      assert.equal((await server.request('GET', '/api/v1/data/orders', { key: readOnly.key })).status, 200);
      const other = await server.createKey({
        name: 'other',
        environment: 'test',
        scopes: ['invoices:write', 'records:read'],
      });
      await refusedWithoutWrite(
        () => server.request('POST', '/api/v1/data/orders', { key: other.key, json: order }),
        403,
        'insufficient_scope',
      );

      // `records:read` means every endpoint (and `apps:<app>` an App API): no endpoint takes either
      // name, so a scope meant for it could not grant more. Nothing is created.
      for (const slug of ['records', 'apps']) {
        const reserved = await server.admin('POST', '/admin/v1/endpoints', {
          slug,
          name: slug,
          schema: { type: 'object' },
        });
        assert.equal(reserved.status, 400, reserved.text);
        assert.equal(reserved.body.details[0].field, 'slug');
        assert.match(reserved.body.details[0].error, /reserved/);
        assert.equal((await server.admin('GET', `/admin/v1/endpoints/${slug}`)).status, 404);
      }

      await server.createEndpoint({
        slug: 'paused',
        name: 'Paused',
        schema: { type: 'object' },
        active: false,
      });
      await refusedWithoutWrite(
        () => server.request('POST', '/api/v1/data/paused', { key: testKey, json: {} }),
        403,
        'endpoint_inactive',
      );
      await server.admin('PATCH', '/admin/v1/endpoints/paused', { active: true });
      assert.equal(
        (await server.request('POST', '/api/v1/data/paused', { key: testKey, json: {} })).status,
        202,
      );

      await server.createEndpoint({ slug: 'lapsed', name: 'Lapsed', schema: { type: 'object' } });
      await lapse('lapsed');
      await refusedWithoutWrite(
        () => server.request('POST', '/api/v1/data/lapsed', { key: testKey, json: {} }),
        403,
        'subscription_expired',
      );

      await refusedWithoutWrite(
        () => server.request('POST', '/api/v1/data/orders', { key: liveKey, json: order }),
        403,
        'endpoint_not_deployed',
      );
    });

    test("an endpoint's expires_at is refused in the past when given, not when an end already passed is sent back", async () => {
      const past = '2020-01-01T00:00:00Z';
      const made = await server.admin('POST', '/admin/v1/endpoints', {
        slug: 'ending',
        name: 'Ending',
        schema: { type: 'object' },
        expires_at: past,
      });
      assertEnvelope(made, 400, 'invalid_request');
      assert.deepEqual(made.body.details, [{ field: 'expires_at', error: 'Must be in the future' }]);
      assert.equal((await server.admin('GET', '/admin/v1/endpoints/ending')).status, 404, 'nothing made');

      await server.createEndpoint({ slug: 'ending', name: 'Ending', schema: { type: 'object' } });
      const moved = await server.admin('PATCH', '/admin/v1/endpoints/ending', {
        name: 'Moved',
        expires_at: past,
      });
      assertEnvelope(moved, 400, 'invalid_request');
      assert.deepEqual(moved.body.details, [{ field: 'expires_at', error: 'Must be in the future' }]);
      const kept = (await server.admin('GET', '/admin/v1/endpoints/ending')).body.data;
      assert.deepEqual(
        [kept.name, kept.expires_at, kept.draft_revision],
        ['Ending', null, 1],
        'nothing changed',
      );
      const post = () => server.request('POST', '/api/v1/data/ending', { key: testKey, json: {} });
      assert.equal((await post()).status, 202, 'still serving');

      // An end that has passed since it was set stays through other changes: not sent, or sent back
      // as it is stored (the dashboard sends it with every save), however the instant is spelled.
      await lapse('ending');
      const ended = (await server.admin('GET', '/admin/v1/endpoints/ending')).body.data.expires_at;
      for (const patch of [
        { name: 'Renamed' },
        { name: 'Renamed again', expires_at: ended },
        { max_body_bytes: 2048, expires_at: ended.replace(/Z$/, '+00:00') },
      ]) {
        const changed = await server.admin('PATCH', '/admin/v1/endpoints/ending', patch);
        assert.equal(changed.status, 200, `${JSON.stringify(patch)}: ${changed.text}`);
        assert.equal(changed.body.data.expires_at, ended, JSON.stringify(patch));
      }
      await refusedWithoutWrite(post, 403, 'subscription_expired');
      // Another end in the past is a new value: refused as any.
      const earlier = new Date(Date.parse(ended) - 1000).toISOString();
      const other = await server.admin('PATCH', '/admin/v1/endpoints/ending', { expires_at: earlier });
      assertEnvelope(other, 400, 'invalid_request');
      assert.deepEqual(other.body.details, [{ field: 'expires_at', error: 'Must be in the future' }]);
      // Extended, or ended never: serving again.
      const later = new Date(Date.now() + 3_600_000).toISOString();
      for (const expires_at of [later, null]) {
        const extended = await server.admin('PATCH', '/admin/v1/endpoints/ending', { expires_at });
        assert.equal(extended.status, 200, extended.text);
        assert.equal(extended.body.data.expires_at, expires_at, extended.text);
        assert.equal((await post()).status, 202, `serving with expires_at ${expires_at}`);
      }
    });

    test('404: unknown endpoint, unknown or malformed record id, unknown route', async () => {
      await refusedWithoutWrite(
        () => server.request('POST', '/api/v1/data/nope', { key: testKey, json: order }),
        404,
        'endpoint_not_found',
      );
      assertEnvelope(
        await server.request('GET', '/api/v1/data/orders/rec_0000000000000000000000', { key: testKey }),
        404,
        'record_not_found',
      );
      assertEnvelope(
        await server.request('GET', "/api/v1/data/orders/1' OR '1'='1", { key: testKey }),
        404,
        'record_not_found',
      );
      assertEnvelope(await server.request('GET', '/api/v1/nothing-here', { key: testKey }), 404, 'not_found');
      // Refused by the router itself, still in the envelope: a path segment longer than any
      // route takes, and a percent-encoding that is not UTF-8.
      const long = await server.request('GET', `/api/v1/data/orders/rec_${'x'.repeat(600)}`, {
        key: testKey,
      });
      assertEnvelope(long, 404, 'not_found');
      assert.ok(long.text.length < 400, long.text);
      assertEnvelope(
        await server.request('GET', `/api/v1/data/${'o'.repeat(300)}`, { key: testKey }),
        404,
        'not_found',
      );
      const badUrl = await server.request('GET', '/api/v1/data/orders/%ff', { key: testKey });
      assertEnvelope(badUrl, 400, 'invalid_request');
      assert.match(badUrl.headers.get('content-type') ?? '', /charset=utf-8/);
      await refusedWithoutWrite(
        () => server.request('PUT', '/api/v1/data/orders/%c3%28', { key: testKey, json: order }),
        400,
        'invalid_request',
      );
    });

    test("413: a body over the endpoint's max_body_bytes, declared or streamed", async () => {
      const big = { order_id: 'x'.repeat(3000), amount: 1 };
      await refusedWithoutWrite(
        () => server.request('POST', '/api/v1/data/orders', { key: testKey, json: big }),
        413,
        'payload_too_large',
      );
      // Chunked: no Content-Length, so the limit must hold while streaming.
      const body = new ReadableStream({
        start(controller) {
          controller.enqueue(new TextEncoder().encode(JSON.stringify(big)));
          controller.close();
        },
      });
      const before = await count();
      const res = await fetch(`${server.url}/api/v1/data/orders`, {
        method: 'POST',
        headers: { authorization: `Bearer ${testKey}`, 'content-type': 'application/json' },
        body,
        duplex: 'half',
      } as RequestInit);
      const json = (await res.json()) as Record<string, unknown>;
      assertEnvelope({ status: res.status, body: json, headers: res.headers }, 413, 'payload_too_large');
      assert.deepEqual(await count(), before);
    });

    test('415: a write without application/json; charset=utf-8 is accepted', async () => {
      await refusedWithoutWrite(
        () =>
          server.request('POST', '/api/v1/data/orders', {
            key: testKey,
            raw: JSON.stringify(order),
            headers: { 'content-type': 'text/plain' },
          }),
        415,
        'unsupported_media_type',
      );
      await refusedWithoutWrite(
        () => server.request('POST', '/api/v1/data/orders', { key: testKey, raw: JSON.stringify(order) }),
        415,
        'unsupported_media_type',
      );
      await refusedWithoutWrite(
        () =>
          server.request('POST', '/api/v1/data/orders', {
            key: testKey,
            raw: JSON.stringify(order),
            headers: { 'content-type': 'application/json; charset=latin1' },
          }),
        415,
        'unsupported_media_type',
      );
      const ok = await server.request('POST', '/api/v1/data/orders', {
        key: testKey,
        raw: JSON.stringify(order),
        headers: { 'content-type': 'application/json; charset=utf-8' },
      });
      assert.equal(ok.status, 202);
      // A compressed body is not read as if it were plain: 415 naming the encoding, nothing stored.
      for (const encoding of ['gzip', 'br', 'identity, gzip']) {
        for (const [method, path] of [
          ['POST', '/api/v1/data/orders'],
          ['PUT', `/api/v1/data/orders/${ok.body.id}`],
        ] as const) {
          await refusedWithoutWrite(
            () =>
              server.request(method, path, {
                key: testKey,
                raw: JSON.stringify(order),
                headers: { 'content-type': 'application/json', 'content-encoding': encoding },
              }),
            415,
            'unsupported_media_type',
          );
        }
      }
      const encoded = await server.request('POST', '/api/v1/data/orders', {
        key: testKey,
        raw: JSON.stringify(order),
        headers: { 'content-type': 'application/json', 'content-encoding': 'gzip' },
      });
      assert.match(encoded.body.error, /Content-Encoding gzip is not supported/);
      const management = await server.request('POST', '/admin/v1/keys', {
        token: server.token,
        raw: JSON.stringify({ name: 'enc', environment: 'test' }),
        headers: { 'content-type': 'application/json', 'content-encoding': 'gzip' },
      });
      assertEnvelope(management, 415, 'unsupported_media_type');
      const plain = await server.request('POST', '/api/v1/data/orders', {
        key: testKey,
        raw: JSON.stringify(order),
        headers: { 'content-type': 'application/json', 'content-encoding': 'identity' },
      });
      assert.equal(plain.status, 202);
    });

    test('test and live are separate: live uses the deployed version, and neither sees the other', async () => {
      await server.createEndpoint({
        slug: 'events',
        name: 'Events',
        schema: { type: 'object', properties: { n: { type: 'integer' } }, required: ['n'] },
      });
      const deployed = await server.admin('POST', '/admin/v1/endpoints/events/deploy');
      assert.equal(deployed.status, 201);
      assert.equal(deployed.body.data.live_version, 1);
      // Change the draft: test traffic follows it at once, live keeps version 1.
      await server.admin('PATCH', '/admin/v1/endpoints/events', {
        schema: { type: 'object', properties: { n: { type: 'string' } }, required: ['n'] },
      });
      assert.equal(
        (await server.request('POST', '/api/v1/data/events', { key: testKey, json: { n: 'one' } })).status,
        202,
      );
      assertEnvelope(
        await server.request('POST', '/api/v1/data/events', { key: testKey, json: { n: 1 } }),
        400,
        'validation_failed',
      );
      const live = await server.request('POST', '/api/v1/data/events', { key: liveKey, json: { n: 1 } });
      assert.equal(live.status, 202);
      assertEnvelope(
        await server.request('POST', '/api/v1/data/events', { key: liveKey, json: { n: 'one' } }),
        400,
        'validation_failed',
      );
      // Isolation: the live record is not found with a test key, and lists do not mix.
      assertEnvelope(
        await server.request('GET', `/api/v1/data/events/${live.body.id}`, { key: testKey }),
        404,
        'record_not_found',
      );
      assertEnvelope(
        await server.request('DELETE', `/api/v1/data/events/${live.body.id}`, { key: testKey }),
        404,
        'record_not_found',
      );
      const liveList = await server.request('GET', '/api/v1/data/events', { key: liveKey });
      assert.deepEqual(
        liveList.body.data.map((r: { id: string }) => r.id),
        [live.body.id],
      );
      const testList = await server.request('GET', '/api/v1/data/events', { key: testKey });
      assert.ok(testList.body.data.every((r: { environment: string }) => r.environment === 'test'));
      // A record of another endpoint is a 404 here.
      assertEnvelope(
        await server.request('GET', `/api/v1/data/orders/${live.body.id}`, { key: liveKey }),
        403,
        'endpoint_not_deployed',
      );
      await server.admin('POST', '/admin/v1/endpoints/orders/deploy');
      assertEnvelope(
        await server.request('GET', `/api/v1/data/orders/${live.body.id}`, { key: liveKey }),
        404,
        'record_not_found',
      );
    });

    test('list: cursor pagination in both orders, filters, limits, and signed cursors', async () => {
      await server.createEndpoint({
        slug: 'items',
        name: 'Items',
        schema: {
          type: 'object',
          properties: { n: { type: 'integer' }, color: { type: 'string' }, ok: { type: 'boolean' } },
        },
      });
      const ids: string[] = [];
      for (let n = 0; n < 7; n++) {
        const res = await server.request('POST', '/api/v1/data/items', {
          key: testKey,
          json: { n, color: n % 2 ? 'red' : 'blue', ok: n < 3 },
        });
        ids.push(res.body.id);
      }
      const seen: string[] = [];
      let cursor: string | null = null;
      let pages = 0;
      do {
        const qs: string = `?limit=3${cursor ? `&after=${cursor}` : ''}`;
        const page = await server.request('GET', `/api/v1/data/items${qs}`, { key: testKey });
        assert.equal(page.status, 200);
        assert.equal(page.body.meta.limit, 3);
        seen.push(...page.body.data.map((r: { id: string }) => r.id));
        cursor = page.body.meta.next_cursor;
        pages++;
        // A record created mid-walk must not disturb the pages (newest first: it lands before the cursor).
        if (pages === 1)
          await server.request('POST', '/api/v1/data/items', { key: testKey, json: { n: 99 } });
      } while (cursor);
      assert.deepEqual(seen, [...ids].reverse());
      assert.equal(pages, 3);

      const asc = await server.request('GET', '/api/v1/data/items?order=asc&limit=2', { key: testKey });
      assert.deepEqual(
        asc.body.data.map((r: { id: string }) => r.id),
        ids.slice(0, 2),
      );
      const red = await server.request('GET', '/api/v1/data/items?filter[color]=red&order=asc', {
        key: testKey,
      });
      assert.deepEqual(
        red.body.data.map((r: { data: { n: number } }) => r.data.n),
        [1, 3, 5],
      );
      const byNumber = await server.request('GET', '/api/v1/data/items?filter[n]=4', { key: testKey });
      assert.deepEqual(
        byNumber.body.data.map((r: { id: string }) => r.id),
        [ids[4]],
      );
      const byBool = await server.request(
        'GET',
        '/api/v1/data/items?filter[ok]=true&filter[color]=blue&order=asc',
        { key: testKey },
      );
      assert.deepEqual(
        byBool.body.data.map((r: { data: { n: number } }) => r.data.n),
        [0, 2],
      );
      const injection = await server.request(
        'GET',
        `/api/v1/data/items?filter[color]=${encodeURIComponent("red' OR 1=1 --")}`,
        { key: testKey },
      );
      assert.equal(injection.status, 200);
      assert.deepEqual(injection.body.data, []);

      const first = await server.request('GET', '/api/v1/data/items?limit=2', { key: testKey });
      const good = first.body.meta.next_cursor as string;
      assertEnvelope(
        await server.request('GET', `/api/v1/data/items?after=${good}&order=asc`, { key: testKey }),
        400,
        'invalid_cursor',
      );
      assertEnvelope(
        await server.request('GET', `/api/v1/data/items?after=${good}&filter[color]=red`, { key: testKey }),
        400,
        'invalid_cursor',
      );
      const forged = Buffer.from(`1.${'A'.repeat(22)}`).toString('base64url');
      assertEnvelope(
        await server.request('GET', `/api/v1/data/items?after=${forged}`, { key: testKey }),
        400,
        'invalid_cursor',
      );
      assertEnvelope(
        await server.request('GET', '/api/v1/data/items?after=%%%', { key: testKey }),
        400,
        'invalid_cursor',
      );
      for (const bad of [
        'limit=0',
        'limit=101',
        'limit=abc',
        'order=sideways',
        'color=red',
        // A field name with a quote or a backslash, or none.
        'filter[a%22b]=1',
        'filter[a%5Cb]=1',
        'filter[]=1',
        // U+0000: no stored text holds it, and PostgreSQL cannot compare with it (it was a 500).
        'filter[color]=a%00b',
        'filter[n]=%00',
      ]) {
        assertEnvelope(
          await server.request('GET', `/api/v1/data/items?${bad}`, { key: testKey }),
          400,
          'invalid_request',
        );
      }
    });

    test('filters on fields the schema does not declare compare as JSON: 5 matches 5 and "5", true only true', async () => {
      await server.createEndpoint({ slug: 'loose', name: 'Loose', schema: { type: 'object' } });
      const rows = [
        '{"k":5,"b":true,"s":"5","z":null}',
        '{"k":"5","b":"true"}',
        '{"k":1,"b":1}',
        '{"k":12345678901234567890,"s":"x"}',
        '{"k":"five"}',
      ];
      const ids: string[] = [];
      for (const raw of rows) {
        const res = await server.request('POST', '/api/v1/data/loose', {
          key: testKey,
          raw,
          headers: { 'content-type': 'application/json' },
        });
        assert.equal(res.status, 202, res.text);
        ids.push(res.body.id);
      }
      const matching = async (query: string) =>
        (
          await server.request('GET', `/api/v1/data/loose?order=asc&${query}`, { key: testKey })
        ).body.data.map((r: { id: string }) => ids.indexOf(r.id));
      assert.deepEqual(await matching('filter[k]=5'), [0, 1]);
      assert.deepEqual(await matching('filter[b]=true'), [0, 1]);
      assert.deepEqual(await matching('filter[b]=1'), [2]);
      assert.deepEqual(await matching('filter[k]=1'), [2]);
      assert.deepEqual(await matching('filter[s]=5'), [0]);
      assert.deepEqual(await matching('filter[z]=null'), [0]);
      assert.deepEqual(await matching('filter[k]=five'), [4]);
      assert.deepEqual(await matching('filter[k]=12345678901234567890'), [3]);
      assert.deepEqual(await matching('filter[k]=5&filter[b]=true'), [0, 1]);
      assert.deepEqual(await matching(`filter[k]=${encodeURIComponent("5' OR 1=1 --")}`), []);
    });

    test('account describes the calling key', async () => {
      const k = await server.createKey({
        name: 'partner',
        environment: 'test',
        scopes: ['orders:read'],
        limits: { per_minute: 60 },
      });
      const res = await server.request('GET', '/api/v1/account', { key: k.key });
      assert.equal(res.status, 200);
      assert.equal(res.body.data.id, k.id);
      assert.equal(res.body.data.name, 'partner');
      assert.equal(res.body.data.environment, 'test');
      assert.deepEqual(res.body.data.scopes, ['orders:read']);
      assert.deepEqual(res.body.data.limits, { per_minute: 60 });
      assert.ok(!JSON.stringify(res.body).includes(k.key));
    });

    test('concurrent writes are all durable and distinct', async () => {
      const results = await Promise.all(
        Array.from({ length: 100 }, (_, i) =>
          server.request('POST', '/api/v1/data/orders', {
            key: testKey,
            json: { order_id: `C-${i}`, amount: i },
          }),
        ),
      );
      assert.ok(results.every((r) => r.status === 202));
      const ids = new Set(results.map((r) => r.body.id));
      assert.equal(ids.size, 100);
      for (const r of results.slice(0, 10)) {
        const got = await server.request('GET', `/api/v1/data/orders/${r.body.id}`, { key: testKey });
        assert.equal(got.status, 200);
      }
    });
  });
}
