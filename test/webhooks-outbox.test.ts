import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { createServices, type Services } from '../src/app.ts';
import { loadConfig } from '../src/config.ts';
import type { EndpointRuntime } from '../src/endpoints/endpoint-service.ts';
import type { WriteCommand } from '../src/records/record-writer.ts';
import { processOutbox } from '../src/webhooks/outbox.ts';
import { createCommand } from './helpers/commands.ts';
import { createTestDatabase, databaseKinds, type TestDatabase } from './helpers/database.ts';

/**
 * The outbox turns queued writes into events and deliveries in batches (multi-row INSERTs):
 * every write gets exactly one event, one delivery per subscription plus one for its callback,
 * in commit order, and is marked processed; a console write gets none.
 */
for (const kind of databaseKinds) {
  describe(`outbox batches on ${kind}`, () => {
    let database: TestDatabase;
    let services: Services & { close(): Promise<void> };
    let orders: EndpointRuntime;

    before(async () => {
      database = await createTestDatabase(kind);
      services = await createServices(loadConfig({ DATABASE_URL: database.url, LOG_LEVEL: 'silent' }));
      await services.endpoints.create({ slug: 'orders', name: 'Orders', schema: { type: 'object' } });
      orders = (await services.endpoints.runtime('orders')) as EndpointRuntime;
      for (const url of ['https://a.example.com/hook', 'https://b.example.com/hook']) {
        await services.webhooks.subscriptions.create('orders', { environment: 'test', url });
      }
    });

    after(async () => {
      await services.close();
      await database.drop();
    });

    test('450 writes (creates, then replaces of the same records), callbacks on some, a console write', async () => {
      const db = services.database.db;
      const callback = services.encryptor.encrypt(
        JSON.stringify({ url: 'https://cb.example.com/x', header: 'Authorization', value: null }),
      );
      const creates = Array.from({ length: 300 }, (_, n) =>
        createCommand(orders, { n }, n % 3 === 0 ? { callback } : {}),
      );
      await services.writer.writeAll(creates);
      const replaces = creates
        .slice(0, 150)
        .map((c) => createCommand(orders, { n: 'again' }, { operation: 'replace', recordId: c.recordId }));
      await services.writer.writeAll(replaces);
      await services.writer.writeAll([createCommand(orders, { console: true }, { source: 'console' })]);

      let passes = 0;
      while ((await processOutbox(db, services.database.dialect, services.encryptor)) > 0) passes++;
      assert.ok(passes >= 3, `${passes} passes of at most 200`);

      const queued = await db.selectFrom('requests').select('id').where('status', '=', 'queued').execute();
      assert.equal(queued.length, 0, 'every write processed');
      const events = await db.selectFrom('webhook_events').select(['id', 'request_id', 'type']).execute();
      assert.equal(events.length, 450, 'one event per API write, none for the console write');
      assert.equal(new Set(events.map((e) => e.request_id)).size, 450);
      const deliveries = await db
        .selectFrom('webhook_deliveries')
        .select(['event_id', 'record_id', 'target', 'event_type', 'seq'])
        .orderBy('seq')
        .execute();
      const withCallback = creates.filter((c) => c.callback).length;
      assert.equal(deliveries.length, 450 * 2 + withCallback);
      // Per record and target: the create's delivery comes before the replace's.
      const seen = new Map<string, string>();
      for (const d of deliveries) {
        const key = `${d.record_id}|${d.target}`;
        const before = seen.get(key);
        if (d.event_type === 'record.updated') assert.equal(before, 'record.created', key);
        seen.set(key, d.event_type);
      }
      const first = creates[0] as (typeof creates)[number];
      const forFirst = deliveries.filter((d) => d.record_id === first.recordId);
      assert.equal(forFirst.length, 5, 'two subscriptions × two writes, and the create’s callback');
    });

    test('a create’s event carries its record as GET serves it, rebuilt from the outbox row; a row queued by an earlier release is sent as stored', async () => {
      const db = services.database.db;
      // Number text and escapes kept as sent: the data is spliced in, never parsed and re-serialised.
      const data = '{"price":1.50,"big":12345678901234567890,"name":"Zo\\u00eb","nested":{"a":[1,2.0]}}';
      const create = createCommand(orders, null, { data });
      await services.writer.writeAll([create]);
      // And through each path a create can take: concurrent writes share a batch (SQLite: on the
      // write thread, once it is up; PostgreSQL: multi-row INSERTs).
      await services.writer.warm();
      const batched = Array.from({ length: 5 }, (_, n) =>
        createCommand(orders, null, { data: `{"n":${n},"price":${n}.10,"text":"\\n\\u2028"}` }),
      );
      await Promise.all(batched.map((command) => services.writer.write(command)));
      const legacyRecord = `{"id":"rec_legacy","object":"record","endpoint":"orders","environment":"test","data":{"old":true},"version":1,"created_at":"2026-01-01T00:00:00.000Z","updated_at":"2026-01-01T00:00:00.000Z"}`;
      await db
        .insertInto('requests')
        .values({
          id: 'req_legacy',
          key_id: null,
          endpoint_id: orders.id,
          environment: 'test',
          operation: 'create',
          record_id: 'rec_legacy',
          record_version: 1,
          source: 'api',
          payload: legacyRecord,
          callback: null,
          status: 'queued',
          created_at: '2026-01-01T00:00:00.000Z',
          processed_at: null,
          record_data: null,
        })
        .execute();
      while ((await processOutbox(db, services.database.dialect, services.encryptor)) > 0);

      const eventRecord = async (requestId: string) => {
        const row = await db
          .selectFrom('webhook_events')
          .select('payload')
          .where('request_id', '=', requestId)
          .executeTakeFirstOrThrow();
        const payload = row.payload;
        return payload.slice(payload.indexOf(',"record":') + ',"record":'.length, -2);
      };
      const served = await services.reader.get(orders, 'test', create.recordId);
      assert.equal(await eventRecord(create.requestId), served);
      assert.ok(String(served).includes(data), String(served));
      for (const command of batched) {
        const record = await services.reader.get(orders, 'test', command.recordId);
        assert.ok(String(record).includes(command.data as string), String(record));
        assert.equal(await eventRecord(command.requestId), record);
      }
      assert.equal(await eventRecord('req_legacy'), legacyRecord);
    });

    test('writes nobody is told of are processed without an event: nothing would ever read it', async () => {
      const db = services.database.db;
      await services.endpoints.create({ slug: 'quiet', name: 'Quiet', schema: { type: 'object' } });
      const quiet = (await services.endpoints.runtime('quiet')) as EndpointRuntime;
      // Through writeAll (as an import writes), every write queues its outbox row on both databases.
      const creates = Array.from({ length: 5 }, (_, n) => createCommand(quiet, { n }));
      await services.writer.writeAll(creates);
      const replace = createCommand(
        quiet,
        { n: 'again' },
        { operation: 'replace', recordId: creates[0]?.recordId },
      );
      await services.writer.writeAll([replace]);
      const ids = [...creates, replace].map((c) => c.requestId);
      while ((await processOutbox(db, services.database.dialect, services.encryptor)) > 0) {}
      const rows = await db.selectFrom('requests').select('status').where('id', 'in', ids).execute();
      assert.deepEqual(
        rows.map((r) => r.status),
        Array(6).fill('processed'),
      );
      const events = await db
        .selectFrom('webhook_events')
        .select('id')
        .where('request_id', 'in', ids)
        .execute();
      assert.deepEqual(events, []);
    });

    test('pruning: outbox rows processed longer ago than the retention go, once no delivery names them', async () => {
      const db = services.database.db;
      await services.endpoints.create({ slug: 'pruned', name: 'Pruned', schema: { type: 'object' } });
      const pruned = (await services.endpoints.runtime('pruned')) as EndpointRuntime;
      const [oldOne, oldTwo, recent] = [1, 2, 3].map((n) => createCommand(pruned, { n }));
      const told = createCommand(orders, { told: true });
      await services.writer.writeAll([oldOne, oldTwo, recent, told].map((c) => c as WriteCommand));
      while ((await processOutbox(db, services.database.dialect, services.encryptor)) > 0) {}
      const queued = createCommand(pruned, { queued: true });
      await services.writer.writeAll([queued]);
      const longAgo = new Date(Date.now() - 40 * 86_400_000).toISOString();
      await db
        .updateTable('requests')
        .set({ processed_at: longAgo })
        .where(
          'id',
          'in',
          [oldOne, oldTwo, told].map((c) => (c as WriteCommand).requestId),
        )
        .execute();
      await services.webhooks.createWorker().prune();
      const left = await db
        .selectFrom('requests')
        .select('id')
        .where(
          'id',
          'in',
          [oldOne, oldTwo, recent, told, queued].map((c) => (c as WriteCommand).requestId),
        )
        .execute();
      assert.deepEqual(
        new Set(left.map((r) => r.id)),
        new Set([recent, told, queued].map((c) => (c as WriteCommand).requestId)),
        'the two processed long ago went; one processed lately, one whose deliveries are pending, one queued stay',
      );
    });
  });
}
