import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { Webhook } from 'standardwebhooks';
import { databaseKinds } from './helpers/database.ts';
import { type Receiver, startReceiver } from './helpers/receiver.ts';
import { startTestServer, type TestServer } from './helpers/server.ts';
import { until } from './helpers/until.ts';

const LOOPBACK = { GATEHOUSE_WEBHOOK_ALLOW_NETS: '127.0.0.0/8' };

for (const kind of databaseKinds) {
  describe(`webhook inputs refused, nothing changed (${kind})`, () => {
    let server: TestServer;
    let key: string;
    let r: Receiver;

    before(async () => {
      server = await startTestServer(kind, LOOPBACK, { worker: true });
      await server.createEndpoint({ slug: 'orders', name: 'Orders', schema: { type: 'object' } });
      key = (await server.createKey({ name: 't', environment: 'test' })).key;
      r = await startReceiver();
    });
    after(async () => {
      await server.close();
      await r.close();
    });

    test('rotate-secret with options (grace_seconds, as keys take) is refused and rotates nothing', async () => {
      const made = await server.admin('POST', '/admin/v1/endpoints/orders/webhooks', {
        url: r.url,
        environment: 'test',
      });
      assert.equal(made.status, 201, made.text);
      const { id, secret } = made.body.data as { id: string; secret: string };

      // Before, the body was ignored: a new secret, and the leaked one kept signing for 24 h.
      const grace = await server.admin('POST', `/admin/v1/webhooks/${id}/rotate-secret`, {
        grace_seconds: 0,
      });
      assert.equal(grace.status, 400, grace.text);
      assert.equal(grace.body.code, 'invalid_request');
      assert.deepEqual(grace.body.details, [
        {
          field: 'grace_seconds',
          error:
            "A subscription's old secret always signs alongside for 24 h; rotate again to end it at once. Nothing was rotated",
        },
      ]);
      const other = await server.admin('POST', `/admin/v1/webhooks/${id}/rotate-secret`, { overlap: 60 });
      assert.equal(other.status, 400, other.text);
      assert.deepEqual(other.body.details, [{ field: 'overlap', error: 'Unknown field' }]);

      const shown = await server.admin('GET', `/admin/v1/webhooks/${id}`);
      assert.equal(shown.body.data.previous_secret_expires_at, null);
      await server.request('POST', '/api/v1/data/orders', { key, json: { v: 1 } });
      const [got] = await r.waitFor(1);
      assert.equal(String(got?.headers['webhook-signature']).split(' ').length, 1);
      new Webhook(secret).verify(got?.body ?? '', got?.headers as Record<string, string>);

      // Without a body, or with an empty one, it rotates as before.
      const rotated = await server.admin('POST', `/admin/v1/webhooks/${id}/rotate-secret`, {});
      assert.equal(rotated.status, 200, rotated.text);
      assert.notEqual(rotated.body.data.secret, secret);
    });

    test('redeliver with options (another url) is refused and sends nothing', async () => {
      // The receiver got the last test's event; its delivery is marked succeeded just after.
      const succeeded = (res: Awaited<ReturnType<typeof server.admin>>) =>
        res.body.data.find((d: { status: string }) => d.status === 'succeeded');
      const before = await until(
        () => server.admin('GET', '/admin/v1/deliveries?limit=100'),
        (res) => succeeded(res) !== undefined,
      );
      const delivered = succeeded(before);
      assert.ok(delivered, before.text);
      const elsewhere = await startReceiver();
      try {
        // Before, the body was ignored: 202, and the event went to the old URL again.
        const res = await server.admin('POST', `/admin/v1/deliveries/${delivered.id}/redeliver`, {
          url: elsewhere.url,
        });
        assert.equal(res.status, 400, res.text);
        assert.equal(res.body.code, 'invalid_request');
        assert.deepEqual(res.body.details, [
          {
            field: 'url',
            error:
              "Redeliver takes no options: it sends the same event to the subscription's current URL (change it with PATCH /admin/v1/webhooks/{id}) or to the callback's. Nothing was sent",
          },
        ]);
        const after = await server.admin('GET', '/admin/v1/deliveries?limit=100');
        assert.equal(after.body.data.length, before.body.data.length);
        const again = await server.admin('POST', `/admin/v1/deliveries/${delivered.id}/redeliver`, {});
        assert.equal(again.status, 202, again.text);
        assert.equal(elsewhere.received.length, 0);
      } finally {
        await elsewhere.close();
      }
    });

    test('the delivery log refuses an unknown event_type instead of answering an empty page', async () => {
      const res = await server.admin('GET', '/admin/v1/deliveries?event_type=record.create');
      assert.equal(res.status, 400, res.text);
      assert.equal(res.body.code, 'invalid_request');
      assert.deepEqual(res.body.details, [
        {
          field: 'event_type',
          error: 'Must be record.created, record.updated, record.deleted or request.failed',
        },
      ]);
      const ok = await server.admin('GET', '/admin/v1/deliveries?event_type=record.created');
      assert.equal(ok.status, 200, ok.text);
      assert.ok(ok.body.data.length >= 1);
    });
  });
}
