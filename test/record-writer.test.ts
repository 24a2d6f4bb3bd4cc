import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { createServices, type Services } from '../src/app.ts';
import { loadConfig } from '../src/config.ts';
import { ApiError } from '../src/errors.ts';
import { newId } from '../src/ids.ts';
import { recordJson } from '../src/records/record-json.ts';
import type { WriteCommand, WriteOutcome } from '../src/records/record-writer.ts';
import { createCommand, deleteCommand, replaceCommand } from './helpers/commands.ts';
import { createTestDatabase, databaseKinds, type TestDatabase } from './helpers/database.ts';

/**
 * Group commit in the record writer: writes made in the same event-loop turn share a
 * transaction (PostgreSQL: several at once, creates as multi-row INSERTs). Each write is still
 * answered for itself, one bad write never fails its neighbours, and every answered write is
 * stored with its outbox row (on SQLite, a plain create only when someone is to be told of it).
 */
/** How many outbox rows the given writes left. */
async function outboxRowsOf(services: Services, commands: WriteCommand[]): Promise<number> {
  const row = await services.database.db
    .selectFrom('requests')
    .select((eb) => eb.fn.countAll<number>().as('n'))
    .where(
      'record_id',
      'in',
      commands.map((c) => c.recordId),
    )
    .executeTakeFirstOrThrow();
  return Number(row.n);
}

