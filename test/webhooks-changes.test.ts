import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { verifyWebhook } from '../packages/client/src/index.ts';
import { type Receiver, startReceiver } from './helpers/receiver.ts';
import { startTestServer, type TestServer } from './helpers/server.ts';
import { until } from './helpers/until.ts';

/**
 * A subscription changed while its deliveries wait (a retry due, or a claimed delivery held for a
 * slot at its origin), and the worker's timing of retries and redeliveries: from a review of
 * webhooks as a partner and an owner see them.
 */
const ALLOW = { GATEHOUSE_WEBHOOK_ALLOW_NETS: '127.0.0.0/8' };
const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));
const recordValue = (body: string) =>
  (JSON.parse(body) as { data: { record: { data: { v: string } } } }).data.record.data.v;

async function setUp(server: TestServer, retry: { max_retries: number; interval_seconds: number }) {
  await server.createEndpoint({ slug: 'orders', name: 'Orders', schema: { type: 'object' }, retry });
  const { key } = await server.createKey({ name: 'partner', environment: 'test' });
  return (v: string) => server.request('POST', '/api/v1/data/orders', { key, json: { v } });
}

async function subscribe(server: TestServer, url: string): Promise<string> {
  const res = await server.admin('POST', '/admin/v1/endpoints/orders/webhooks', { url, environment: 'test' });
  assert.equal(res.status, 201, res.text);
  return res.body.data.id as string;
}

/**
 * A server with its webhook worker (and `env`) and two receivers, closed after `run` whatever it
 * does.
 */
async function withWorker(
  env: Record<string, string>,
  run: (server: TestServer, receiver: Receiver, other: Receiver) => Promise<void>,
): Promise<void> {
  const server = await startTestServer('sqlite', { ...ALLOW, ...env }, { worker: true });
  const receiver = await startReceiver();
  const other = await startReceiver();
  try {
    await run(server, receiver, other);
  } finally {
    await server.close();
    await receiver.close();
    await other.close();
  }
}

