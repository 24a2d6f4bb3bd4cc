import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import BetterSqlite3 from 'better-sqlite3';
import { createRecordWriter, type RecordWriter } from '../src/records/record-writer.ts';
import { createCommand } from './helpers/commands.ts';
import { ordersSchema, startTestServer, type TestServer } from './helpers/server.ts';

/**
 * SQLite: the write thread stops between a commit and its answer while another process holds
 * the write lock for a moment (another `gatehouse start --workers` process committing). The batch
 * is settled from what the database holds once the lock is free: its committed create is
 * answered ok, not refused 503 after the event loop's connection's 10 ms busy timeout (a 503 for
 * a stored write, which a client would send again as a second record).
 */
describe('record writer settling a stopped thread while another process holds the lock', () => {
  let server: TestServer;
  let writer: RecordWriter;
  let endpoint: { id: string; slug: string };
  let holder: BetterSqlite3.Database | undefined;
  let released: Promise<void> | undefined;

  before(async () => {
    server = await startTestServer('sqlite');
    const { database, services } = server;
    endpoint = await services.endpoints.create({ slug: 'orders', name: 'Orders', schema: ordersSchema });
    writer = createRecordWriter(services.database.db, services.database.dialect, {
      writeThread: { stopAfterCommits: 2 },
    });
    // The thread stopped: another process takes the write lock before this one settles the batch,
    // and commits 300 ms later.
    writer.onThreadStopped(() => {
      holder = new BetterSqlite3(database.config.kind === 'sqlite' ? database.config.path : '');
      holder.exec('BEGIN IMMEDIATE');
      released = new Promise((resolve) =>
        setTimeout(() => {
          holder?.exec('COMMIT');
          resolve();
        }, 300),
      );
    });
    assert.equal(await writer.warm(), true, 'the write thread started');
  });

  after(async () => {
    await released;
    holder?.close();
    await writer.close();
    await server.close();
  });

  test('the committed create is answered ok once the lock is free, and stored once', async () => {
    const setup = await writer.write(createCommand(endpoint, { n: 1 }));
    assert.ok(setup.ok, 'the thread commit 1');
    const command = createCommand(endpoint, { n: 2 });
    const outcome = await writer.write(command).catch((error: { code?: string }) => String(error.code));
    assert.ok(holder, 'the thread stopped after its second commit');
    assert.deepEqual(outcome, { ok: true, recordId: command.recordId, version: 1 });
    const rows = await server.services.database.db
      .selectFrom('records')
      .select('id')
      .where('id', '=', command.recordId)
      .execute();
    assert.equal(rows.length, 1);
  });
});
