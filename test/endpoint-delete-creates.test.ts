import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import pg from 'pg';
import { RECORD_SEQ_LOCK } from '../src/records/record-writer.ts';
import { databaseKinds } from './helpers/database.ts';
import { heldInserts } from './helpers/held-inserts.ts';
import { startTestServer, type TestServer } from './helpers/server.ts';
import { until } from './helpers/until.ts';

/**
 * Deleting an endpoint deletes its records, also those of creates it races with. On PostgreSQL a
 * create accepted just before the delete committed just after it, and its record outlived the
 * endpoint (on SQLite, one writer at a time, the delete removed them): a probe that fired 20
 * creates around a DELETE found up to 20 such records. A trigger holds a create's insert, or
 * the lock creates take holds the delete, to stage each order.
 */
describe('creates racing with an endpoint delete leave no records behind', {
  skip: !databaseKinds.includes('postgres'),
}, () => {
  let server: TestServer;
  let key: string;
  let client: pg.Client;

  const records = async (endpointId: string) =>
    Number(
      (await client.query('select count(*) as n from records where endpoint_id = $1', [endpointId])).rows[0]
        .n,
    );
  /** How many of the database's connections wait for a lock. */
  const waiting = async () =>
    Number(
      (
        await client.query(
          `select count(*) as n from pg_stat_activity
           where datname = current_database() and wait_event_type = 'Lock'`,
        )
      ).rows[0].n,
    );
  const endpointId = async (slug: string): Promise<string> => {
    const res = await server.admin('GET', `/admin/v1/endpoints/${slug}`);
    assert.equal(res.status, 200, res.text);
    return res.body.data.id;
  };

  before(async () => {
    server = await startTestServer('postgres');
    key = (await server.createKey({ name: 'racer', environment: 'test', scopes: ['*'] })).key;
    client = new pg.Client({ connectionString: server.database.url });
    await client.connect();
  });
  after(async () => {
    await client.end();
    await server.close();
  });

  test('a create in its transaction when the delete starts: the delete waits for it and takes its record', async () => {
    await server.createEndpoint({ slug: 'doomed', name: 'Doomed', schema: { type: 'object' } });
    const id = await endpointId('doomed');
    const held = await heldInserts(server.database.url, {
      table: 'records',
      when: `new.data like '%"held"%'`,
      lock: 71_001,
    });
    try {
      await held.hold();
      const create = server.request('POST', '/api/v1/data/doomed', { key, json: { v: 'held' } });
      assert.deepEqual(await until(held.waits, (w) => w.includes('advisory')), ['advisory']);
      let deleted = false;
      const remove = server.admin('DELETE', '/admin/v1/endpoints/doomed').finally(() => {
        deleted = true;
      });
      // The delete either answered (it did not wait: the old way) or waits for the create.
      await until(
        async () => deleted || (await held.waits()).length > 1,
        (done) => done,
      );
      await held.release();
      const [created, removed] = await Promise.all([create, remove]);
      assert.equal(created.status, 202, created.text);
      assert.equal(removed.status, 200, removed.text);
    } finally {
      await held.end();
    }
    assert.equal(await records(id), 0);
    const list = await server.request('GET', '/api/v1/data/doomed', { key });
    assert.equal(list.status, 404);
    assert.equal(list.body.code, 'endpoint_not_found');
  });

  test('creates that reach the database after the delete: 404 endpoint_not_found, nothing written', async () => {
    await server.createEndpoint({ slug: 'doomed-too', name: 'Doomed', schema: { type: 'object' } });
    const id = await endpointId('doomed-too');
    // The lock creates take held here: the delete, then the creates, wait for it in turn.
    await client.query('select pg_advisory_lock($1)', [RECORD_SEQ_LOCK]);
    let removed: Promise<{ status: number; text: string }> | undefined;
    try {
      removed = server.admin('DELETE', '/admin/v1/endpoints/doomed-too');
      assert.equal(await until(waiting, (n) => n === 1), 1);
      // Plain creates (one multi-row INSERT) and one with an Idempotency-Key (a statement of its own).
      const creates = [
        ...['a', 'b', 'c'].map((v) =>
          server.request('POST', '/api/v1/data/doomed-too', { key, json: { v } }),
        ),
        server.request('POST', '/api/v1/data/doomed-too', {
          key,
          json: { v: 'keyed' },
          headers: { 'idempotency-key': 'late-create' },
        }),
      ];
      assert.equal(await until(waiting, (n) => n === 2), 2);
      await client.query('select pg_advisory_unlock($1)', [RECORD_SEQ_LOCK]);
      const answers = await Promise.all(creates);
      for (const answer of answers) {
        assert.equal(answer.status, 404, answer.text);
        assert.equal(answer.body.code, 'endpoint_not_found');
        assert.equal(answer.body.error, 'Endpoint "doomed-too" not found');
      }
    } finally {
      await client.query('select pg_advisory_unlock_all()');
    }
    assert.equal((await removed)?.status, 200);
    assert.equal(await records(id), 0);
    const requests = await client.query('select count(*) as n from requests where endpoint_id = $1', [id]);
    assert.equal(Number(requests.rows[0].n), 0);
    // The key is free again: a retry after the endpoint is made anew is a new create.
    await server.createEndpoint({ slug: 'doomed-too', name: 'Again', schema: { type: 'object' } });
    const again = await server.request('POST', '/api/v1/data/doomed-too', {
      key,
      json: { v: 'keyed' },
      headers: { 'idempotency-key': 'late-create' },
    });
    assert.equal(again.status, 202, again.text);
  });

  test('an import that reaches the database after the delete: 404 endpoint_not_found, not "imported"', async () => {
    await server.createEndpoint({ slug: 'doomed-import', name: 'Doomed', schema: { type: 'object' } });
    const id = await endpointId('doomed-import');
    await client.query('select pg_advisory_lock($1)', [RECORD_SEQ_LOCK]);
    try {
      const removed = server.admin('DELETE', '/admin/v1/endpoints/doomed-import');
      assert.equal(await until(waiting, (n) => n === 1), 1);
      const imported = server.admin('POST', '/admin/v1/endpoints/doomed-import/import', {
        records: [{ v: 1 }, { v: 2 }],
      });
      assert.equal(await until(waiting, (n) => n === 2), 2);
      await client.query('select pg_advisory_unlock($1)', [RECORD_SEQ_LOCK]);
      const answer = await imported;
      assert.equal(answer.status, 404, answer.text);
      assert.equal(answer.body.code, 'endpoint_not_found');
      assert.equal((await removed).status, 200);
    } finally {
      await client.query('select pg_advisory_unlock_all()');
    }
    assert.equal(await records(id), 0);
  });
});
