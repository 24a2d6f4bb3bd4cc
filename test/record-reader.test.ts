import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import BetterSqlite3 from 'better-sqlite3';
import { createServices, type Services } from '../src/app.ts';
import { loadConfig } from '../src/config.ts';
import type { EndpointRuntime } from '../src/endpoints/endpoint-service.ts';
import { ApiError } from '../src/errors.ts';
import { newId } from '../src/ids.ts';
import { createCommand, deleteCommand, replaceCommand } from './helpers/commands.ts';
import {
  createTestDatabase,
  type DatabaseKind,
  databaseKinds,
  type TestDatabase,
} from './helpers/database.ts';

/**
 * Reads by id made together (on PostgreSQL they share one query per turn of the event loop):
 * each caller gets its own record, a repeated id is answered to every caller, and a record of
 * another endpoint or environment, or none at all, is a 404 for that caller only.
 */
/** A fresh installation with two endpoints, `orders` and `notes`. */
async function twoEndpoints(kind: DatabaseKind) {
  const database = await createTestDatabase(kind);
  const services = await createServices(loadConfig({ DATABASE_URL: database.url, LOG_LEVEL: 'silent' }));
  await services.endpoints.create({ slug: 'orders', name: 'Orders', schema: { type: 'object' } });
  await services.endpoints.create({ slug: 'notes', name: 'Notes', schema: { type: 'object' } });
  const orders = (await services.endpoints.runtime('orders')) as EndpointRuntime;
  const notes = (await services.endpoints.runtime('notes')) as EndpointRuntime;
  return { database, services, orders, notes };
}

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
      ({ database, services, orders, notes } = await twoEndpoints(kind));
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

/**
 * SQLite keeps the JSON of records it read while the database is unchanged. Any commit, from
 * this process's writers or from another connection (another process), must show at once: the
 * cache is emptied whenever `PRAGMA data_version` moves.
 */
describe('recent records on SQLite', () => {
  let database: TestDatabase;
  let services: Services & { close(): Promise<void> };
  let orders: EndpointRuntime;
  let notes: EndpointRuntime;
  const read = (endpoint: EndpointRuntime, id: string, environment: 'test' | 'live' = 'test') =>
    JSON.parse(services.reader.get(endpoint, environment, id) as string);

  before(async () => {
    ({ database, services, orders, notes } = await twoEndpoints('sqlite'));
  });

  after(async () => {
    await services.close();
    await database.drop();
  });

  test('a replace or delete through the writer shows on the next read', async () => {
    const created = createCommand(orders, { v: 1 });
    await services.writer.write(created);
    assert.equal(read(orders, created.recordId).data.v, 1);
    assert.equal(read(orders, created.recordId).data.v, 1);
    await services.writer.write(replaceCommand(orders, created.recordId, { v: 2 }));
    const replaced = read(orders, created.recordId);
    assert.equal(replaced.data.v, 2);
    assert.equal(replaced.version, 2);
    await services.writer.write(deleteCommand(orders, created.recordId));
    assert.throws(() => services.reader.get(orders, 'test', created.recordId), { code: 'record_not_found' });
  });

  test('a change committed by another connection (another process) shows on the next read', async () => {
    const created = createCommand(orders, { v: 'mine' });
    await services.writer.write(created);
    assert.equal(read(orders, created.recordId).data.v, 'mine');
    const other = new BetterSqlite3(database.config.kind === 'sqlite' ? database.config.path : '');
    try {
      other.pragma('busy_timeout = 5000');
      other
        .prepare('update records set data = ?, version = version + 1 where id = ?')
        .run('{"v":"theirs"}', created.recordId);
      assert.equal(read(orders, created.recordId).data.v, 'theirs');
      other.prepare('delete from records where id = ?').run(created.recordId);
      assert.throws(() => services.reader.get(orders, 'test', created.recordId), {
        code: 'record_not_found',
      });
    } finally {
      other.close();
    }
  });

  test('a record read once is still a 404 under another endpoint or environment', async () => {
    const created = createCommand(orders, { n: 1 });
    await services.writer.write(created);
    assert.equal(read(orders, created.recordId).data.n, 1);
    assert.throws(() => services.reader.get(notes, 'test', created.recordId), { code: 'record_not_found' });
    assert.throws(() => services.reader.get(orders, 'live', created.recordId), { code: 'record_not_found' });
    assert.equal(read(orders, created.recordId).endpoint, 'orders');
  });

  test('many records read in turn, more than the cache holds, each answered as stored', async () => {
    const commands = Array.from({ length: 12_000 }, (_, n) => createCommand(orders, { n }));
    await services.writer.writeAll(commands);
    for (let round = 0; round < 2; round++) {
      for (const [n, command] of commands.entries()) {
        if (n % 7 !== round) continue;
        assert.equal(read(orders, command.recordId).data.n, n);
      }
    }
    // A large record is answered in full (it is read from SQLite each time, not kept).
    const big = createCommand(orders, { text: 'x'.repeat(40_000) });
    await services.writer.write(big);
    assert.equal(read(orders, big.recordId).data.text.length, 40_000);
    assert.equal(read(orders, big.recordId).data.text.length, 40_000);
  });
});

