import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { databaseKinds } from './helpers/database.ts';
import {
  type ApiResponse,
  countRows,
  ordersSchema,
  startTestServer,
  type TestServer,
} from './helpers/server.ts';
import { awayFromMinuteEdge } from './helpers/until.ts';

const order = { order_id: 'ORD-1', amount: 100 };

function assertEnvelope(res: ApiResponse, status: number, code: string) {
  assert.equal(res.status, status, res.text);
  assert.equal(res.body.success, false);
  assert.equal(res.body.code, code);
  assert.match(String(res.body.request_id), /^req_/);
  assert.equal(res.headers.get('request-id'), res.body.request_id);
}

function nextMinute(now = Date.now()): number {
  return (Math.floor(now / 60_000) + 1) * 60;
}

for (const kind of databaseKinds) {
  describe(`rate limits and quotas on ${kind} (in memory)`, () => {
    let server: TestServer;

    const count = () => countRows(server, 'records');

    before(async () => {
      server = await startTestServer(kind);
      await server.createEndpoint({ slug: 'orders', name: 'Orders', schema: ordersSchema });
    });
    after(() => server.close());

    test('every authenticated response carries X-RateLimit-* for the tightest window and the IETF fields', async () => {
      await awayFromMinuteEdge(8);
      const { key } = await server.createKey({
        name: 'h',
        environment: 'test',
        limits: { per_minute: 5, per_day: 100, per_month: 1000 },
      });
      const res = await server.request('POST', '/api/v1/data/orders', { key, json: order });
      assert.equal(res.status, 202);
      assert.equal(res.headers.get('x-ratelimit-limit'), '5');
      assert.equal(res.headers.get('x-ratelimit-remaining'), '4');
      assert.equal(res.headers.get('x-ratelimit-reset'), String(nextMinute()));
      const now = new Date();
      const monthSeconds =
        (Date.UTC(now.getUTCFullYear(), now.getUTCMonth() + 1, 1) -
          Date.UTC(now.getUTCFullYear(), now.getUTCMonth(), 1)) /
        1000;
      assert.equal(
        res.headers.get('ratelimit-policy'),
        `"minute";q=5;w=60, "day";q=100;w=86400, "month";q=1000;w=${monthSeconds}`,
      );
      assert.match(
        res.headers.get('ratelimit') ?? '',
        /^"minute";r=4;t=\d{1,2}, "day";r=99;t=\d+, "month";r=999;t=\d+$/,
      );
      // Errors too: a 404 from the same key carries them, and it counted.
      const missing = await server.request('GET', '/api/v1/data/orders/rec_0000000000000000000000', { key });
      assertEnvelope(missing, 404, 'record_not_found');
      assert.equal(missing.headers.get('x-ratelimit-remaining'), '3');
      const invalid = await server.request('POST', '/api/v1/data/orders', { key, json: { amount: -1 } });
      assertEnvelope(invalid, 400, 'validation_failed');
      assert.equal(invalid.headers.get('x-ratelimit-remaining'), '2');
    });

    test('windows with as few requests left: X-RateLimit-Reset is the later reset, as on the 429 that follows', async () => {
      const { key } = await server.createKey({
        name: 'tie',
        environment: 'test',
        limits: { per_minute: 2, per_day: 2 },
      });
      const now = new Date();
      const nextDay = String(Date.UTC(now.getUTCFullYear(), now.getUTCMonth(), now.getUTCDate() + 1) / 1000);
      const first = await server.request('GET', '/api/v1/data/orders', { key });
      assert.equal(first.headers.get('x-ratelimit-remaining'), '1');
      assert.equal(first.headers.get('x-ratelimit-reset'), nextDay);
      // The last request allowed today: a client that waits for X-RateLimit-Reset must not be refused then.
      const last = await server.request('GET', '/api/v1/data/orders', { key });
      assert.equal(last.status, 200);
      assert.equal(last.headers.get('x-ratelimit-remaining'), '0');
      assert.equal(last.headers.get('x-ratelimit-reset'), nextDay);
      const refused = await server.request('GET', '/api/v1/data/orders', { key });
      assertEnvelope(refused, 429, 'rate_limited');
      assert.equal(refused.headers.get('x-ratelimit-reset'), nextDay);
    });

    test('a key without limits is unlimited and gets no limit headers; unauthenticated responses get none', async () => {
      const { key } = await server.createKey({ name: 'free', environment: 'test' });
      const res = await server.request('GET', '/api/v1/data/orders', { key });
      assert.equal(res.status, 200);
      assert.equal(res.headers.get('x-ratelimit-limit'), null);
      assert.equal(res.headers.get('ratelimit-policy'), null);
      const anonymous = await server.request('GET', '/api/v1/data/orders');
      assertEnvelope(anonymous, 401, 'missing_api_key');
      assert.equal(anonymous.headers.get('x-ratelimit-limit'), null);
    });

    test('the minute limit answers 429 rate_limited with Retry-After, naming the window, and writes nothing', async () => {
      await awayFromMinuteEdge(8);
      const { key } = await server.createKey({ name: 'm', environment: 'test', limits: { per_minute: 3 } });
      for (let i = 0; i < 3; i++) {
        assert.equal((await server.request('POST', '/api/v1/data/orders', { key, json: order })).status, 202);
      }
      const before = await count();
      const res = await server.request('POST', '/api/v1/data/orders', { key, json: order });
      assertEnvelope(res, 429, 'rate_limited');
      assert.deepEqual(
        res.body.details.map((d: { field: string }) => d.field),
        ['per_minute'],
      );
      const retryAfter = Number(res.headers.get('retry-after'));
      assert.ok(retryAfter >= 1 && retryAfter <= 60, String(retryAfter));
      assert.equal(res.headers.get('x-ratelimit-limit'), '3');
      assert.equal(res.headers.get('x-ratelimit-remaining'), '0');
      assert.equal(res.headers.get('x-ratelimit-reset'), String(nextMinute()));
      assert.equal(await count(), before);
      // Reads are refused too: the limit is per key, not per operation.
      assertEnvelope(await server.request('GET', '/api/v1/data/orders', { key }), 429, 'rate_limited');
    });

    test('the monthly quota answers 429 quota_exceeded until the 1st of next month, 00:00 UTC', async () => {
      const { key } = await server.createKey({ name: 'q', environment: 'test', limits: { per_month: 2 } });
      await server.request('GET', '/api/v1/data/orders', { key });
      await server.request('GET', '/api/v1/data/orders', { key });
      const res = await server.request('POST', '/api/v1/data/orders', { key, json: order });
      assertEnvelope(res, 429, 'quota_exceeded');
      assert.equal(res.body.details[0].field, 'per_month');
      const now = new Date();
      const monthEnd = Date.UTC(now.getUTCFullYear(), now.getUTCMonth() + 1, 1);
      assert.equal(res.headers.get('x-ratelimit-reset'), String(monthEnd / 1000));
      const retryAfter = Number(res.headers.get('retry-after'));
      assert.ok(Math.abs(retryAfter - (monthEnd - Date.now()) / 1000) < 5, String(retryAfter));
    });

    test('a limit of 1 is said in the singular: "1 request", not "1 requests"', async () => {
      const cases = [
        ['per_day', 'rate_limited', 'Rate limit of 1 request per day exceeded', 'day'],
        ['per_month', 'quota_exceeded', 'Monthly quota of 1 request exceeded', 'month'],
      ] as const;
      for (const [window, code, message, unit] of cases) {
        const { key } = await server.createKey({
          name: window,
          environment: 'test',
          limits: { [window]: 1 },
        });
        await server.request('GET', '/api/v1/data/orders', { key });
        const refused = await server.request('GET', '/api/v1/data/orders', { key });
        assertEnvelope(refused, 429, code);
        assert.equal(refused.body.error, message);
        assert.ok(
          refused.body.details[0].error.startsWith(`The limit of 1 request per ${unit} is used up until `),
        );
      }
      const { key: two } = await server.createKey({
        name: 'q2',
        environment: 'test',
        limits: { per_month: 2 },
      });
      for (let i = 0; i < 2; i++) await server.request('GET', '/api/v1/data/orders', { key: two });
      const plural = await server.request('GET', '/api/v1/data/orders', { key: two });
      assert.equal(plural.body.error, 'Monthly quota of 2 requests exceeded');
    });

    test('a request refused by one window is not charged to the others', async () => {
      await awayFromMinuteEdge(8);
      const { id, key } = await server.createKey({
        name: 'n',
        environment: 'test',
        limits: { per_minute: 2, per_day: 5 },
      });
      for (let i = 0; i < 2; i++) await server.request('GET', '/api/v1/data/orders', { key });
      for (let i = 0; i < 4; i++) {
        assertEnvelope(await server.request('GET', '/api/v1/data/orders', { key }), 429, 'rate_limited');
      }
      // Lift the minute limit to the day's (no higher: that is refused): the day window saw 2
      // requests, not 6, so 3 more fit.
      const lifted = await server.admin('PATCH', `/admin/v1/keys/${id}`, { limits: { per_minute: 5 } });
      assert.equal(lifted.status, 200, lifted.text);
      const res = await server.request('GET', '/api/v1/account', { key });
      assert.equal(res.status, 200);
      assert.equal(res.body.data.usage.day.used, 3);
      assert.equal(res.body.data.usage.day.remaining, 2);
      assert.equal(res.body.data.usage.minute.used, 3);
      assert.equal(res.headers.get('x-ratelimit-limit'), '5');
      assert.equal(res.headers.get('x-ratelimit-remaining'), '2');
      for (let i = 0; i < 2; i++)
        assert.equal((await server.request('GET', '/api/v1/data/orders', { key })).status, 200);
      const refused = await server.request('GET', '/api/v1/data/orders', { key });
      assertEnvelope(refused, 429, 'rate_limited');
      assert.equal(refused.body.details[0].field, 'per_day');
    });

    test('limit changes through the management API take effect at once', async () => {
      await awayFromMinuteEdge(8);
      const created = await server.createKey({ name: 'c', environment: 'test', limits: { per_minute: 100 } });
      for (let i = 0; i < 3; i++) await server.request('GET', '/api/v1/data/orders', { key: created.key });
      const lowered = await server.admin('PATCH', `/admin/v1/keys/${created.id}`, {
        limits: { per_minute: 3 },
      });
      assert.equal(lowered.status, 200);
      assertEnvelope(
        await server.request('GET', '/api/v1/data/orders', { key: created.key }),
        429,
        'rate_limited',
      );
      await server.admin('PATCH', `/admin/v1/keys/${created.id}`, { limits: { per_minute: 5 } });
      const res = await server.request('GET', '/api/v1/data/orders', { key: created.key });
      assert.equal(res.status, 200);
      assert.equal(res.headers.get('x-ratelimit-remaining'), '1');
      await server.admin('PATCH', `/admin/v1/keys/${created.id}`, { limits: null });
      const unlimited = await server.request('GET', '/api/v1/data/orders', { key: created.key });
      assert.equal(unlimited.status, 200);
      assert.equal(unlimited.headers.get('x-ratelimit-limit'), null);
    });

    test('the account shows the usage of this minute, day and month', async () => {
      const { key } = await server.createKey({ name: 'a', environment: 'test', limits: { per_day: 50 } });
      await server.request('POST', '/api/v1/data/orders', { key, json: order });
      const res = await server.request('GET', '/api/v1/account', { key });
      const { usage } = res.body.data;
      assert.equal(usage.day.used, 2);
      assert.equal(usage.day.limit, 50);
      assert.equal(usage.day.remaining, 48);
      assert.equal(usage.month.used, 2);
      assert.equal(usage.month.limit, null);
      assert.equal(usage.month.remaining, null);
      assert.match(usage.minute.resets_at, /:00\.000Z$/);
      assert.match(usage.day.resets_at, /T00:00:00\.000Z$/);
      assert.match(usage.month.resets_at, /-01T00:00:00\.000Z$/);
    });
  });

  describe(`installation-wide default limits on ${kind}`, () => {
    let server: TestServer;
    before(async () => {
      server = await startTestServer(kind, {
        GATEHOUSE_DEFAULT_PER_MINUTE: '2',
        GATEHOUSE_DEFAULT_PER_MONTH: '1000',
      });
      await server.createEndpoint({ slug: 'orders', name: 'Orders', schema: ordersSchema });
    });
    after(() => server.close());

    test("apply to keys without their own limits; a key's own limit wins", async () => {
      await awayFromMinuteEdge(8);
      const plain = await server.createKey({ name: 'plain', environment: 'test' });
      const own = await server.createKey({ name: 'own', environment: 'test', limits: { per_minute: 10 } });
      for (let i = 0; i < 2; i++) await server.request('GET', '/api/v1/data/orders', { key: plain.key });
      assertEnvelope(
        await server.request('GET', '/api/v1/data/orders', { key: plain.key }),
        429,
        'rate_limited',
      );
      for (let i = 0; i < 3; i++) {
        const res = await server.request('GET', '/api/v1/data/orders', { key: own.key });
        assert.equal(res.status, 200);
        assert.equal(res.headers.get('x-ratelimit-limit'), '10');
      }
      const res = await server.request('GET', '/api/v1/account', { key: own.key });
      assert.equal(res.body.data.usage.month.limit, 1000);
    });
  });
}
