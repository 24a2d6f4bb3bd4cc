import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import pg from 'pg';
import { databaseKinds } from './helpers/database.ts';
import { type Receiver, startReceiver } from './helpers/receiver.ts';
import { startTestServer, type TestServer } from './helpers/server.ts';
import { until } from './helpers/until.ts';

/**
 * On PostgreSQL, recording an attempt and turning its subscription off lock the same two rows
 * (the subscription and the delivery); taken in opposite orders they deadlock, and PostgreSQL
 * aborts one of them. A trigger that sleeps holds the owner's change open after it has locked the
 * subscription, while the attempt's outcome comes in; the change goes on to the delivery only
 * after the worker's transaction has waited long enough (PostgreSQL's deadlock_timeout, 1 s) for
 * the deadlock to fall on the owner's change: a 500 instead of the change.
 */
describe('recording an attempt while its subscription is turned off (PostgreSQL)', {
  skip: !databaseKinds.includes('postgres'),
}, () => {
  let server: TestServer;
  let receiver: Receiver;

  before(async () => {
    server = await startTestServer(
      'postgres',
      { GATEHOUSE_WEBHOOK_ALLOW_NETS: '127.0.0.0/8' },
      { worker: true },
    );
    receiver = await startReceiver();
    const client = new pg.Client({ connectionString: server.database.url });
    await client.connect();
    try {
      await client.query(`create function slow_disable() returns trigger language plpgsql as $$
        begin perform pg_sleep(3); return new; end $$`);
      await client.query(`create trigger slow_disable after update on webhook_subscriptions for each row
        when (old.enabled = 1 and new.enabled = 0) execute function slow_disable()`);
    } finally {
      await client.end();
    }
  });
  after(async () => {
    await server.close();
    await receiver.close();
  });

  test('neither deadlocks: the change is made and the attempt is recorded', async () => {
    await server.createEndpoint({
      slug: 'orders',
      name: 'Orders',
      schema: { type: 'object' },
      retry: { max_retries: 2, interval_seconds: 30 },
    });
    const { key } = await server.createKey({ name: 'partner', environment: 'test' });
    const sub = await server.admin('POST', '/admin/v1/endpoints/orders/webhooks', {
      url: receiver.url,
      environment: 'test',
    });
    assert.equal(sub.status, 201, sub.text);
    const id = sub.body.data.id as string;
    // The receiver holds the attempt 1.5 s and refuses it; meanwhile the owner turns the
    // subscription off (its transaction sleeps 3 s in the trigger, holding the subscription).
    receiver.respond = () => ({ status: 503, delayMs: 1500 });
    assert.equal((await server.request('POST', '/api/v1/data/orders', { key, json: { v: 1 } })).status, 202);
    await receiver.waitFor(1);
    const off = await server.admin('PATCH', `/admin/v1/webhooks/${id}`, { enabled: false });
    assert.equal(off.status, 200, off.text);
    const deliveries = await until(
      async () => (await server.admin('GET', '/admin/v1/deliveries')).body.data,
      (rows: Array<{ status: string; last_status_code: number | null }>) => rows[0]?.last_status_code === 503,
      6000,
    );
    assert.deepEqual(
      deliveries.map((d: { status: string; last_status_code: number | null }) => [
        d.status,
        d.last_status_code,
      ]),
      [['cancelled', 503]],
    );
    assert.equal(receiver.received.length, 1);
  });
});
