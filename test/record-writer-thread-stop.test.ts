import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { createServices, type Services } from '../src/app.ts';
import { loadConfig } from '../src/config.ts';
import { createRecordWriter, type RecordWriter, type WriteCommand } from '../src/records/record-writer.ts';
import { createCommand, deleteCommand, replaceCommand } from './helpers/commands.ts';
import { createTestDatabase, type TestDatabase } from './helpers/database.ts';

/**
 * SQLite: the write thread stops after committing a batch but before answering it. The batches in
 * flight may have committed or not; each write is settled from what the database holds: a
 * committed create is answered ok (not inserted again: a unique violation, a 500), a committed
 * replace is not applied twice, the writes that never committed are written, and later writes go
 * on without the thread. The stop comes from the thread's test-only `stopAfterCommits` option
 * (infra/db/sqlite-write-thread.ts): killing the thread from here could not land between its
 * commit and its answer.
 */
describe('record writer when the SQLite write thread stops between a commit and its answer', () => {
  let database: TestDatabase;
  let services: Services & { close(): Promise<void> };
  let writer: RecordWriter;
  let endpoint: { id: string; slug: string };
  let commits = 0;
  /** What the writer said of the thread's stop (a server logs it). */
  const stops: Error[] = [];

  before(async () => {
    database = await createTestDatabase('sqlite');
    services = await createServices(loadConfig({ DATABASE_URL: database.url, LOG_LEVEL: 'silent' }));
    endpoint = await services.endpoints.create({
      slug: 'orders',
      name: 'Orders',
      schema: { type: 'object' },
    });
    // Someone to tell of every write, so each keeps exactly one outbox row.
    await services.webhooks.subscriptions.create('orders', {
      environment: 'test',
      url: 'https://hooks.example.com/orders',
    });
    // Changes to records are then counted in this process: only noteRecordsChanged moves the count.
    services.database.dialect.claimSoleWriter?.();
    // Its own writer: the thread commits once (the setup), then stops after its second commit.
    writer = createRecordWriter(services.database.db, services.database.dialect, {
      writeThread: { stopAfterCommits: 2 },
    });
    writer.onCommit(() => commits++);
    writer.onThreadStopped((error) => stops.push(error));
    assert.equal(await writer.warm(), true, 'the write thread started');
  });

  after(async () => {
    await writer.close();
    await services.close();
    await database.drop();
  });

  async function stored(commands: WriteCommand[]) {
    const db = services.database.db;
    const ids = commands.map((c) => c.recordId);
    const records = await db
      .selectFrom('records')
      .select(['id', 'data', 'version'])
      .where('id', 'in', ids)
      .execute();
    const requests = await db
      .selectFrom('requests')
      .select(['record_id', 'operation', 'record_version'])
      .where('record_id', 'in', ids)
      .execute();
    return { records, requests };
  }

  test('committed writes are answered, not applied again; the others are written; later writes go on', async () => {
    const kept = Array.from({ length: 4 }, (_, n) => createCommand(endpoint, { kept: n }));
    const setup = await Promise.all(kept.map((c) => writer.write(c)));
    assert.ok(
      setup.every((o) => o.ok),
      'the records to replace and delete are written (the thread commit 1)',
    );
    const [replaced, deleted, replacedLate, deletedLate] = kept.map((c) => c.recordId) as [
      string,
      string,
      string,
      string,
    ];

    // One turn of 534 writes: two batches (512 at most each). The thread commits the first, then
    // stops before answering; the second never commits.
    // Some carry an Idempotency-Key: its record commits with the write, once.
    const keyed = (command: WriteCommand, key: string): WriteCommand => ({
      ...command,
      idempotency: { keyId: 'key_stop', key, fingerprint: key, expiresAt: '2999-01-01T00:00:00.000Z' },
    });
    const first = [
      keyed(replaceCommand(endpoint, replaced, { v: 2 }), 'first-replace'),
      deleteCommand(endpoint, deleted),
      keyed(createCommand(endpoint, { first: 'keyed' }), 'first-create'),
      ...Array.from({ length: 509 }, (_, n) => createCommand(endpoint, { first: n })),
    ];
    const second = [
      keyed(replaceCommand(endpoint, replacedLate, { v: 2 }), 'second-replace'),
      keyed(deleteCommand(endpoint, deletedLate), 'second-delete'),
      keyed(createCommand(endpoint, { second: 'keyed' }), 'second-create'),
      ...Array.from({ length: 19 }, (_, n) => createCommand(endpoint, { second: n })),
    ];
    const commitsBefore = commits;
    const changesBefore = services.database.dialect.dataVersion?.();
    const results = await Promise.allSettled([...first, ...second].map((c) => writer.write(c)));
    const failures = results.flatMap((r) =>
      r.status === 'rejected' ? [String(r.reason)] : r.value.ok ? [] : [r.value.error.code],
    );
    assert.deepEqual(failures.slice(0, 3), [], 'every write is answered ok (the first failures shown)');
    const versions = results.map((r) => (r.status === 'fulfilled' && r.value.ok ? r.value.version : -1));
    assert.equal(versions[0], 2, 'the committed replace is answered with its version');
    assert.equal(versions[first.length], 2, 'the replace that had not committed is applied once');

    const { records, requests } = await stored([...kept, ...first, ...second]);
    const byId = new Map(records.map((r) => [r.id, r]));
    for (const [id, what] of [
      [replaced, 'the committed replace'],
      [replacedLate, 'the replace applied after the stop'],
    ] as const) {
      assert.equal(byId.get(id)?.version, 2, `${what}: version 2, not 3`);
      assert.deepEqual(JSON.parse(String(byId.get(id)?.data)), { v: 2 }, `${what}: its data`);
      assert.equal(
        requests.filter((r) => r.record_id === id && r.operation === 'replace').length,
        1,
        `${what}: one outbox row`,
      );
    }
    assert.equal(byId.has(deleted), false, 'the committed delete: gone');
    assert.equal(byId.has(deletedLate), false, 'the delete that had not committed: applied');
    const creates = [...first, ...second].filter((c) => c.operation === 'create');
    assert.equal(
      creates.filter((c) => byId.has(c.recordId)).length,
      creates.length,
      'every create is stored, committed or written after the stop',
    );
    assert.equal(
      requests.filter((r) => r.operation === 'create').length,
      kept.length + creates.length,
      'one outbox row per create, none twice',
    );
    assert.equal(requests.filter((r) => r.operation === 'delete').length, 2, 'one outbox row per delete');
    const keys = await services.database.db
      .selectFrom('idempotency_keys')
      .select(['idempotency_key', 'record_id'])
      .where('key_id', '=', 'key_stop')
      .orderBy('idempotency_key')
      .execute();
    assert.deepEqual(
      keys.map((k) => [k.idempotency_key, k.record_id]),
      [
        ['first-create', first[2]?.recordId],
        ['first-replace', replaced],
        ['second-create', second[2]?.recordId],
        ['second-delete', deletedLate],
        ['second-replace', replacedLate],
      ],
      'each Idempotency-Key stored once, with its write, committed or written after the stop',
    );
    assert.ok(commits > commitsBefore, 'the webhook worker is woken');
    assert.notEqual(
      services.database.dialect.dataVersion?.(),
      changesBefore,
      'the reader is told that records changed',
    );

    assert.equal(stops.length, 1, 'the stop is told once (a server logs it)');
    assert.match(String(stops[0]?.message), /stopped/);

    // The thread is gone: later writes commit on Kysely's connection.
    const later = createCommand(endpoint, { later: true });
    const laterOutcomes = await Promise.all([
      writer.write(later),
      writer.write(replaceCommand(endpoint, replaced, { v: 3 })),
    ]);
    assert.deepEqual(
      laterOutcomes.map((o) => (o.ok ? o.version : o.error.code)),
      [1, 3],
      'later writes are answered',
    );
    const after = await stored([later]);
    assert.equal(after.records.length, 1, 'the later create is stored');
  });

  test('a committed batch of replaces alone, nobody told: each replace applied once', async () => {
    const quiet = await services.endpoints.create({
      slug: 'quiet',
      name: 'Quiet',
      schema: { type: 'object' },
    });
    const another = createRecordWriter(services.database.db, services.database.dialect, {
      writeThread: { stopAfterCommits: 2 },
    });
    try {
      assert.equal(await another.warm(), true, 'the write thread started');
      const [x, y] = [createCommand(quiet, { x: 1 }), createCommand(quiet, { y: 1 })];
      await Promise.all([another.write(x), another.write(y)]);
      // One batch, committed, then the thread stops: only the replaces' records tell it committed.
      const outcomes = await Promise.all(
        [
          replaceCommand(quiet, x.recordId, { x: 2 }),
          replaceCommand(quiet, x.recordId, { x: 3 }),
          replaceCommand(quiet, y.recordId, { y: 2 }),
        ].map((c) => another.write(c)),
      );
      assert.ok(
        outcomes.every((o) => o.ok),
        'every replace is answered ok',
      );
      const { records, requests } = await stored([x, y]);
      assert.deepEqual(
        records.map((r) => [r.id, JSON.parse(r.data), r.version]).sort(),
        [
          [x.recordId, { x: 3 }, 3],
          [y.recordId, { y: 2 }, 2],
        ].sort(),
        'each record holds its last replace, each replace applied once',
      );
      assert.equal(requests.length, 0, 'nobody told: no outbox rows');
    } finally {
      await another.close();
    }
  });
});