describe('subscriptions turned off, or failing', () => {
  let server: TestServer;
  let receiver: Receiver;
  let write: (v: string) => Promise<unknown>;
  before(async () => {
    server = await startTestServer('sqlite', ALLOW, { worker: true });
    receiver = await startReceiver();
    write = await setUp(server, { max_retries: 2, interval_seconds: 2 });
  });
  after(async () => {
    await server.close();
    await receiver.close();
  });

  test('turning a subscription off cancels its waiting retry; turning it on again does not send it', async () => {
    const id = await subscribe(server, receiver.url);
    receiver.respond = () => ({ status: 500 });
    const sent = receiver.received.length;
    await write('off-and-on');
    await receiver.waitFor(sent + 1);
    const off = await server.admin('PATCH', `/admin/v1/webhooks/${id}`, { enabled: false });
    assert.equal(off.status, 200, off.text);
    const list = await server.admin('GET', '/admin/v1/deliveries');
    const ours = list.body.data.filter((d: { subscription_id: string }) => d.subscription_id === id);
    assert.deepEqual(
      ours.map((d: { status: string; last_error: string }) => [d.status, d.last_error]),
      [['cancelled', 'subscription disabled or deleted']],
    );
    assert.equal((await server.admin('PATCH', `/admin/v1/webhooks/${id}`, { enabled: true })).status, 200);
    receiver.respond = () => ({ status: 200 });
    await sleep(3000); // past the retry's due time
    assert.equal(receiver.received.length, sent + 1, 'the cancelled retry was sent');
    await server.admin('DELETE', `/admin/v1/webhooks/${id}`);
  });

  test('an attempt in flight when the subscription is turned off, and taken by the receiver, is logged as succeeded', async () => {
    const id = await subscribe(server, receiver.url);
    receiver.respond = () => ({ status: 200, delayMs: 800 });
    const sent = receiver.received.length;
    await write('in-flight');
    await receiver.waitFor(sent + 1);
    assert.equal((await server.admin('PATCH', `/admin/v1/webhooks/${id}`, { enabled: false })).status, 200);
    const ours = async () =>
      (await server.admin('GET', '/admin/v1/deliveries')).body.data.filter(
        (d: { subscription_id: string }) => d.subscription_id === id,
      );
    const logged = await until(ours, (rows) => rows[0]?.status === 'succeeded', 5000);
    assert.deepEqual(
      logged.map((d: { status: string; last_status_code: number }) => [d.status, d.last_status_code]),
      [['succeeded', 200]],
    );
    await server.admin('DELETE', `/admin/v1/webhooks/${id}`);
  });

  test('an attempt in flight when the subscription is turned off, and refused by the receiver, stays cancelled and shows the answer', async () => {
    const id = await subscribe(server, receiver.url);
    receiver.respond = () => ({ status: 503, delayMs: 800 });
    const sent = receiver.received.length;
    await write('in-flight-refused');
    await receiver.waitFor(sent + 1);
    assert.equal((await server.admin('PATCH', `/admin/v1/webhooks/${id}`, { enabled: false })).status, 200);
    const ours = async () =>
      (await server.admin('GET', '/admin/v1/deliveries')).body.data.filter(
        (d: { subscription_id: string }) => d.subscription_id === id,
      );
    const logged = await until(ours, (rows) => rows[0]?.last_status_code !== null, 5000);
    assert.deepEqual(
      logged.map((d: { status: string; last_status_code: number; last_error: string }) => [
        d.status,
        d.last_status_code,
        d.last_error,
      ]),
      [['cancelled', 503, 'subscription disabled or deleted']],
    );
    await server.admin('DELETE', `/admin/v1/webhooks/${id}`);
  });

  test('a late failed attempt does not overwrite the answer of a success another worker recorded meanwhile', async () => {
    const id = await subscribe(server, receiver.url);
    receiver.respond = () => ({ status: 503, delayMs: 800 });
    const sent = receiver.received.length;
    await write('late-failure');
    await receiver.waitFor(sent + 1);
    // While this attempt is in flight, another worker (its claim's lease run out) delivers it.
    await server.services.database.db
      .updateTable('webhook_deliveries')
      .set({ status: 'succeeded', last_status_code: 200, last_error: null })
      .where('subscription_id', '=', id)
      .execute();
    const attempts = async () =>
      (await server.admin('GET', '/admin/v1/deliveries')).body.data.filter(
        (d: { subscription_id: string }) => d.subscription_id === id,
      );
    // The late 503 is logged as an attempt, and the delivery keeps the success's answer.
    const [delivery] = await attempts();
    const detail = await until(
      async () => (await server.admin('GET', `/admin/v1/deliveries/${delivery.id}`)).body.data,
      (d) => (d.attempts ?? []).some((a: { status_code: number }) => a.status_code === 503),
      5000,
    );
    assert.deepEqual([detail.status, detail.last_status_code], ['succeeded', 200]);
    await server.admin('DELETE', `/admin/v1/webhooks/${id}`);
  });

  test('a failure recorded after a success does not bring back the old failing_since and disable', async () => {
    const id = await subscribe(server, receiver.url);
    // Failing for 200 h (over the 120 h default) when both deliveries are claimed.
    const since = new Date(Date.now() - 200 * 3_600_000).toISOString();
    await server.services.database.db
      .updateTable('webhook_subscriptions')
      .set({ failing_since: since })
      .where('id', '=', id)
      .execute();
    receiver.respond = (received) =>
      recordValue(received.body) === 'slow-fail' ? { status: 500, delayMs: 1000 } : { status: 200 };
    const sent = receiver.received.length;
    await write('slow-fail');
    await write('fast-ok');
    const got = await until(
      async () => (await server.admin('GET', `/admin/v1/webhooks/${id}`)).body.data,
      (data) => data.failing_since !== since && data.failing_since !== null,
      5000,
    );
    assert.equal(receiver.received.length, sent + 2);
    // The success cleared the 200 h; the failure after it starts a new span, from now.
    assert.equal(got.enabled, true, `disabled: ${got.disabled_reason}`);
    assert.ok(Date.parse(got.failing_since) > Date.now() - 60_000, got.failing_since);
    await server.admin('DELETE', `/admin/v1/webhooks/${id}`);
  });
});

