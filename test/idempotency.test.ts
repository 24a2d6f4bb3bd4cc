import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import pg from 'pg';
import { buildApp, createServices } from '../src/app.ts';
import { loadConfig } from '../src/config.ts';
import { sha256 } from '../src/infra/crypto/hash.ts';
import { databaseKinds } from './helpers/database.ts';
import { type ApiResponse, ordersSchema, startTestServer, type TestServer } from './helpers/server.ts';
import { until } from './helpers/until.ts';

const order = { order_id: 'ORD-1', amount: 100 };

function assertEnvelope(res: ApiResponse, status: number, code: string) {
  assert.equal(res.status, status, res.text);
  assert.equal(res.body.success, false);
  assert.equal(res.body.code, code);
  assert.match(String(res.body.request_id), /^req_/);
}

for (const kind of databaseKinds) {
  describe(`Idempotency-Key on ${kind}`, () => {
    let server: TestServer;
    let key: string;
    let n = 0;
    const fresh = () => `idem-${Date.now()}-${n++}`;
    // The outbox rows a create adds when nobody is to be told of it: SQLite writes none.
    const outboxPerCreate = kind === 'sqlite' ? 0 : 1;

    async function counts(): Promise<{ records: number; requests: number; keys: number }> {
      const db = server.services.database.db;
      const one = async (table: 'records' | 'requests' | 'idempotency_keys') =>
        Number(
          (
            await db
              .selectFrom(table)
              .select((eb) => eb.fn.countAll<number>().as('n'))
              .executeTakeFirstOrThrow()
          ).n,
        );
      return {
        records: await one('records'),
        requests: await one('requests'),
        keys: await one('idempotency_keys'),
      };
    }

    function post(idempotencyKey: string, json: unknown = order, apiKey = key) {
      return server.request('POST', '/api/v1/data/orders', {
        key: apiKey,
        json,
        headers: { 'idempotency-key': idempotencyKey },
      });
    }

    before(async () => {
      server = await startTestServer(kind);
      await server.createEndpoint({ slug: 'orders', name: 'Orders', schema: ordersSchema });
      key = (await server.createKey({ name: 'i', environment: 'test' })).key;
    });
    after(() => server.close());

    test('a repeat with the same body replays the original response: same record, no second write or outbox row', async () => {
      const idem = fresh();
      const first = await post(idem);
      assert.equal(first.status, 202);
      const before = await counts();
      const again = await post(idem);
      assert.equal(again.status, 202);
      assert.equal(again.text, first.text);
      assert.equal(again.body.id, first.body.id);
      assert.equal(again.headers.get('idempotent-replayed'), 'true');
      assert.equal(again.headers.get('original-request-id'), first.headers.get('request-id'));
      assert.notEqual(again.headers.get('request-id'), first.headers.get('request-id'));
      assert.deepEqual(await counts(), before);
      // The quoted Structured Field form names the same key.
      const quoted = await post(`"${idem}"`);
      assert.equal(quoted.body.id, first.body.id);
    });

    test('the same key with a different body is 422 idempotency_key_reused, and nothing is written', async () => {
      const idem = fresh();
      await post(idem);
      const before = await counts();
      const res = await post(idem, { ...order, amount: 101 });
      assertEnvelope(res, 422, 'idempotency_key_reused');
      assert.equal(res.body.details[0].field, 'Idempotency-Key');
      // Another path with the same key is another request too.
      const created = await post(fresh());
      const put = await server.request('PUT', `/api/v1/data/orders/${created.body.id}`, {
        key,
        json: order,
        headers: { 'idempotency-key': idem },
      });
      assertEnvelope(put, 422, 'idempotency_key_reused');
      // Only the fresh create wrote.
      assert.deepEqual(await counts(), {
        records: before.records + 1,
        requests: before.requests + outboxPerCreate,
        keys: before.keys + 1,
      });
    });

    test('the same body with its keys in another order, or the path with a trailing slash, is the same request', async () => {
      const idem = fresh();
      const first = await post(idem, { order_id: 'K-1', amount: 5, items: ['a', 'b'] });
      assert.equal(first.status, 202);
      const before = await counts();
      const reordered = await server.request('POST', '/api/v1/data/orders/', {
        key,
        raw: '{ "items": ["a", "b"], "amount": 5, "order_id": "K-1" }',
        headers: { 'idempotency-key': idem, 'content-type': 'application/json' },
      });
      assert.equal(reordered.status, 202, reordered.text);
      assert.equal(reordered.body.id, first.body.id);
      assert.equal(reordered.headers.get('idempotent-replayed'), 'true');
      assert.deepEqual(await counts(), before);
      // Order inside an array is data: another body.
      const swapped = await post(idem, { order_id: 'K-1', amount: 5, items: ['b', 'a'] });
      assertEnvelope(swapped, 422, 'idempotency_key_reused');
      // Integers past a double's digits: two that round alike are two bodies.
      const long = fresh();
      const sent = (digits: string) =>
        server.request('POST', '/api/v1/data/orders', {
          key,
          raw: `{"order_id":"K-2","amount":${digits}}`,
          headers: { 'idempotency-key': long, 'content-type': 'application/json' },
        });
      const original = await sent('12345678901234567890');
      assert.equal(original.status, 202, original.text);
      assert.equal((await sent('12345678901234567890')).body.id, original.body.id);
      assertEnvelope(await sent('12345678901234567891'), 422, 'idempotency_key_reused');
      assert.deepEqual(await counts(), {
        ...before,
        records: before.records + 1,
        requests: before.requests + outboxPerCreate,
        keys: before.keys + 1,
      });
    });

    test('a key stored by an earlier release (keys of the body in the order sent) still replays', async () => {
      const idem = fresh();
      // Keys not in sorted order: the earlier fingerprint and today's differ.
      const raw = '{"order_id":"K-3","amount":7}';
      const send = (body: string) =>
        server.request('POST', '/api/v1/data/orders', {
          key,
          raw: body,
          headers: { 'idempotency-key': idem, 'content-type': 'application/json' },
        });
      const first = await send(raw);
      assert.equal(first.status, 202, first.text);
      // As the earlier release stored it: a hash of the path and the body as sent.
      await server.services.database.db
        .updateTable('idempotency_keys')
        .set({ fingerprint: sha256(`POST /api/v1/data/orders\n${raw}`) })
        .where('idempotency_key', '=', idem)
        .execute();
      const before = await counts();
      const again = await send(raw);
      assert.equal(again.body.id, first.body.id, again.text);
      assert.equal(again.headers.get('idempotent-replayed'), 'true');
      assertEnvelope(await send('{"order_id":"K-3","amount":8}'), 422, 'idempotency_key_reused');
      assert.deepEqual(await counts(), before);
    });

    test('keys are scoped to the API key', async () => {
      const other = (await server.createKey({ name: 'other', environment: 'test' })).key;
      const idem = fresh();
      const mine = await post(idem);
      const theirs = await post(idem, order, other);
      assert.equal(theirs.status, 202);
      assert.notEqual(theirs.body.id, mine.body.id);
    });

    test('concurrent duplicates: exactly one write; the others get 409 in flight or the replay', async () => {
      const idem = fresh();
      const before = await counts();
      const results = await Promise.all(Array.from({ length: 12 }, () => post(idem)));
      const accepted = results.filter((r) => r.status === 202);
      const inFlight = results.filter((r) => r.status === 409);
      assert.equal(accepted.length + inFlight.length, results.length, results.map((r) => r.status).join());
      assert.ok(accepted.length >= 1);
      assert.equal(new Set(accepted.map((r) => r.body.id)).size, 1);
      for (const r of inFlight) {
        assertEnvelope(r, 409, 'idempotency_key_in_flight');
        assert.equal(r.headers.get('retry-after'), '1');
      }
      const after = await counts();
      assert.deepEqual(after, {
        records: before.records + 1,
        requests: before.requests + outboxPerCreate,
        keys: before.keys + 1,
      });
      // Once settled, every repeat is the replay.
      const late = await post(idem);
      assert.equal(late.body.id, accepted[0]?.body.id);
    });

    test('PUT and DELETE are idempotent too', async () => {
      const created = await post(fresh());
      const id = created.body.id;
      const idem = fresh();
      const put = () =>
        server.request('PUT', `/api/v1/data/orders/${id}`, {
          key,
          json: { ...order, amount: 7 },
          headers: { 'idempotency-key': idem },
        });
      assert.equal((await put()).status, 202);
      assert.equal((await put()).headers.get('idempotent-replayed'), 'true');
      const got = await server.request('GET', `/api/v1/data/orders/${id}`, { key });
      assert.equal(got.body.data.version, 2);
      const del = () =>
        server.request('DELETE', `/api/v1/data/orders/${id}`, {
          key,
          headers: { 'idempotency-key': `${idem}-d` },
        });
      assert.equal((await del()).status, 202);
      const replayed = await del();
      assert.equal(replayed.status, 202);
      assert.equal(replayed.body.id, id);
    });

    test('a failed request stores nothing: the key can be used again once the request is fixed', async () => {
      const idem = fresh();
      const before = await counts();
      assertEnvelope(await post(idem, { amount: 'x' }), 400, 'validation_failed');
      assert.deepEqual(await counts(), before);
      assert.equal((await post(idem)).status, 202);
    });

    test('malformed keys are 400 and write nothing', async () => {
      const before = await counts();
      for (const bad of ['x'.repeat(256), '""', 'caf\u00e9']) {
        const res = await server.request('POST', '/api/v1/data/orders', {
          key,
          json: order,
          headers: { 'idempotency-key': bad },
        });
        assertEnvelope(res, 400, 'invalid_request');
        assert.equal(res.body.details[0].field, 'Idempotency-Key');
      }
      assert.equal((await post('k'.repeat(255))).status, 202);
      assert.equal((await counts()).records, before.records + 1);
    });
  });

  describe(`Idempotency-Key across two servers on one ${kind} database, without Redis`, () => {
    test('concurrent duplicates still make exactly one write: the database key decides', async () => {
      const first = await startTestServer(kind);
      const services = await createServices(
        loadConfig({ DATABASE_URL: first.database.url, LOG_LEVEL: 'silent' }),
      );
      const second = buildApp(services, { logger: false });
      try {
        await second.listen({ port: 0, host: '127.0.0.1' });
        const address = second.server.address();
        const secondUrl = `http://127.0.0.1:${typeof address === 'object' && address ? address.port : 0}`;
        await first.createEndpoint({ slug: 'orders', name: 'Orders', schema: ordersSchema });
        const { key } = await first.createKey({ name: 'x', environment: 'test' });
        for (let round = 0; round < 3; round++) {
          const results = await Promise.all(
            Array.from({ length: 8 }, async (_, i) => {
              const res = await fetch(`${i % 2 ? secondUrl : first.url}/api/v1/data/orders`, {
                method: 'POST',
                headers: {
                  authorization: `Bearer ${key}`,
                  'content-type': 'application/json',
                  'idempotency-key': `two-servers-${round}`,
                },
                body: JSON.stringify(order),
              });
              return { status: res.status, body: (await res.json()) as { id?: string; code?: string } };
            }),
          );
          const accepted = results.filter((r) => r.status === 202);
          assert.equal(
            accepted.length + results.filter((r) => r.body.code === 'idempotency_key_in_flight').length,
            results.length,
            results.map((r) => r.status).join(),
          );
          assert.equal(new Set(accepted.map((r) => r.body.id)).size, 1);
        }
        const rows = await first.services.database.db.selectFrom('records').selectAll().execute();
        assert.equal(rows.length, 3, 'one record per key');
        const keys = await first.services.database.db.selectFrom('idempotency_keys').selectAll().execute();
        assert.deepEqual(
          keys.map((k) => k.record_id).sort(),
          rows.map((r) => r.id).sort(),
          'one stored key per record, naming it',
        );
      } finally {
        await second.close();
        await services.close();
        await first.close();
      }
    });
  });

  describe(`Idempotency-Key expiry on ${kind}`, () => {
    let server: TestServer;
    before(async () => {
      server = await startTestServer(kind, { GATEHOUSE_IDEMPOTENCY_TTL_SECONDS: '1' });
      await server.createEndpoint({ slug: 'orders', name: 'Orders', schema: ordersSchema });
    });
    after(() => server.close());

    test('after the retention a key starts a new write, and expired keys are pruned', async () => {
      const { key } = await server.createKey({ name: 'e', environment: 'test' });
      const send = (json: unknown) =>
        server.request('POST', '/api/v1/data/orders', { key, json, headers: { 'idempotency-key': 'same' } });
      const first = await send(order);
      await new Promise((r) => setTimeout(r, 1_100));
      const second = await send({ ...order, amount: 5 });
      assert.equal(second.status, 202);
      assert.notEqual(second.body.id, first.body.id);
      await new Promise((r) => setTimeout(r, 1_100));
      assert.equal(await server.services.traffic.idempotency.prune(), 1);
      const left = await server.services.database.db.selectFrom('idempotency_keys').selectAll().execute();
      assert.equal(left.length, 0);
    });
  });
}

