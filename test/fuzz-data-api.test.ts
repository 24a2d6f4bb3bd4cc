import assert from 'node:assert/strict';
import { request as httpRequest } from 'node:http';
import { after, before, describe, test } from 'node:test';
import fc from 'fast-check';
import { databaseKinds } from './helpers/database.ts';
import { ordersSchema, startTestServer, type TestServer } from './helpers/server.ts';

/** What no response may ever contain: internals. */
const LEAKS =
  /(\bat \S+:\d+:\d+|SQLITE_|sqlite|postgres|SELECT |INSERT |node_modules|TypeError|ReferenceError)/i;

interface Raw {
  status: number;
  body: string;
}

/** A raw HTTP request (fetch would refuse many of the malformed inputs we want to send). */
function raw(
  url: string,
  method: string,
  path: string,
  headers: Record<string, string>,
  body?: Buffer,
): Promise<Raw> {
  return new Promise((resolve, reject) => {
    const target = new URL(url);
    const req = httpRequest(
      { host: target.hostname, port: target.port, method, path, headers, timeout: 10_000 },
      (res) => {
        const chunks: Buffer[] = [];
        res.on('data', (c: Buffer) => chunks.push(c));
        res.on('end', () => resolve({ status: res.statusCode ?? 0, body: Buffer.concat(chunks).toString() }));
      },
    );
    req.on('error', reject);
    req.on('timeout', () => req.destroy(new Error('timeout')));
    req.end(body);
  });
}

function checkResponse(res: Raw): void {
  assert.ok(res.status < 500, `server error ${res.status}: ${res.body}`);
  assert.doesNotMatch(res.body, LEAKS);
  if (res.status >= 400 && res.body !== '') {
    const parsed = JSON.parse(res.body) as Record<string, unknown>;
    assert.equal(parsed.success, false);
    assert.equal(typeof parsed.code, 'string');
    assert.match(String(parsed.request_id), /^req_/);
  }
}

const jsonValue = fc.jsonValue({ maxDepth: 4 });

for (const kind of databaseKinds) {
  describe(`property tests: bad input on the data API (${kind})`, () => {
    let server: TestServer;
    let key: string;
    let recordId: string;

    async function counts(): Promise<string> {
      const db = server.services.database.db;
      const r = await db
        .selectFrom('records')
        .select((eb) => eb.fn.countAll<number>().as('n'))
        .executeTakeFirstOrThrow();
      const q = await db
        .selectFrom('requests')
        .select((eb) => eb.fn.countAll<number>().as('n'))
        .executeTakeFirstOrThrow();
      return `${r.n}/${q.n}`;
    }

    before(async () => {
      server = await startTestServer(kind);
      await server.createEndpoint({ slug: 'orders', name: 'Orders', schema: ordersSchema });
      key = (await server.createKey({ name: 'fuzz', environment: 'test' })).key;
      const created = await server.request('POST', '/api/v1/data/orders', {
        key,
        json: { order_id: 'A', amount: 1 },
      });
      recordId = created.body.id;
    });
    after(() => server.close());

    test('random JSON bodies: valid ones are written, everything else is refused with no write', async () => {
      await fc.assert(
        fc.asyncProperty(jsonValue, async (value) => {
          const before = await counts();
          const res = await raw(
            server.url,
            'POST',
            '/api/v1/data/orders',
            { authorization: `Bearer ${key}`, 'content-type': 'application/json' },
            Buffer.from(JSON.stringify(value) ?? 'null'),
          );
          checkResponse(res);
          if (res.status !== 202) assert.equal(await counts(), before);
        }),
        { numRuns: 150 },
      );
    });

    test('random bytes as a body never cause a 5xx or a write', async () => {
      await fc.assert(
        fc.asyncProperty(fc.uint8Array({ maxLength: 300 }), async (bytes) => {
          const before = await counts();
          const res = await raw(
            server.url,
            'POST',
            '/api/v1/data/orders',
            { authorization: `Bearer ${key}`, 'content-type': 'application/json' },
            Buffer.from(bytes),
          );
          checkResponse(res);
          if (res.status !== 202) assert.equal(await counts(), before);
        }),
        { numRuns: 150 },
      );
    });

    test('random paths, ids, query strings and cursors are answered cleanly', async () => {
      const segment = fc.oneof(
        fc.string({ maxLength: 30 }),
        fc.constantFrom(
          'orders',
          recordId,
          'rec_',
          "' OR 1=1 --",
          '..',
          '%00',
          '%ff',
          '__proto__',
          'constructor',
        ),
      );
      await fc.assert(
        fc.asyncProperty(
          fc.array(segment, { minLength: 0, maxLength: 3 }),
          fc.dictionary(
            fc.oneof(
              fc.constantFrom(
                'limit',
                'order',
                'after',
                'filter[amount]',
                'filter[order_id]',
                'filter[__proto__]',
              ),
              fc.string({ maxLength: 12 }),
            ),
            fc.string({ maxLength: 40 }),
          ),
          fc.constantFrom('GET', 'DELETE', 'PUT', 'POST', 'PATCH'),
          async (segments, query, method) => {
            const path = `/api/v1/data/${segments.map(encodeURIComponent).join('/')}`;
            const qs = new URLSearchParams(query).toString();
            const before = await counts();
            const res = await raw(
              server.url,
              method,
              qs ? `${path}?${qs}` : path,
              { authorization: `Bearer ${key}`, 'content-type': 'application/json' },
              method === 'PUT' || method === 'POST' ? Buffer.from('{"order_id":"Z"}') : undefined,
            );
            checkResponse(res);
            if (res.status !== 202) assert.equal(await counts(), before);
          },
        ),
        { numRuns: 200 },
      );
    });

    test('random auth and content-type headers never get past authentication or parsing wrongly', async () => {
      await fc.assert(
        fc.asyncProperty(
          fc.string({ maxLength: 80 }).filter((s) => /^[\x21-\x7e ]*$/.test(s)),
          fc.string({ maxLength: 40 }).filter((s) => /^[\x21-\x7e ]*$/.test(s)),
          async (authorization, contentType) => {
            const before = await counts();
            const res = await raw(
              server.url,
              'POST',
              '/api/v1/data/orders',
              { authorization, 'x-api-key': authorization, 'content-type': contentType },
              Buffer.from('{"order_id":"A","amount":1}'),
            );
            checkResponse(res);
            assert.notEqual(res.status, 202);
            assert.equal(await counts(), before);
          },
        ),
        { numRuns: 150 },
      );
    });

    test('deep nesting and wide arrays within the size limit are handled', async () => {
      const deep = `${'{"a":'.repeat(5000)}1${'}'.repeat(5000)}`;
      for (const body of [
        deep,
        JSON.stringify({ order_id: 'x', amount: 1, items: Array(20_000).fill('i') }),
      ]) {
        const res = await raw(
          server.url,
          'POST',
          '/api/v1/data/orders',
          { authorization: `Bearer ${key}`, 'content-type': 'application/json' },
          Buffer.from(body),
        );
        checkResponse(res);
      }
    });
  });
}