/**
 * In memory the reader is the writer's own connection, on which `PRAGMA data_version` never
 * moves for its own commits: the process counts its writes instead (nobody else can open it).
 */
test('an in-memory database shows its own replace and delete on the next read', async () => {
  const services = await createServices(loadConfig({ DATABASE_URL: 'sqlite::memory:', LOG_LEVEL: 'silent' }));
  try {
    await services.endpoints.create({ slug: 'orders', name: 'Orders', schema: { type: 'object' } });
    const orders = (await services.endpoints.runtime('orders')) as EndpointRuntime;
    const read = (id: string) => JSON.parse(services.reader.get(orders, 'test', id) as string);
    const created = createCommand(orders, { v: 1 });
    await services.writer.write(created);
    assert.equal(read(created.recordId).data.v, 1);
    await services.writer.write(replaceCommand(orders, created.recordId, { v: 2 }));
    assert.equal(read(created.recordId).data.v, 2);
    await services.writer.write(deleteCommand(orders, created.recordId));
    assert.throws(() => services.reader.get(orders, 'test', created.recordId), { code: 'record_not_found' });
  } finally {
    await services.close();
  }
});

/**
 * A server alone on its file (sole writer) empties the cache only when one of its own changes to
 * records commits. White-box: a change made behind its back (another connection, which the
 * instance lock keeps out of a real installation) shows whether the cache was kept or emptied.
 */
describe('recent records with one server on the file', () => {
  let database: TestDatabase;
  let services: Services & { close(): Promise<void> };
  let orders: EndpointRuntime;
  let behindItsBack: BetterSqlite3.Database;
  const read = (id: string) => JSON.parse(services.reader.get(orders, 'test', id) as string).data;
  const sneak = (id: string, data: unknown) =>
    behindItsBack.prepare('update records set data = ? where id = ?').run(JSON.stringify(data), id);

  before(async () => {
    ({ database, services, orders } = await twoEndpoints('sqlite'));
    services.database.dialect.claimSoleWriter?.();
    behindItsBack = new BetterSqlite3(database.config.kind === 'sqlite' ? database.config.path : '');
    behindItsBack.pragma('busy_timeout = 5000');
  });

  after(async () => {
    behindItsBack.close();
    await services.close();
    await database.drop();
  });

  test('creates and writes to other tables keep the records read; a change to records empties them', async () => {
    const kept = createCommand(orders, { v: 'first' });
    await services.writer.write(kept);
    assert.deepEqual(read(kept.recordId), { v: 'first' });
    sneak(kept.recordId, { v: 'behind' });
    // More creates (write thread), a write to another table, an endpoint created: still kept.
    await services.writer.writeAll([createCommand(orders, { n: 1 }), createCommand(orders, { n: 2 })]);
    await services.writer.write(createCommand(orders, { n: 3 }));
    await services.database.db.updateTable('requests').set({ status: 'processed' }).execute();
    await services.endpoints.create({ slug: 'more', name: 'More', schema: { type: 'object' } });
    assert.deepEqual(read(kept.recordId), { v: 'first' });
    // Any change to records (here another record's) and the next read goes to SQLite.
    const other = createCommand(orders, { v: 'other' });
    await services.writer.write(other);
    await services.writer.write(replaceCommand(orders, other.recordId, { v: 'other 2' }));
    assert.deepEqual(read(kept.recordId), { v: 'behind' });
  });

  test('a read between a change and its commit keeps the old row only until the commit', async () => {
    const command = createCommand(orders, { v: 1 });
    await services.writer.write(command);
    assert.deepEqual(read(command.recordId), { v: 1 });
    await services.database.db.transaction().execute(async (trx) => {
      await trx.updateTable('records').set({ data: '{"v":2}' }).where('id', '=', command.recordId).execute();
      // Not committed: the reader's connection sees (and keeps) the committed row.
      await new Promise((resolve) => setImmediate(resolve));
      assert.deepEqual(read(command.recordId), { v: 1 });
    });
    assert.deepEqual(read(command.recordId), { v: 2 });
  });
});