for (const kind of databaseKinds) {
  describe(`record writer group commit on ${kind}`, () => {
    let database: TestDatabase;
    let services: Services & { close(): Promise<void> };
    let endpointId: string;
    let commits = 0;

    const create = (data: Record<string, unknown>, extra: Partial<WriteCommand> = {}): WriteCommand =>
      createCommand({ id: endpointId, slug: 'orders' }, data, extra);

    async function stored(recordId: string) {
      const db = services.database.db;
      const record = await db.selectFrom('records').selectAll().where('id', '=', recordId).executeTakeFirst();
      const requests = await db
        .selectFrom('requests')
        .select([
          'operation',
          'record_version',
          'payload',
          'record_data',
          'record_id',
          'status',
          'created_at',
        ])
        .where('record_id', '=', recordId)
        .orderBy('created_at')
        .execute();
      return { record, requests };
    }

    before(async () => {
      database = await createTestDatabase(kind);
      services = await createServices(loadConfig({ DATABASE_URL: database.url, LOG_LEVEL: 'silent' }));
      const endpoint = await services.endpoints.create({
        slug: 'orders',
        name: 'Orders',
        schema: { type: 'object' },
      });
      endpointId = endpoint.id;
      // Someone to tell of every create on `orders`, so each keeps its outbox row on SQLite too.
      await services.webhooks.subscriptions.create('orders', {
        environment: 'test',
        url: 'https://hooks.example.com/orders',
      });
      services.writer.onCommit(() => commits++);
    });

    after(async () => {
      await services.close();
      await database.drop();
    });

    test('450 creates in one turn: every one answered, stored with its outbox row', async () => {
      const before = commits;
      const commands = Array.from({ length: 450 }, (_, n) => create({ n }));
      const outcomes = await Promise.all(commands.map((command) => services.writer.write(command)));
      for (const [n, outcome] of outcomes.entries()) {
        assert.deepEqual(outcome, { ok: true, recordId: commands[n]?.recordId, version: 1 });
      }
      for (const n of [0, 199, 200, 449]) {
        const { record, requests } = await stored(commands[n]?.recordId as string);
        assert.deepEqual(JSON.parse(String(record?.data)), { n });
        assert.equal(requests.length, 1);
        assert.equal(requests[0]?.operation, 'create');
        assert.equal(requests[0]?.status, 'queued');
        // A create's outbox row keeps its data alone: the outbox rebuilds the record from the row.
        assert.equal(requests[0]?.payload, '');
        assert.deepEqual(JSON.parse(String(requests[0]?.record_data)), { n });
        assert.equal(requests[0]?.record_id, commands[n]?.recordId);
        assert.equal(requests[0]?.created_at, record?.created_at);
      }
      const count = await services.database.db
        .selectFrom('records')
        .select((eb) => eb.fn.countAll<number>().as('n'))
        .where('endpoint_id', '=', endpointId)
        .executeTakeFirstOrThrow();
      assert.ok(Number(count.n) >= 450);
      assert.ok(commits > before, 'commit listeners ran');
      // Grouped: far fewer commits than writes.
      assert.ok(commits - before < 450, `${commits - before} commits for 450 writes`);
    });

    test('a mixed turn: creates, replace, delete, a missing record and a write with its own statements', async () => {
      const first = create({ v: 1 });
      const doomed = create({ v: 'x' });
      await services.writer.write(first);
      await services.writer.write(doomed);
      let sideEffect: WriteOutcome | undefined;
      const commands: WriteCommand[] = [
        create({ a: 1 }),
        { ...create({ v: 2 }), operation: 'replace', recordId: first.recordId },
        create({ a: 2 }),
        { ...create({}), operation: 'delete', recordId: doomed.recordId, data: null },
        { ...create({ v: 3 }), operation: 'replace', recordId: newId('record') },
        create(
          { a: 3 },
          {
            alsoInTransaction: async (trx, outcome) => {
              sideEffect = outcome;
              await trx
                .insertInto('settings')
                .values({ key: `writer-test-${kind}`, value: 'written in the same transaction' })
                .execute();
            },
          },
        ),
        create({ a: 4 }),
      ];
      const outcomes = await Promise.all(commands.map((command) => services.writer.write(command)));
      assert.equal(outcomes[0]?.ok, true);
      assert.deepEqual(outcomes[1], { ok: true, recordId: first.recordId, version: 2 });
      assert.equal(outcomes[2]?.ok, true);
      assert.deepEqual(outcomes[3], { ok: true, recordId: doomed.recordId, version: 1 });
      assert.equal(outcomes[4]?.ok, false);
      assert.ok(outcomes[4] && !outcomes[4].ok && outcomes[4].error instanceof ApiError);
      assert.equal(outcomes[4] && !outcomes[4].ok ? outcomes[4].error.code : '', 'record_not_found');
      assert.equal(outcomes[5]?.ok, true);
      assert.deepEqual(sideEffect, outcomes[5]);
      assert.equal(outcomes[6]?.ok, true);

      const replaced = await stored(first.recordId);
      assert.deepEqual(JSON.parse(String(replaced.record?.data)), { v: 2 });
      assert.deepEqual(
        replaced.requests.map((r) => [r.operation, Number(r.record_version)]),
        [
          ['create', 1],
          ['replace', 2],
        ],
      );
      const deleted = await stored(doomed.recordId);
      assert.equal(deleted.record, undefined);
      assert.deepEqual(
        deleted.requests.map((r) => r.operation),
        ['create', 'delete'],
      );
      for (const n of [0, 2, 5, 6]) {
        const { record, requests } = await stored(commands[n]?.recordId as string);
        assert.ok(record, `create ${n} stored`);
        assert.equal(requests.length, 1);
      }
      const setting = await services.database.db
        .selectFrom('settings')
        .select('value')
        .where('key', '=', `writer-test-${kind}`)
        .executeTakeFirst();
      assert.equal(setting?.value, 'written in the same transaction');
    });

    test('one write that fails in the database does not fail its neighbours, and is itself refused', async () => {
      const taken = create({ first: true });
      await services.writer.write(taken);
      const neighbours = [create({ b: 1 }), create({ b: 2 }), create({ b: 3 })];
      // The same record id again: a unique violation in the middle of the batch.
      const clash = create({ second: true }, { recordId: taken.recordId });
      const results = await Promise.allSettled([
        services.writer.write(neighbours[0] as WriteCommand),
        services.writer.write(clash),
        services.writer.write(neighbours[1] as WriteCommand),
        services.writer.write(neighbours[2] as WriteCommand),
      ]);
      assert.equal(results[1]?.status, 'rejected');
      for (const n of [0, 2, 3]) assert.equal(results[n]?.status, 'fulfilled', `write ${n}`);
      for (const neighbour of neighbours) {
        const { record, requests } = await stored(neighbour.recordId);
        assert.ok(record);
        assert.equal(requests.length, 1);
      }
      const original = await stored(taken.recordId);
      assert.deepEqual(JSON.parse(String(original.record?.data)), { first: true });
      assert.equal(original.requests.length, 1, 'the refused write left no outbox row');
    });

    test('Idempotency-Key records commit with their writes in one turn; a live key refuses its write alone', async () => {
      const db = services.database.db;
      const keyId = newId('key');
      const idem = (key: string, expiresAt = '2999-01-01T00:00:00.000Z') => ({
        idempotency: { keyId, key, fingerprint: `fp-${key}`, expiresAt },
      });
      const existing = create({ v: 1 });
      const doomed = create({ v: 'x' });
      await services.writer.write(existing);
      await services.writer.write(doomed);
      const earlier = {
        key_id: keyId,
        fingerprint: 'fp-earlier',
        record_id: 'rec_earlier',
        status_code: 202,
      };
      await db
        .insertInto('idempotency_keys')
        .values(
          [
            { ...earlier, idempotency_key: 'live', request_id: 'req_live', response_body: '{}' },
            { ...earlier, idempotency_key: 'expired', request_id: 'req_expired', response_body: '{}' },
          ].map((row) => ({
            ...row,
            created_at: '2020-01-01T00:00:00.000Z',
            expires_at:
              row.idempotency_key === 'live' ? '2999-01-01T00:00:00.000Z' : '2020-01-02T00:00:00.000Z',
          })),
        )
        .execute();
      const commands: WriteCommand[] = [
        create({ plain: 1 }),
        create({ keyed: 1 }, idem('created')),
        {
          ...replaceCommand({ id: endpointId, slug: 'orders' }, existing.recordId, { v: 2 }),
          ...idem('replaced'),
        },
        {
          ...replaceCommand({ id: endpointId, slug: 'orders' }, newId('record'), { v: 2 }),
          ...idem('missing'),
        },
        { ...deleteCommand({ id: endpointId, slug: 'orders' }, doomed.recordId), ...idem('deleted') },
        create({ clash: 1 }, idem('live')),
        create({ late: 1 }, idem('expired')),
      ];
      const results = await Promise.allSettled(commands.map((command) => services.writer.write(command)));
      assert.deepEqual(
        results.map((r) =>
          r.status === 'rejected'
            ? `rejected ${(r.reason as ApiError).code}`
            : r.value.ok
              ? r.value.version
              : r.value.error.code,
        ),
        [1, 1, 2, 'record_not_found', 1, 'rejected idempotency_key_in_flight', 1],
        'each write answered for itself',
      );
      const keys = await db
        .selectFrom('idempotency_keys')
        .selectAll()
        .where('key_id', '=', keyId)
        .orderBy('idempotency_key')
        .execute();
      const expected = (key: string, command: WriteCommand) => ({
        idempotency_key: key,
        fingerprint: `fp-${key}`,
        request_id: command.requestId,
        record_id: command.recordId,
        status_code: 202,
        response_body: `{"success":true,"id":"${command.recordId}","message":"Request queued"}`,
      });
      assert.deepEqual(
        keys.map(({ idempotency_key, fingerprint, request_id, record_id, status_code, response_body }) => ({
          idempotency_key,
          fingerprint,
          request_id,
          record_id,
          status_code: Number(status_code),
          response_body,
        })),
        [
          expected('created', commands[1] as WriteCommand),
          expected('deleted', commands[4] as WriteCommand),
          expected('expired', commands[6] as WriteCommand),
          { ...earlier, idempotency_key: 'live', request_id: 'req_live', response_body: '{}' },
          expected('replaced', commands[2] as WriteCommand),
        ].map(({ key_id: _k, ...row }: Record<string, unknown>) => row),
        'a key per write that found its record; the live key untouched; the expired one taken over',
      );
      const clash = await stored((commands[5] as WriteCommand).recordId);
      assert.equal(clash.record, undefined, 'the write refused for its live key is not stored');
      assert.equal(clash.requests.length, 0, 'nor its outbox row');
      for (const n of [0, 1, 6])
        assert.ok((await stored((commands[n] as WriteCommand).recordId)).record, `create ${n}`);
      assert.equal((await stored(doomed.recordId)).record, undefined, 'the keyed delete applied');
    });

    test('close waits for writes in flight', async () => {
      const commands = Array.from({ length: 40 }, (_, n) => create({ late: n }));
      const pending = commands.map((command) => services.writer.write(command));
      await services.writer.close();
      const outcomes = await Promise.all(pending);
      assert.ok(outcomes.every((outcome) => outcome.ok));
      const { record } = await stored(commands[39]?.recordId as string);
      assert.ok(record);
    });
    const outboxRows = (commands: WriteCommand[]) => outboxRowsOf(services, commands);

    test('creates nobody is told of: SQLite keeps no outbox row and wakes nobody; PostgreSQL queues them', async () => {
      const quiet = await services.endpoints.create({
        slug: 'quiet',
        name: 'Quiet',
        schema: { type: 'object' },
      });
      const commands = Array.from({ length: 60 }, (_, n) => createCommand(quiet, { n }));
      const before = commits;
      const outcomes = await Promise.all(commands.map((command) => services.writer.write(command)));
      assert.ok(outcomes.every((o) => o.ok));
      const records = await services.database.db
        .selectFrom('records')
        .select('data')
        .where('endpoint_id', '=', quiet.id)
        .execute();
      assert.equal(records.length, 60, 'every record stored');
      if (kind === 'sqlite') {
        assert.equal(await outboxRows(commands), 0);
        assert.equal(commits, before, 'no commit listener woken for nothing queued');
      } else {
        assert.equal(await outboxRows(commands), 60);
        assert.ok(commits > before);
      }
    });

    test('who is told of a create is read in its own transaction: subscriptions, their events, environment and state, callbacks', async () => {
      const slug = 'told';
      const told = await services.endpoints.create({ slug, name: 'Told', schema: { type: 'object' } });
      const url = 'https://hooks.example.com/told';
      const callback = services.encryptor.encrypt(
        JSON.stringify({ url, header: 'Authorization', value: null }),
      );
      /** Whether one create (written alone, so on its own commit) kept an outbox row. */
      async function queued(extra: Partial<WriteCommand> = {}): Promise<boolean> {
        const command = createCommand(told, { at: Date.now() }, extra);
        assert.equal((await services.writer.write(command)).ok, true);
        return (await outboxRows([command])) === 1;
      }
      const subscriptions = services.webhooks.subscriptions;
      const everyone = kind !== 'sqlite';
      assert.equal(await queued(), everyone, 'no subscription');
      await subscriptions.create(slug, { environment: 'live', url });
      assert.equal(await queued(), everyone, 'a subscription of the other environment');
      const updatesOnly = await subscriptions.create(slug, {
        environment: 'test',
        url,
        events: ['record.updated'],
      });
      assert.equal(await queued(), everyone, 'a subscription that does not want record.created');
      const off = await subscriptions.create(slug, {
        environment: 'test',
        url,
        events: ['record.deleted', 'record.created'],
        enabled: false,
      });
      assert.equal(await queued(), everyone, 'a disabled subscription');
      assert.equal(await queued({ callback }), true, 'a callback');
      assert.equal(
        await queued({ callback, source: 'console' }),
        everyone,
        'a console write fires no webhooks',
      );
      await subscriptions.update(off.id, { enabled: true });
      assert.equal(await queued(), true, 'the subscription enabled a moment before');
      await subscriptions.remove(off.id);
      assert.equal(await queued(), everyone, 'the subscription removed a moment before');
      await subscriptions.update(updatesOnly.id, { events: ['record.created'] });
      assert.equal(await queued(), true, 'a subscription that now wants record.created');
    });

    test('who is told of a replace or a delete is read in its own transaction; the outbox row carries the record', async () => {
      const slug = 'told-changes';
      const endpoint = await services.endpoints.create({ slug, name: 'Told', schema: { type: 'object' } });
      const db = services.database.db;
      const url = 'https://hooks.example.com/told-changes';
      const callback = services.encryptor.encrypt(
        JSON.stringify({ url, header: 'Authorization', value: null }),
      );
      const record = createCommand(endpoint, { n: 0 });
      assert.equal((await services.writer.write(record)).ok, true);
      const recordNow = async () =>
        db.selectFrom('records').selectAll().where('id', '=', record.recordId).executeTakeFirstOrThrow();
      /** The outbox row one write (alone, on its own commit) left, if any. */
      async function outboxRowOf(command: WriteCommand) {
        return db
          .selectFrom('requests')
          .select(['operation', 'record_version', 'payload', 'record_data'])
          .where('id', '=', command.requestId)
          .executeTakeFirst();
      }
      let n = 0;
      /** Whether one replace of the record kept an outbox row; checks the row's record when it did. */
      async function replaced(extra: Partial<WriteCommand> = {}): Promise<boolean> {
        const command = replaceCommand(endpoint, record.recordId, { n: ++n });
        const outcome = await services.writer.write({ ...command, ...extra });
        const now = await recordNow();
        assert.deepEqual(outcome, { ok: true, recordId: record.recordId, version: now.version });
        const row = await outboxRowOf(command);
        if (row) {
          assert.equal(row.operation, 'replace');
          assert.equal(Number(row.record_version), now.version);
          assert.equal(row.payload, recordJson(now, slug), 'the record as written, as recordJson writes it');
          assert.equal(row.record_data, null);
        }
        return row !== undefined;
      }
      const subscriptions = services.webhooks.subscriptions;
      const everyone = kind !== 'sqlite';
      assert.equal(await replaced(), everyone, 'no subscription');
      const createsOnly = await subscriptions.create(slug, {
        environment: 'test',
        url,
        events: ['record.created'],
      });
      assert.equal(await replaced(), everyone, 'a subscription that does not want record.updated');
      await subscriptions.create(slug, { environment: 'live', url, events: ['record.updated'] });
      assert.equal(await replaced(), everyone, 'a subscription of the other environment');
      assert.equal(await replaced({ callback }), true, 'a callback');
      assert.equal(await replaced({ callback, source: 'console' }), everyone, 'a console write');
      await subscriptions.update(createsOnly.id, { events: ['record.updated'] });
      assert.equal(await replaced(), true, 'a subscription that now wants record.updated');

      const missing = replaceCommand(endpoint, newId('record'), { n: -1 });
      const refused = await services.writer.write(missing);
      assert.equal(refused.ok ? '' : refused.error.code, 'record_not_found');
      assert.equal(await outboxRowOf(missing), undefined, 'no outbox row for a record that is not there');

      // A delete is told to subscribers of record.deleted, with the record as it was.
      const gone = deleteCommand(endpoint, record.recordId);
      const before = await recordNow();
      assert.deepEqual(await services.writer.write(gone), {
        ok: true,
        recordId: record.recordId,
        version: before.version,
      });
      assert.equal((await outboxRowOf(gone)) !== undefined, everyone, 'nobody wants record.deleted yet');
      const other = createCommand(endpoint, { n: 'other' });
      await services.writer.write(other);
      await subscriptions.create(slug, { environment: 'test', url, events: ['record.deleted'] });
      const otherBefore = await db
        .selectFrom('records')
        .selectAll()
        .where('id', '=', other.recordId)
        .executeTakeFirstOrThrow();
      const deleted = deleteCommand(endpoint, other.recordId);
      assert.equal((await services.writer.write(deleted)).ok, true);
      const row = await outboxRowOf(deleted);
      assert.equal(row?.operation, 'delete', 'a subscription of record.deleted is told');
      assert.equal(row?.payload, recordJson(otherBefore, slug), 'the record as it was');
      assert.equal(
        await db.selectFrom('records').select('id').where('id', '=', other.recordId).executeTakeFirst(),
        undefined,
      );
      const again = deleteCommand(endpoint, other.recordId);
      const notThere = await services.writer.write(again);
      assert.equal(notThere.ok ? '' : notThere.error.code, 'record_not_found');
      assert.equal(await outboxRowOf(again), undefined, 'no outbox row for a delete that found nothing');
    });
  });
}