describe('when retries and redeliveries go out', () => {
  test('a retry goes interval_seconds after the failure, and a redelivery at once, not at the next poll', async () => {
    // A poll far away: only the worker's own timer can send them on time.
    await withWorker(
      { GATEHOUSE_WEBHOOK_POLL_MS: '60000', GATEHOUSE_WEBHOOK_TIMEOUT_MS: '3000' },
      async (server, receiver) => {
        const write = await setUp(server, { max_retries: 1, interval_seconds: 1 });
        await subscribe(server, receiver.url);
        receiver.respond = () => ({ status: 500 });
        await write('retried');
        const [first, second] = await receiver.waitFor(2, 8000);
        const gap = (second?.at ?? 0) - (first?.at ?? 0);
        // Before, the retry waited for the claim's lease (2 x timeout + 5 s = 11 s).
        assert.ok(gap >= 1000 && gap < 3000, `the retry came ${gap} ms after the first attempt`);
        const failed = await until(
          async () => (await server.admin('GET', '/admin/v1/deliveries')).body.data,
          (data) => data[0]?.status === 'failed',
        );
        receiver.respond = () => ({ status: 200 });
        const asked = Date.now();
        const again = await server.admin('POST', `/admin/v1/deliveries/${failed[0].id}/redeliver`);
        assert.equal(again.status, 202, again.text);
        const [, , third] = await receiver.waitFor(3, 5000);
        assert.ok(
          (third?.at ?? 0) - asked < 2000,
          `the redelivery came ${(third?.at ?? 0) - asked} ms after it was asked`,
        );
      },
    );
  });
});

describe('a retry with a later delivery about the same record waiting behind it', () => {
  test('still goes out interval_seconds after the failure, whatever else is written meanwhile', async () => {
    await withWorker(
      { GATEHOUSE_WEBHOOK_POLL_MS: '60000', GATEHOUSE_WEBHOOK_TIMEOUT_MS: '3000' },
      async (server, receiver) => {
        const write = await setUp(server, { max_retries: 1, interval_seconds: 2 });
        await server.createEndpoint({ slug: 'other', name: 'Other', schema: { type: 'object' } });
        const { key } = await server.createKey({ name: 'writer', environment: 'test' });
        await subscribe(server, receiver.url);
        receiver.respond = (_received, index) => ({ status: index === 0 ? 500 : 200 });
        const created = (await write('first')) as { body: { id: string } };
        await receiver.waitFor(1);
        // The update's delivery is due now but waits for the create's retry; then any write
        // makes the worker read the next due time again.
        const replaced = await server.request('PUT', `/api/v1/data/orders/${created.body.id}`, {
          key,
          json: { v: 'second' },
        });
        assert.equal(replaced.status, 202, replaced.text);
        await sleep(200);
        await server.request('POST', '/api/v1/data/other', { key, json: { v: 'elsewhere' } });
        const [first, retry] = await receiver.waitFor(2, 8000);
        const gap = (retry?.at ?? 0) - (first?.at ?? 0);
        assert.ok(gap >= 2000 && gap < 4000, `the retry came ${gap} ms after the first attempt`);
        await receiver.waitFor(3, 5000);
        assert.deepEqual(
          receiver.received.map((r) => [JSON.parse(r.body).type, recordValue(r.body)]),
          [
            ['record.created', 'first'],
            ['record.created', 'first'],
            ['record.updated', 'second'],
          ],
        );
      },
    );
  });
});

describe('a delivery held for a slot at its origin', () => {
  test('goes to the URL and with the secrets the subscription has when it is sent', async () => {
    await withWorker(
      { GATEHOUSE_WEBHOOK_PER_ORIGIN: '1', GATEHOUSE_WEBHOOK_TIMEOUT_MS: '5000' },
      async (server, before, moved) => {
        const write = await setUp(server, { max_retries: 0, interval_seconds: 1 });
        const id = await subscribe(server, before.url);
        before.respond = () => ({ status: 200, delayMs: 1500 });
        await write('first');
        await write('held');
        // 'first' is in flight at the old URL; 'held' is claimed and waits for the origin's slot.
        await before.waitFor(1);
        await sleep(300);
        const rotated = await server.admin('POST', `/admin/v1/webhooks/${id}/rotate-secret`);
        assert.equal(rotated.status, 200, rotated.text);
        const changed = await server.admin('PATCH', `/admin/v1/webhooks/${id}`, { url: moved.url });
        assert.equal(changed.status, 200, changed.text);
        const [held] = await moved.waitFor(1, 8000);
        assert.equal(recordValue(held?.body ?? ''), 'held');
        assert.deepEqual(
          before.received.map((r) => recordValue(r.body)),
          ['first'],
        );
        // Signed with the new secret too (the old one keeps signing beside it).
        const secret = rotated.body.data.secret as string;
        const event = verifyWebhook(
          held?.body ?? '',
          new Headers(held?.headers as Record<string, string>),
          secret,
        );
        assert.equal(event.type, 'record.created');
      },
    );
  });
});
