import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { sql } from 'kysely';
import { startTestServer, type TestServer } from './helpers/server.ts';

/**
 * A PATCH writes only the columns it names. The worker turns a subscription off (a 410, failing
 * too long) on its own; had a PATCH of the URL or the events written back the `enabled` it read
 * a moment before, one landing in between would have turned the subscription on again. A trigger
 * on the SQLite file records every write of the worker's columns, deterministically.
 */
describe('a webhook PATCH writes only what it names (sqlite)', () => {
  let server: TestServer;
  const db = () => server.services.database.db;

  before(async () => {
    server = await startTestServer('sqlite', { GATEHOUSE_WEBHOOK_ALLOW_NETS: '127.0.0.0/8' });
    await server.createEndpoint({ slug: 'orders', name: 'Orders', schema: { type: 'object' } });
    await sql`create table worker_columns_written (patch text)`.execute(db());
    await sql`create trigger worker_columns after update of enabled, disabled_reason, failing_since
      on webhook_subscriptions begin insert into worker_columns_written values (new.url); end`.execute(db());
  });
  after(() => server.close());

  const written = async () =>
    (await sql<{ n: number }>`select count(*) as n from worker_columns_written`.execute(db())).rows[0]?.n;

  test('a PATCH of url or events leaves enabled, disabled_reason and failing_since unwritten', async () => {
    const made = await server.admin('POST', '/admin/v1/endpoints/orders/webhooks', {
      url: 'http://127.0.0.1:9/a',
      environment: 'test',
    });
    assert.equal(made.status, 201, made.text);
    const { id } = made.body.data as { id: string };
    const moved = await server.admin('PATCH', `/admin/v1/webhooks/${id}`, { url: 'http://127.0.0.1:9/b' });
    assert.equal(moved.status, 200, moved.text);
    assert.equal(moved.body.data.url, 'http://127.0.0.1:9/b');
    const narrowed = await server.admin('PATCH', `/admin/v1/webhooks/${id}`, { events: ['record.deleted'] });
    assert.equal(narrowed.status, 200, narrowed.text);
    assert.deepEqual(narrowed.body.data.events, ['record.deleted']);
    assert.equal(narrowed.body.data.enabled, true);
    assert.equal(await written(), 0, 'no PATCH above names enabled');
    // The worker turns it off meanwhile (as a 410 does); a later PATCH of the URL leaves it off.
    await sql`update webhook_subscriptions set enabled = 0, disabled_reason = 'The receiver answered 410 Gone'
      where id = ${id}`.execute(db());
    const after410 = await server.admin('PATCH', `/admin/v1/webhooks/${id}`, { url: 'http://127.0.0.1:9/c' });
    assert.equal(after410.status, 200, after410.text);
    assert.equal(after410.body.data.enabled, false);
    assert.equal(after410.body.data.disabled_reason, 'The receiver answered 410 Gone');
    assert.equal(await written(), 1, 'only the worker wrote them');
    // Naming enabled writes it, and turning it on clears why it was off.
    const on = await server.admin('PATCH', `/admin/v1/webhooks/${id}`, { enabled: true });
    assert.equal(on.body.data.enabled, true);
    assert.equal(on.body.data.disabled_reason, null);
    assert.equal(await written(), 2);
  });
});