/**
 * SQLite's write thread under the record writer: plain creates commit on the thread while
 * Kysely's connection is held for them, and other queries of this process still get their turn
 * while creates keep coming.
 */
describe('record writer on the SQLite write thread', () => {
  let database: TestDatabase;
  let services: Services & { close(): Promise<void> };
  let endpointId: string;
  let commits = 0;

  before(async () => {
    database = await createTestDatabase('sqlite');
    services = await createServices(loadConfig({ DATABASE_URL: database.url, LOG_LEVEL: 'silent' }));
    endpointId = (
      await services.endpoints.create({ slug: 'orders', name: 'Orders', schema: { type: 'object' } })
    ).id;
    assert.equal(await services.writer.warm(), true, 'the write thread started');
    // Someone to tell of every create on `orders`, so each keeps its outbox row.
    await services.webhooks.subscriptions.create('orders', {
      environment: 'test',
      url: 'https://hooks.example.com/orders',
    });
    services.writer.onCommit(() => commits++);
  });

  after(async () => {
    await services.close();
    await database.drop();
  });

  const create = (data: unknown, extra: Partial<WriteCommand> = {}) =>
    createCommand({ id: endpointId, slug: 'orders' }, data, extra);

  test('on the thread, a create keeps an outbox row only when someone is told of it, and only then wakes the worker', async () => {
    const quiet = await services.endpoints.create({
      slug: 'quiet',
      name: 'Quiet',
      schema: { type: 'object' },
    });
    const callback = services.encryptor.encrypt(
      JSON.stringify({ url: 'https://hooks.example.com/cb', header: 'Authorization', value: null }),
    );
    const count = (commands: WriteCommand[]) => outboxRowsOf(services, commands);
    const nobody = Array.from({ length: 120 }, (_, n) => createCommand(quiet, { n }));
    let before = commits;
    const outcomes = await Promise.all(nobody.map((c) => services.writer.write(c)));
    assert.ok(outcomes.every((o) => o.ok));
    assert.equal(await count(nobody), 0);
    assert.equal(commits, before, 'nothing queued, nobody woken');
    const some = Array.from({ length: 120 }, (_, n) =>
      createCommand(quiet, { n }, n % 2 ? { callback } : {}),
    );
    before = commits;
    await Promise.all(some.map((c) => services.writer.write(c)));
    assert.equal(await count(some), 60, 'the creates with a callback');
    assert.ok(commits > before, 'the worker is woken for them');
  });

  test('replaces and deletes commit on the thread: versions, a record not there, outbox rows only when told', async () => {
    const quiet = await services.endpoints.create({
      slug: 'quiet-changes',
      name: 'Quiet',
      schema: { type: 'object' },
    });
    const db = services.database.db;
    const records = Array.from({ length: 40 }, (_, n) => createCommand(quiet, { n }));
    await Promise.all(records.map((c) => services.writer.write(c)));
    let before = commits;
    // One turn: two replaces of each record, a replace and a delete of records not there.
    const missing = [replaceCommand(quiet, newId('record'), {}), deleteCommand(quiet, newId('record'))];
    const changes = records.flatMap((c, n) => [
      replaceCommand(quiet, c.recordId, { n, v: 2 }),
      replaceCommand(quiet, c.recordId, { n, v: 3 }),
    ]);
    const outcomes = await Promise.all([...changes, ...missing].map((c) => services.writer.write(c)));
    assert.deepEqual(
      outcomes.slice(0, changes.length).map((o) => (o.ok ? o.version : o.error.code)),
      records.flatMap(() => [2, 3]),
      'each replace answered with its own version',
    );
    assert.deepEqual(
      outcomes.slice(changes.length).map((o) => (o.ok ? 'ok' : o.error.code)),
      ['record_not_found', 'record_not_found'],
    );
    const stored = await db
      .selectFrom('records')
      .select(['data', 'version'])
      .where('endpoint_id', '=', quiet.id)
      .execute();
    assert.ok(
      stored.every((r) => r.version === 3 && JSON.parse(r.data).v === 3),
      'every record holds its last replace',
    );
    assert.equal(await outboxRowsOf(services, [...changes, ...missing]), 0, 'nobody is told: no outbox rows');
    assert.equal(commits, before, 'nothing queued, nobody woken');

    const callback = services.encryptor.encrypt(
      JSON.stringify({ url: 'https://hooks.example.com/cb', header: 'Authorization', value: null }),
    );
    before = commits;
    const deletes = records.map((c, n) => ({
      ...deleteCommand(quiet, c.recordId),
      ...(n % 2 ? { callback } : {}),
    }));
    const deleted = await Promise.all(deletes.map((c) => services.writer.write(c)));
    assert.ok(
      deleted.every((o) => o.ok && o.version === 3),
      'each delete answered with the version deleted',
    );
    const left = await db.selectFrom('records').select('id').where('endpoint_id', '=', quiet.id).execute();
    assert.equal(left.length, 0, 'every record deleted');
    const queued = await db
      .selectFrom('requests')
      .select(['operation', 'record_version'])
      .where(
        'id',
        'in',
        deletes.map((c) => c.requestId),
      )
      .execute();
    assert.equal(queued.length, 20, 'the deletes with a callback');
    assert.ok(queued.every((r) => r.operation === 'delete' && Number(r.record_version) === 3));
    assert.ok(commits > before, 'the worker is woken for them');
  });

  test('creates answered from the thread are stored with their outbox rows, a clash refused alone', async () => {
    const taken = create({ first: true });
    await services.writer.write(taken);
    const commands = Array.from({ length: 300 }, (_, n) => create({ n }));
    const clash = create({ second: true }, { recordId: taken.recordId });
    const results = await Promise.allSettled([
      ...commands.slice(0, 150).map((c) => services.writer.write(c)),
      services.writer.write(clash),
      ...commands.slice(150).map((c) => services.writer.write(c)),
    ]);
    assert.equal(results.filter((r) => r.status === 'rejected').length, 1);
    assert.equal(results[150]?.status, 'rejected');
    const db = services.database.db;
    const stored = await db
      .selectFrom('records')
      .select(['id', 'data'])
      .where(
        'id',
        'in',
        commands.map((c) => c.recordId),
      )
      .execute();
    assert.equal(stored.length, 300);
    assert.equal(await outboxRowsOf(services, commands), 300);
    const original = await db
      .selectFrom('records')
      .select('data')
      .where('id', '=', taken.recordId)
      .executeTakeFirst();
    assert.deepEqual(JSON.parse(String(original?.data)), { first: true });
  });

  test('other queries get the connection while a stream of creates goes on', async () => {
    // 64 writers, each sending its next create as soon as the last is answered: batches are
    // always in flight on the thread. The stream stops by itself after 3 s at the latest.
    const deadline = Date.now() + 3000;
    let streaming = true;
    let written = 0;
    const stream = Promise.all(
      Array.from({ length: 64 }, async () => {
        while (streaming && Date.now() < deadline) {
          await services.writer.write(create({ stream: written }));
          written++;
        }
      }),
    );
    await new Promise((resolve) => setTimeout(resolve, 200));
    const before = written;
    const db = services.database.db;
    for (let n = 0; n < 5; n++) {
      await db
        .insertInto('settings')
        .values({ key: `thread-turn-${n}`, value: 'x' })
        .execute();
    }
    const during = written - before;
    const stillStreaming = Date.now() < deadline;
    streaming = false;
    await stream;
    assert.ok(before > 0, 'creates were flowing');
    assert.ok(stillStreaming, 'the other writes finished only when the stream stopped');
    assert.ok(during < 5000, `five other writes waited for ${during} creates`);
    const turns = await db
      .selectFrom('settings')
      .select('key')
      .where('key', 'like', 'thread-turn-%')
      .execute();
    assert.equal(turns.length, 5);
  });
});
