import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { createServices, type Services } from '../src/app.ts';
import { loadConfig } from '../src/config.ts';
import type { EndpointRuntime } from '../src/endpoints/endpoint-service.ts';
import { ApiError } from '../src/errors.ts';
import { newId } from '../src/ids.ts';
import { createCommand } from './helpers/commands.ts';
import { createTestDatabase, databaseKinds, type TestDatabase } from './helpers/database.ts';

/**
 * Reads by id made together (on PostgreSQL they share one query per turn of the event loop):
 * each caller gets its own record, a repeated id is answered to every caller, and a record of
 * another endpoint or environment, or none at all, is a 404 for that caller only.
 */
for (const kind of databaseKinds) {
  describe(`record reads by id, many at once, on ${kind}`, () => {
    let database: TestDatabase;
    let services: Services & { close(): Promise<void> };
    let orders: EndpointRuntime;
    let notes: EndpointRuntime;

    async function write(
      endpoint: EndpointRuntime,
      environment: 'test' | 'live',
      data: unknown,
    ): Promise<string> {
      const outcome = await services.writer.write(createCommand(endpoint, data, { environment }));
      assert.ok(outcome.ok);
      return outcome.recordId;
    }

    before(async () => {
      database = await createTestDatabase(kind);
      services = await createServices(loadConfig({ DATABASE_URL: database.url, LOG_LEVEL: 'silent' }));
      await services.endpoints.create({ slug: 'orders', name: 'Orders', schema: { type: 'object' } });
      await services.endpoints.create({ slug: 'notes', name: 'Notes', schema: { type: 'object' } });
      orders = (await services.endpoints.runtime('orders')) as EndpointRuntime;
      notes = (await services.endpoints.runtime('notes')) as EndpointRuntime;
    });

    after(async () => {
      await services.close();
      await database.drop();
    });

    test('600 reads at once, with repeats, misses and other endpoints mixed in', async () => {
      const ids: string[] = [];
      for (let n = 0; n < 550; n++) ids.push(await write(orders, 'test', { n }));
      const note = await write(notes, 'test', { note: true });
      const live = await write(orders, 'live', { live: true });
      const asks: Array<{ id: string; expect: number | 'missing' }> = ids.map((id, n) => ({ id, expect: n }));
      for (let n = 0; n < 40; n++) asks.push({ id: ids[n] as string, expect: n }); // the same id twice at once
      asks.push({ id: note, expect: 'missing' }, { id: live, expect: 'missing' });
      asks.push({ id: newId('record'), expect: 'missing' });
      const answers = await Promise.allSettled(
        asks.map(async (ask) => services.reader.get(orders, 'test', ask.id)),
      );
      for (const [i, answer] of answers.entries()) {
        const ask = asks[i] as { id: string; expect: number | 'missing' };
        if (ask.expect === 'missing') {
          assert.equal(answer.status, 'rejected', ask.id);
          assert.ok(answer.status === 'rejected' && answer.reason instanceof ApiError);
          assert.equal(answer.status === 'rejected' && answer.reason.code, 'record_not_found');
        } else {
          assert.equal(answer.status, 'fulfilled', ask.id);
          const record = JSON.parse(answer.status === 'fulfilled' ? answer.value : '{}');
          assert.equal(record.id, ask.id);
          assert.deepEqual(record.data, { n: ask.expect });
          assert.equal(record.endpoint, 'orders');
        }
      }
      // The live record is there for a live reader.
      const liveRecord = JSON.parse(await services.reader.get(orders, 'live', live));
      assert.deepEqual(liveRecord.data, { live: true });
    });
  });
}
