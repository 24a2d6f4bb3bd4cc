import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { databaseKinds } from './helpers/database.ts';
import { type Receiver, startReceiver } from './helpers/receiver.ts';
import { startTestServer, type TestServer } from './helpers/server.ts';
import { until } from './helpers/until.ts';

for (const kind of databaseKinds) {
  describe(`a subscription the worker turns off shows when (${kind})`, () => {
    let server: TestServer;
    let receiver: Receiver;
    let key: string;

    before(async () => {
      server = await startTestServer(kind, { GATEHOUSE_WEBHOOK_ALLOW_NETS: '127.0.0.0/8' }, { worker: true });
      receiver = await startReceiver();
      await server.createEndpoint({ slug: 'orders', name: 'Orders', schema: { type: 'object' } });
      key = (await server.createKey({ name: 'k', environment: 'test' })).key;
    });
    after(async () => {
      await server.close();
      await receiver.close();
    });

    test('disabled by a 410: updated_at moves to the moment it was turned off', async () => {
      receiver.respond = () => ({ status: 410 });
      const made = await server.admin('POST', '/admin/v1/endpoints/orders/webhooks', {
        url: receiver.url,
        environment: 'test',
      });
      assert.equal(made.status, 201, made.text);
      const { id, updated_at: createdUpdatedAt } = made.body.data as { id: string; updated_at: string };
      await new Promise((resolve) => setTimeout(resolve, 20));
      await server.request('POST', '/api/v1/data/orders', { key, json: { a: 1 } });
      await receiver.waitFor(1);
      const shown = (
        await until(
          () => server.admin('GET', `/admin/v1/webhooks/${id}`),
          (res) => res.body.data.enabled === false,
        )
      ).body.data;
      assert.equal(shown.enabled, false);
      assert.equal(shown.disabled_reason, 'The receiver answered 410 Gone');
      // Before, the row changed (enabled, disabled_reason, failing_since) but kept its old updated_at.
      assert.ok(
        shown.updated_at > createdUpdatedAt,
        `updated_at ${shown.updated_at} should be after ${createdUpdatedAt}`,
      );
      assert.ok(shown.updated_at >= shown.failing_since);
      // Not before the attempt that turned it off.
      const [delivery] = (await server.admin('GET', '/admin/v1/deliveries?status=failed')).body.data;
      assert.equal(delivery.last_status_code, 410);
      assert.ok(
        shown.updated_at >= delivery.attempts[0].attempted_at,
        `${shown.updated_at} ${JSON.stringify(delivery.attempts)}`,
      );
    });
  });
}
