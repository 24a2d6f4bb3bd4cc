import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { once } from 'node:events';
import { connect } from 'node:net';
import { after, before, describe, test } from 'node:test';
import { promisify } from 'node:util';
import { buildApp, createServices } from '../src/app.ts';
import { loadConfig } from '../src/config.ts';
import { ApiError } from '../src/errors.ts';
import { createTestDatabase, databaseKinds } from './helpers/database.ts';
import { countRows, ordersSchema, startTestServer, type TestServer } from './helpers/server.ts';

const run = promisify(execFile);
const order = { order_id: 'ORD-1', amount: 100 };
const today = () => new Date().toISOString().slice(0, 10);

for (const kind of databaseKinds) {
  describe(`usage metering on ${kind}`, () => {
    let server: TestServer;
    let a: { id: string; key: string };
    let b: { id: string; key: string };

    before(async () => {
      server = await startTestServer(kind);
      await server.createEndpoint({ slug: 'orders', name: 'Orders', schema: ordersSchema });
      await server.createEndpoint({ slug: 'items', name: 'Items', schema: { type: 'object' } });
      a = await server.createKey({ name: 'a', environment: 'test', limits: { per_day: 6 } });
      b = await server.createKey({ name: 'b', environment: 'test' });
      // Key a: 3 creates, 1 invalid body, 1 account read, 1 unknown record: 6 = its daily limit; then 2 refused.
      for (let i = 0; i < 3; i++)
        await server.request('POST', '/api/v1/data/orders', { key: a.key, json: order });
      await server.request('POST', '/api/v1/data/orders', { key: a.key, json: { amount: 'x' } });
      await server.request('GET', '/api/v1/account', { key: a.key });
      await server.request('GET', '/api/v1/data/orders/rec_0000000000000000000000', { key: a.key });
      for (let i = 0; i < 2; i++) await server.request('GET', '/api/v1/data/orders', { key: a.key });
      // Key b: 2 items creates and a list.
      for (let i = 0; i < 2; i++)
        await server.request('POST', '/api/v1/data/items', { key: b.key, json: { x: i } });
      await server.request('GET', '/api/v1/data/items', { key: b.key });
      // Failed authentication belongs to no key.
      await server.request('GET', '/api/v1/data/items', { key: 'gk_test_unknown' });
    });
    after(() => server.close());

    test('counts match the requests sent, per key, endpoint, environment, status and day', async () => {
      const res = await server.admin('GET', '/admin/v1/usage');
      assert.equal(res.status, 200);
      type Row = {
        day: string;
        environment: string;
        key_id: string;
        endpoint: string | null;
        status_class: string;
        status: number | null;
        count: number;
        rate_limited: number;
      };
      const rows = (res.body.data.rows as Row[]).filter((r) => r.key_id === a.id || r.key_id === b.id);
      const seen = Object.fromEntries(
        rows.map((r) => [
          `${r.key_id === a.id ? 'a' : 'b'} ${r.endpoint ?? '-'} ${r.status_class} ${r.status}`,
          [r.count, r.rate_limited],
        ]),
      );
      assert.deepEqual(seen, {
        'a orders 2xx 202': [3, 0],
        // The invalid body and the unknown record: one class, two statuses.
        'a orders 4xx 400': [1, 0],
        'a orders 4xx 404': [1, 0],
        'a - 2xx 200': [1, 0],
        // Refused by the limit before the endpoint was looked at.
        'a - 4xx 429': [2, 2],
        'b items 2xx 202': [2, 0],
        'b items 2xx 200': [1, 0],
      });
      assert.equal(rows.length, 7, 'one row per status');
      for (const r of rows) {
        assert.equal(r.day, today());
        assert.equal(r.environment, 'test');
      }
      assert.equal(res.body.data.totals.count, 11);
      assert.equal(res.body.data.totals.rate_limited, 2);
    });

    test('filters and groups by exact status', async () => {
      const limited = await server.admin('GET', `/admin/v1/usage?key_id=${a.id}&status=429&group_by=status`);
      assert.equal(limited.status, 200, limited.text);
      assert.deepEqual(limited.body.data.rows, [{ status: 429, count: 2, rate_limited: 2 }]);
      const errors = await server.admin(
        'GET',
        `/admin/v1/usage?key_id=${a.id}&status_class=4xx&group_by=endpoint,status`,
      );
      assert.deepEqual(errors.body.data.rows, [
        { endpoint: null, status: 429, count: 2, rate_limited: 2 },
        { endpoint: 'orders', status: 400, count: 1, rate_limited: 0 },
        { endpoint: 'orders', status: 404, count: 1, rate_limited: 0 },
      ]);
      const none = await server.admin('GET', `/admin/v1/usage?key_id=${a.id}&status=500`);
      assert.deepEqual(none.body.data.rows, []);
    });

    test('filters and grouping', async () => {
      const byKey = await server.admin('GET', `/admin/v1/usage?key_id=${a.id}&group_by=key_id`);
      assert.deepEqual(byKey.body.data.rows, [{ key_id: a.id, count: 8, rate_limited: 2 }]);
      const orders = await server.admin(
        'GET',
        '/admin/v1/usage?endpoint=orders&status_class=2xx&group_by=endpoint',
      );
      assert.deepEqual(orders.body.data.rows, [{ endpoint: 'orders', count: 3, rate_limited: 0 }]);
      const live = await server.admin('GET', '/admin/v1/usage?environment=live');
      assert.deepEqual(live.body.data.rows, []);
      const past = await server.admin('GET', '/admin/v1/usage?from=2020-01-01&to=2020-01-31');
      assert.deepEqual(past.body.data.rows, []);
    });

    test('bad filters are 400 with the field named', async () => {
      for (const [query, field] of [
        ['from=yesterday', 'from'],
        ['from=2026-02-01&to=2026-01-01', 'from'],
        ['from=2020-01-01&to=2026-01-01', 'from'],
        ['environment=prod', 'environment'],
        // Blank is no environment: not every environment's counts.
        ['environment=', 'environment'],
        ['environment=LIVE', 'environment'],
        ['status_class=200', 'status_class'],
        ['status=4xx', 'status'],
        ['status=600', 'status'],
        ['status=42', 'status'],
        ['status=4290', 'status'],
        ['group_by=day,color', 'group_by'],
        ['from=2026-02-30&to=2026-03-01', 'from'],
        ['to=2026-04-31', 'to'],
      ]) {
        const res = await server.admin('GET', `/admin/v1/usage?${query}`);
        assert.equal(res.status, 400, query);
        assert.equal(res.body.code, 'invalid_request');
        assert.equal(res.body.details[0].field, field);
      }
      const anonymous = await server.request('GET', '/admin/v1/usage');
      assert.equal(anonymous.status, 401);
    });

    test('a call refused once its endpoint was found (403) counts under that endpoint', async () => {
      const scoped = await server.createKey({ name: 'scoped', environment: 'test', scopes: ['items:read'] });
      const live = await server.createKey({ name: 'live', environment: 'live' });
      // Out of scope; and live, on an endpoint never deployed; and an unknown slug.
      assert.equal((await server.request('GET', '/api/v1/data/orders', { key: scoped.key })).status, 403);
      assert.equal((await server.request('GET', '/api/v1/data/orders', { key: live.key })).status, 403);
      assert.equal((await server.request('GET', '/api/v1/data/nothing', { key: live.key })).status, 404);
      const res = await server.admin('GET', '/admin/v1/usage?group_by=key_id,endpoint,status_class');
      const rows = (res.body.data.rows as Array<{ key_id: string; endpoint: string | null; count: number }>)
        .filter((r) => r.key_id === scoped.id || r.key_id === live.id)
        .map((r) => [r.key_id === scoped.id ? 'scoped' : 'live', r.endpoint, r.count])
        .sort((a, b) => String(a).localeCompare(String(b)));
      assert.deepEqual(rows, [
        ['live', null, 1],
        ['live', 'orders', 1],
        ['scoped', 'orders', 1],
      ]);
    });

    test('the CLI prints the same figures with --json', async () => {
      const { stdout } = await run(
        process.execPath,
        [
          'bin/gatehouse.js',
          'usage',
          '--json',
          '--key',
          b.id,
          '--group-by',
          'endpoint',
          '--url',
          server.url,
          '--token',
          server.token,
        ],
        { env: { ...process.env, GATEHOUSE_CLI_CREDENTIALS: '/nonexistent/creds.json' } },
      );
      const out = JSON.parse(stdout);
      assert.equal(out.success, true);
      assert.deepEqual(out.data.rows, [{ endpoint: 'items', count: 3, rate_limited: 0 }]);
      const table = await run(process.execPath, [
        'bin/gatehouse.js',
        'usage',
        '--key',
        b.id,
        '--group-by',
        'endpoint',
        '--url',
        server.url,
        '--token',
        server.token,
      ]);
      assert.match(table.stdout, /ENDPOINT\s+COUNT\s+RATE_LIMITED\nitems\s+3\s+0/);
    });

    test('the CLI filters by a status class or an exact status, and refuses anything else', async () => {
      const usage = (...args: string[]) =>
        run(process.execPath, [
          'bin/gatehouse.js',
          'usage',
          '--key',
          a.id,
          ...args,
          '--url',
          server.url,
          '--token',
          server.token,
        ]);
      const exact = await usage('--status', '429', '--group-by', 'status');
      assert.match(exact.stdout, /STATUS\s+COUNT\s+RATE_LIMITED\n429\s+2\s+2\n/);
      const byClass = await usage('--status', '4XX', '--group-by', 'status_class,status', '--json');
      assert.deepEqual(JSON.parse(byClass.stdout).data.rows, [
        { status_class: '4xx', status: 400, count: 1, rate_limited: 0 },
        { status_class: '4xx', status: 404, count: 1, rate_limited: 0 },
        { status_class: '4xx', status: 429, count: 2, rate_limited: 2 },
      ]);
      const bad = await usage('--status', 'teapot', '--json').then(
        () => assert.fail('--status teapot was taken'),
        (error: { code: number; stdout: string }) => error,
      );
      assert.equal(bad.code, 1);
      const envelope = JSON.parse(bad.stdout);
      assert.equal(envelope.code, 'invalid_request');
      assert.equal(envelope.details[0].field, 'status');
    });

    test('the CLI changes limits and they apply at once', async () => {
      const c = await server.createKey({ name: 'c', environment: 'test', limits: { per_minute: 100 } });
      await server.request('GET', '/api/v1/data/orders', { key: c.key });
      await run(process.execPath, [
        'bin/gatehouse.js',
        'keys',
        'update',
        c.id,
        '--per-minute',
        '1',
        '--json',
        '--url',
        server.url,
        '--token',
        server.token,
      ]);
      // Two calls: if the CLI's start crossed a minute boundary the first one opens a new minute;
      // the second is over the new limit of 1 either way (the old limit of 100 would allow it).
      await server.request('GET', '/api/v1/data/orders', { key: c.key });
      const res = await server.request('GET', '/api/v1/data/orders', { key: c.key });
      assert.equal(res.status, 429);
      assert.equal(res.body.code, 'rate_limited');
    });
  });

  describe(`a request abandoned mid-body is counted in usage as by the limiter, on ${kind}`, () => {
    for (const redis of [false, true])
      test(`aborted POSTs, on Fastify's path and on the fast path, count alike (499)${redis ? ', limits on Redis' : ''}`, async () => {
        const server = await startTestServer(
          kind,
          redis
            ? {
                REDIS_URL: 'redis://127.0.0.1:6379',
                GATEHOUSE_REDIS_PREFIX: `abandon-${process.pid}-${kind}:`,
              }
            : {},
        );
        try {
          await server.createEndpoint({ slug: 'orders', name: 'Orders', schema: { type: 'object' } });
          const key = await server.createKey({
            name: 'abandon',
            environment: 'test',
            limits: { per_day: 50 },
          });
          const { port } = new URL(server.url);
          const abandon = async (afterMs: number) => {
            const socket = connect(Number(port), '127.0.0.1');
            await once(socket, 'connect');
            socket.write(
              `POST /api/v1/data/orders HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer ${key.key}\r\n` +
                'Content-Type: application/json\r\nContent-Length: 100\r\n\r\n{"a":',
            );
            if (afterMs > 0) await new Promise((resolve) => setTimeout(resolve, afterMs));
            socket.destroy();
            await new Promise((resolve) => setTimeout(resolve, 100));
          };
          // The first request finds the key uncached (Fastify's path); the rest take the fast path.
          for (let i = 0; i < 4; i++) await abandon(100);
          // Hanging up at once: while the limit is checked (on Redis, a round trip), or sooner.
          for (let i = 0; i < 10; i++) await abandon(0);
          const account = await server.request('GET', '/api/v1/account', { key: key.key });
          const limiterUsed = account.body.data.usage.day.used as number;
          assert.ok(limiterUsed >= 5, JSON.stringify(account.body.data.usage));
          await server.services.traffic.usage.flush();
          const usage = await server.admin('GET', `/admin/v1/usage?key_id=${key.id}`);
          assert.equal(usage.body.data.totals.count, limiterUsed, JSON.stringify(usage.body.data.rows));
          // Under the endpoint, or under none when the client left before it was looked at.
          const abandoned = usage.body.data.rows
            .filter((r: { status_class: string }) => r.status_class === '4xx')
            .reduce((sum: number, r: { count: number }) => sum + r.count, 0);
          assert.equal(abandoned, limiterUsed - 1);
          assert.equal(await countRows(server, 'records'), 0, 'nothing was written');
        } finally {
          await server.close();
        }
      });
  });

  describe(`a GET whose client left before its answer is counted in usage as 499, on ${kind}`, () => {
    for (const fastPath of [true, false])
      test(`${fastPath ? 'on the fast path' : "on Fastify's path"}`, async () => {
        const server = await startTestServer(kind, fastPath ? {} : { GATEHOUSE_FAST_PATH: 'false' });
        const reader = server.services.reader;
        const read = reader.get.bind(reader);
        try {
          await server.createEndpoint({ slug: 'orders', name: 'Orders', schema: { type: 'object' } });
          const key = await server.createKey({
            name: 'leaver',
            environment: 'test',
            limits: { per_day: 50 },
          });
          const created = await server.request('POST', '/api/v1/data/orders', {
            key: key.key,
            json: { a: 1 },
          });
          // Reads held for 150 ms: the client is gone before the record (or a failure) comes back.
          let failing = false;
          reader.get = (...args: Parameters<typeof read>) =>
            new Promise<string>((resolve, reject) =>
              setTimeout(() => {
                if (failing) reject(new ApiError('service_unavailable'));
                else Promise.resolve(read(...args)).then(resolve, reject);
              }, 150),
            );
          const { port } = new URL(server.url);
          for (let i = 0; i < 4; i++) {
            failing = i === 3;
            const socket = connect(Number(port), '127.0.0.1');
            await once(socket, 'connect');
            socket.write(
              `GET /api/v1/data/orders/${created.body.id} HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer ${key.key}\r\n\r\n`,
            );
            await new Promise((resolve) => setTimeout(resolve, 30));
            socket.destroy();
            await new Promise((resolve) => setTimeout(resolve, 250));
          }
          reader.get = read;
          await server.services.traffic.usage.flush();
          const usage = await server.admin('GET', `/admin/v1/usage?key_id=${key.id}`);
          const byStatus = Object.fromEntries(
            usage.body.data.rows.map((r: { status: number; count: number }) => [r.status, r.count]),
          );
          assert.deepEqual(byStatus, { 202: 1, 499: 4 }, JSON.stringify(usage.body.data.rows));
        } finally {
          reader.get = read;
          await server.close();
        }
      });
  });

  describe(`a quota survives a restart without Redis, on ${kind}`, () => {
    test('the day and month counters start from the usage table', async () => {
      const database = await createTestDatabase(kind);
      const config = loadConfig({ DATABASE_URL: database.url, LOG_LEVEL: 'silent' });
      try {
        let services = await createServices(config);
        await services.owners.init({ email: 'o@example.com', password: 'correct horse battery' });
        await services.endpoints.create({ slug: 'orders', name: 'Orders', schema: ordersSchema });
        const { key } = await services.keys.create({
          name: 'q',
          environment: 'test',
          limits: { per_month: 3 },
        });
        let app = buildApp(services, { logger: false });
        const get = () =>
          app.inject({
            method: 'GET',
            url: '/api/v1/data/orders',
            headers: { authorization: `Bearer ${key}` },
          });
        assert.equal((await get()).statusCode, 200);
        assert.equal((await get()).statusCode, 200);
        await app.close();
        await services.close();

        services = await createServices(config);
        app = buildApp(services, { logger: false });
        const third = await get();
        assert.equal(third.statusCode, 200);
        assert.equal(third.headers['x-ratelimit-remaining'], '0');
        const fourth = await get();
        assert.equal(fourth.statusCode, 429);
        assert.equal(JSON.parse(fourth.body).code, 'quota_exceeded');
        await app.close();
        await services.close();
      } finally {
        await database.drop();
      }
    });
  });
}
