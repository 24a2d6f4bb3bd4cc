import assert from 'node:assert/strict';
import type { ServerResponse } from 'node:http';
import { after, before, describe, test } from 'node:test';
import { databaseKinds } from './helpers/database.ts';
import { hookReceiver } from './helpers/receiver.ts';
import { startTestServer, type TestServer } from './helpers/server.ts';
import { until } from './helpers/until.ts';

/**
 * Deleting an endpoint takes its webhooks with it: its subscriptions are deleted and its
 * deliveries still to go end as failed (kept in the log), even one in flight at that moment.
 */
for (const kind of databaseKinds) {
  describe(`deleting an endpoint ends its webhooks (${kind})`, () => {
    let server: TestServer;
    let hook: Awaited<ReturnType<typeof hookReceiver>>;
    let url: string;
    let seen = 0;
    // The first delivery is answered 500 at once; later ones are held until released.
    const holding: ServerResponse[] = [];

    before(async () => {
      server = await startTestServer(kind, { GATEHOUSE_WEBHOOK_ALLOW_NETS: '127.0.0.0/8' }, { worker: true });
      hook = await hookReceiver((res) => {
        if (seen++ === 0) res.writeHead(500).end();
        else holding.push(res);
      });
      url = hook.url;
    });
    after(async () => {
      await server.close();
      await hook.close();
    });

    test('subscriptions are deleted; pending and in-flight deliveries end failed, nothing more is sent', async () => {
      await server.createEndpoint({
        slug: 'doomed',
        name: 'Doomed',
        schema: { type: 'object' },
        retry: { max_retries: 3, interval_seconds: 1 },
      });
      const { key } = await server.createKey({ name: 'd', environment: 'test' });
      const sub = await server.admin('POST', '/admin/v1/endpoints/doomed/webhooks', {
        url,
        environment: 'test',
      });
      assert.equal(sub.status, 201, sub.text);
      const failedSub = await server.admin('POST', '/admin/v1/endpoints/doomed/webhooks', {
        url,
        environment: 'test',
        events: ['request.failed'],
      });
      assert.equal(failedSub.status, 201, failedSub.text);
      const deliveries = (recordId: string) =>
        server.admin('GET', `/admin/v1/deliveries?record_id=${recordId}`);

      // One delivery failed once and waits for its retry...
      const first = await server.request('POST', '/api/v1/data/doomed', { key, json: { n: 1 } });
      await until(
        () => deliveries(first.body.id),
        (l) => l.body.data[0]?.attempts.length === 1,
      );
      // ...and two more (subscription and callback) are in flight, held by the receiver.
      const second = await server.request('POST', '/api/v1/data/doomed', {
        key,
        json: { n: 2 },
        headers: { 'x-webhook-callback': url },
      });
      assert.equal(second.status, 202);
      await until(
        async () => seen,
        (n) => n === 3,
      );
      assert.equal(seen, 3);

      const removed = await server.admin('DELETE', '/admin/v1/endpoints/doomed');
      assert.equal(removed.status, 200, removed.text);
      for (const res of holding.splice(0)) res.writeHead(500).end();
      await new Promise((resolve) => setTimeout(resolve, 2_500));
      assert.equal(seen, 3, 'nothing was sent after the endpoint was deleted');

      for (const id of [sub.body.data.id, failedSub.body.data.id]) {
        assert.equal((await server.admin('GET', `/admin/v1/webhooks/${id}`)).status, 404);
      }
      const left = await server.services.database.db
        .selectFrom('webhook_subscriptions')
        .select('id')
        .execute();
      assert.deepEqual(left, []);
      const ended = [
        ...(await deliveries(first.body.id)).body.data,
        ...(await deliveries(second.body.id)).body.data,
      ];
      assert.equal(ended.length, 3);
      for (const d of ended) {
        assert.equal(d.status, 'failed', JSON.stringify(d));
        assert.equal(d.last_error, 'The endpoint was deleted');
        assert.equal(d.attempts.length, 1, 'the log keeps the attempts made');
      }
      const announced = await server.services.database.db
        .selectFrom('webhook_events')
        .select('id')
        .where('type', '=', 'request.failed')
        .execute();
      assert.deepEqual(announced, [], 'no request.failed for a deleted endpoint');
      // None of them can be redelivered, the callback's neither: the endpoint is gone.
      for (const d of ended) {
        const again = await server.admin('POST', `/admin/v1/deliveries/${d.id}/redeliver`);
        assert.equal(again.status, 409, again.text);
        assert.match(again.body.error, /was deleted: nothing to redeliver/);
      }
      await new Promise((resolve) => setTimeout(resolve, 500));
      assert.equal(seen, 3, 'nothing was sent');
    });
  });

  describe(`a delivery waiting in memory for a slot is not sent once its endpoint is deleted (${kind})`, () => {
    let server: TestServer;
    let hook: Awaited<ReturnType<typeof hookReceiver>>;
    let url: string;
    const received: string[] = [];
    const holding: ServerResponse[] = [];

    before(async () => {
      // One attempt per origin at a time: the claim takes two, so the second waits in memory.
      server = await startTestServer(
        kind,
        { GATEHOUSE_WEBHOOK_ALLOW_NETS: '127.0.0.0/8', GATEHOUSE_WEBHOOK_PER_ORIGIN: '1' },
        { worker: true },
      );
      hook = await hookReceiver((res, body) => {
        received.push(body);
        holding.push(res);
      });
      url = hook.url;
    });
    after(async () => {
      await server.close();
      await hook.close();
    });

    test('the first is in flight, the second held: after the delete only the first was ever sent', async () => {
      await server.createEndpoint({ slug: 'brief', name: 'Brief', schema: { type: 'object' } });
      const { key } = await server.createKey({ name: 'b', environment: 'test' });
      const sub = await server.admin('POST', '/admin/v1/endpoints/brief/webhooks', {
        url,
        environment: 'test',
      });
      assert.equal(sub.status, 201, sub.text);
      const writes = [];
      for (let n = 0; n < 3; n++)
        writes.push(await server.request('POST', '/api/v1/data/brief', { key, json: { n } }));
      await until(
        async () => received.length,
        (n) => n === 1,
      );
      // Give the worker time to claim the next one (and hold it: the origin's one slot is taken).
      await new Promise((resolve) => setTimeout(resolve, 500));
      assert.equal(received.length, 1);

      const removed = await server.admin('DELETE', '/admin/v1/endpoints/brief');
      assert.equal(removed.status, 200, removed.text);
      for (const res of holding.splice(0)) res.writeHead(200).end();
      await new Promise((resolve) => setTimeout(resolve, 1_500));
      for (const res of holding.splice(0)) res.writeHead(200).end();
      assert.equal(received.length, 1, `sent after the delete: ${received.slice(1).join(' | ')}`);
      const rows = await server.services.database.db
        .selectFrom('webhook_deliveries')
        .select(['record_id', 'status'])
        .execute();
      assert.equal(rows.length, 3);
      // All end failed, the one in flight too (as above); only that one was sent.
      for (const row of rows) assert.equal(row.status, 'failed', JSON.stringify(rows));
      assert.equal(new Set(rows.map((row) => row.record_id)).size, writes.length);
    });
  });
}