if (databaseKinds.includes('postgres')) {
  // PostgreSQL lets the test hold a write where it is (a table lock, from its own connection)
  // while the server goes on answering: the first request is provably in flight.
  describe('Idempotency-Key: a duplicate while the first is still being written (postgres)', () => {
    test('is 409 idempotency_key_in_flight with Retry-After: 1; the first then answers 202 and repeats replay it', async () => {
      const server = await startTestServer('postgres');
      const blocker = new pg.Client({ connectionString: server.database.url });
      await blocker.connect();
      try {
        await server.createEndpoint({ slug: 'orders', name: 'Orders', schema: ordersSchema });
        const { key } = await server.createKey({ name: 'i', environment: 'test' });
        const send = () =>
          server.request('POST', '/api/v1/data/orders', {
            key,
            json: order,
            headers: { 'idempotency-key': 'held' },
          });
        // Reads of idempotency_keys go on; the first request's insert into it waits.
        await blocker.query('BEGIN');
        await blocker.query('LOCK TABLE idempotency_keys IN EXCLUSIVE MODE');
        const first = send();
        const waiting = await until(
          async () =>
            (
              await blocker.query(
                "SELECT count(*)::int AS n FROM pg_locks WHERE relation = 'idempotency_keys'::regclass AND NOT granted",
              )
            ).rows[0].n as number,
          (n) => n > 0,
        );
        assert.equal(waiting, 1, 'the first request is waiting to store its key');
        const duplicate = await Promise.race([
          send(),
          new Promise<undefined>((resolve) => setTimeout(resolve, 10_000, undefined)),
        ]);
        assert.ok(duplicate, 'the duplicate was not answered while the first was in flight');
        assertEnvelope(duplicate, 409, 'idempotency_key_in_flight');
        assert.equal(duplicate.headers.get('retry-after'), '1');
        await blocker.query('COMMIT');
        const original = await first;
        assert.equal(original.status, 202, original.text);
        const replay = await send();
        assert.equal(replay.status, 202);
        assert.equal(replay.body.id, original.body.id);
        assert.equal(replay.headers.get('idempotent-replayed'), 'true');
        const rows = await server.services.database.db.selectFrom('records').selectAll().execute();
        assert.equal(rows.length, 1);
      } finally {
        await blocker.query('ROLLBACK').catch(() => {});
        await blocker.end();
        await server.close();
      }
    });
  });
}
