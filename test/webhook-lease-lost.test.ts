import assert from 'node:assert/strict';
import type { ServerResponse } from 'node:http';
import { after, before, describe, test } from 'node:test';
import { databaseKinds } from './helpers/database.ts';
import { hookReceiver } from './helpers/receiver.ts';
import { startTestServer, type TestServer } from './helpers/server.ts';
import { until } from './helpers/until.ts';

/** Where another worker's claim put the delivery while the first one's attempt was in flight. */
const OTHER_LEASE = '2999-01-01T00:00:00.000Z';

/**
 * A worker whose claim's lease ran out before it recorded its attempt (it stalled, or its results
 * waited for the database) no longer owns the delivery: another worker may have claimed it again.
 * Its failure is logged but does not reschedule the delivery (which would make it due while the
 * other worker's attempt is in flight, for a third to send again); its success still ends it.
 */
for (const kind of databaseKinds) {
  describe(`an attempt recorded after its lease was taken over (${kind})`, () => {
    let server: TestServer;
    let hook: Awaited<ReturnType<typeof hookReceiver>>;
    const holding: ServerResponse[] = [];
    before(async () => {
      server = await startTestServer(kind, { GATEHOUSE_WEBHOOK_ALLOW_NETS: '127.0.0.0/8' }, { worker: true });
      hook = await hookReceiver((res) => holding.push(res));
      await server.createEndpoint({
        slug: 'leased',
        name: 'Leased',
        schema: { type: 'object' },
        retry: { max_retries: 3, interval_seconds: 1 },
      });
      const sub = await server.admin('POST', '/admin/v1/endpoints/leased/webhooks', {
        url: hook.url,
        environment: 'test',
      });
      assert.equal(sub.status, 201, sub.text);
    });
    after(async () => {
      await server.close();
      await hook.close();
    });

    const db = () => server.services.database.db;
    /** Sends a record, waits for its delivery's attempt to be held, and lets another worker "claim" it. */
    async function heldAndTakenOver(): Promise<{ id: string; answer: ServerResponse }> {
      const { key } = await server.createKey({ name: `k${holding.length}`, environment: 'test' });
      const created = await server.request('POST', '/api/v1/data/leased', { key, json: { n: 1 } });
      assert.equal(created.status, 202, created.text);
      await until(
        async () => holding.length,
        (n) => n === 1,
      );
      const answer = holding.splice(0)[0] as ServerResponse;
      const delivery = await db()
        .selectFrom('webhook_deliveries')
        .select('id')
        .where('record_id', '=', created.body.id)
        .executeTakeFirstOrThrow();
      await db()
        .updateTable('webhook_deliveries')
        .set({ next_attempt_at: OTHER_LEASE })
        .where('id', '=', delivery.id)
        .execute();
      return { id: delivery.id, answer };
    }
    const recorded = (id: string) =>
      until(
        async () =>
          (
            await db()
              .selectFrom('webhook_attempts')
              .select('status_code')
              .where('delivery_id', '=', id)
              .execute()
          ).length,
        (n) => n === 1,
      );
    const deliveryRow = (id: string) =>
      db()
        .selectFrom('webhook_deliveries')
        .select(['status', 'next_attempt_at', 'last_status_code'])
        .where('id', '=', id)
        .executeTakeFirstOrThrow();

    test('a failure is logged, and the delivery stays as the other worker claimed it', async () => {
      const { id, answer } = await heldAndTakenOver();
      answer.writeHead(500).end();
      assert.equal(await recorded(id), 1);
      const row = await deliveryRow(id);
      assert.equal(row.status, 'pending');
      assert.equal(row.next_attempt_at, OTHER_LEASE, 'not rescheduled under another worker’s claim');
      assert.equal(Number(row.last_status_code), 500, 'the answer is shown');
    });

    test('a success still ends the delivery', async () => {
      const { id, answer } = await heldAndTakenOver();
      answer.writeHead(200).end();
      assert.equal(await recorded(id), 1);
      assert.equal((await deliveryRow(id)).status, 'succeeded');
    });
  });
}
