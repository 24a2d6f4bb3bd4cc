import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { type Receiver, startReceiver } from './helpers/receiver.ts';
import { ordersSchema, startDeliveringServer, type TestServer } from './helpers/server.ts';
import { until } from './helpers/until.ts';

/**
 * What PRODUCT.md promises without being asked: an endpoint's defaults (100 KiB bodies, up to 3
 * retries 60 s apart) and a key roll that keeps the old secret working for a grace period.
 */
describe('contract defaults', () => {
  let server: TestServer;
  let receiver: Receiver;

  before(async () => {
    server = await startDeliveringServer();
    receiver = await startReceiver();
  });
  after(async () => {
    await server.close();
    await receiver.close();
  });

  test('an endpoint created with slug, name and schema only takes 102400-byte bodies and 3 retries 60 s apart', async () => {
    const created = await server.admin('POST', '/admin/v1/endpoints', {
      slug: 'orders',
      name: 'Orders',
      schema: ordersSchema,
    });
    assert.equal(created.status, 201, created.text);
    const endpoint = created.body.data;
    assert.equal(endpoint.max_body_bytes, 102_400);
    assert.deepEqual(endpoint.retry, { max_retries: 3, interval_seconds: 60 });
    assert.equal(endpoint.active, true);
    assert.equal(endpoint.expires_at, null);

    const { key } = await server.createKey({ name: 'partner', environment: 'test' });
    // A body of exactly 102400 bytes is taken, one byte more is 413.
    const sized = (bytes: number) => {
      const base = JSON.stringify({ order_id: '', amount: 1 });
      return JSON.stringify({ order_id: 'x'.repeat(bytes - base.length), amount: 1 });
    };
    const write = (raw: string, headers: Record<string, string> = {}) =>
      server.request('POST', '/api/v1/data/orders', {
        key,
        raw,
        headers: { 'content-type': 'application/json', ...headers },
      });
    assert.equal(Buffer.byteLength(sized(102_400)), 102_400);
    assert.equal((await write(sized(102_400))).status, 202);
    const over = await write(sized(102_401));
    assert.equal(over.status, 413, over.text);
    assert.equal(over.body.code, 'payload_too_large');

    // A callback that fails is tried again 60 s later, 4 attempts in all.
    receiver.respond = () => ({ status: 500 });
    const failing = await write(JSON.stringify({ order_id: 'ORD-1', amount: 1 }), {
      'x-webhook-callback': receiver.url,
    });
    assert.equal(failing.status, 202, failing.text);
    const delivery = await until(
      async () =>
        (await server.admin('GET', `/admin/v1/deliveries?record_id=${failing.body.id}`)).body.data[0],
      (d) => d?.attempts.length === 1,
    );
    assert.equal(delivery.status, 'pending');
    assert.equal(delivery.attempts[0].status_code, 500);
    assert.equal(delivery.max_attempts, 4);
    // Scheduled when the attempt was recorded (updated_at), the interval later: 60 s, not 30 or 120.
    const wait = Date.parse(delivery.next_attempt_at) - Date.parse(delivery.updated_at);
    assert.ok(wait >= 60_000 && wait < 120_000, `next attempt ${wait} ms after the first`);
  });

  test('a rolled key: the new secret is shown once, the old one works for 24 h by default, or for the grace asked', async () => {
    const { id, key: first } = await server.createKey({ name: 'rolled', environment: 'test' });
    const status = async (secret: string) =>
      (await server.request('GET', '/api/v1/account', { key: secret })).status;

    const rolled = await server.admin('POST', `/admin/v1/keys/${id}/roll`, {});
    assert.equal(rolled.status, 200, rolled.text);
    const second: string = rolled.body.data.key;
    assert.match(second, /^gk_test_[0-9A-Za-z]+$/);
    assert.notEqual(second, first);
    const graceMs = Date.parse(rolled.body.data.previous_secret_expires_at) - Date.now();
    assert.ok(graceMs > 86_400_000 - 60_000 && graceMs <= 86_400_000, `grace of ${graceMs} ms`);
    assert.equal(await status(first), 200, 'the old secret works during the grace');
    assert.equal(await status(second), 200);
    const listed = await server.admin('GET', `/admin/v1/keys/${id}`);
    assert.equal(listed.body.data.key, undefined, 'the secret is shown only by the roll');
    assert.equal(listed.text.includes(second), false);

    // A grace of 1 s: the secret before ends with it; the newest one goes on.
    const again = await server.admin('POST', `/admin/v1/keys/${id}/roll`, { grace_seconds: 1 });
    const third: string = again.body.data.key;
    assert.equal(await status(second), 200);
    const refused = await until(
      () => server.request('GET', '/api/v1/account', { key: second }),
      (res) => res.status === 401,
    );
    assert.equal(refused.status, 401, 'the old secret ends with its grace');
    assert.equal(refused.body.code, 'invalid_api_key');
    assert.equal(await status(first), 401, 'the first secret ended with the second roll too');
    assert.equal(await status(third), 200);

    assert.equal((await server.admin('POST', `/admin/v1/keys/${id}/revoke`)).status, 200);
    const afterRevoke = await server.admin('POST', `/admin/v1/keys/${id}/roll`, {});
    assert.equal(afterRevoke.status, 409, afterRevoke.text);
  });
});
