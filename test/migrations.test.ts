import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { type Kysely, sql } from 'kysely';
import { callbackTargetsMigration } from '../src/infra/db/migrations/0006-callback-targets.ts';
import { testRequestCredentialsMigration } from '../src/infra/db/migrations/0007-test-request-credentials.ts';
import { sqliteOutboxIndexMigration } from '../src/infra/db/migrations/0008-sqlite-outbox-index.ts';
import { usageStatusMigration } from '../src/infra/db/migrations/0012-usage-status.ts';
import { auditClientMigration } from '../src/infra/db/migrations/0016-audit-client.ts';
import { onePendingInviteMigration } from '../src/infra/db/migrations/0017-one-pending-invite.ts';
import { oneOwnerMigration } from '../src/infra/db/migrations/0018-one-owner.ts';
import { migrateToLatest } from '../src/infra/db/migrations.ts';
import type { Database } from '../src/infra/db/schema.ts';
import { callbackTarget } from '../src/webhooks/outbox.ts';
import { databaseKinds } from './helpers/database.ts';
import { startTestServer, TEST_OWNER, type TestServer } from './helpers/server.ts';

/** usage_daily as releases before 0012 created it (0003): by status class, no status column. */
async function usageByClassTable(db: Kysely<Database>): Promise<void> {
  await sql`DROP TABLE usage_daily`.execute(db);
  await sql`CREATE TABLE usage_daily (
    day text NOT NULL, key_id text NOT NULL, endpoint text NOT NULL, environment text NOT NULL,
    status_class text NOT NULL, count integer NOT NULL, rate_limited integer NOT NULL,
    CONSTRAINT usage_daily_pk PRIMARY KEY (day, key_id, endpoint, environment, status_class)
  )`.execute(db);
  await sql`CREATE INDEX usage_daily_key ON usage_daily (key_id, day)`.execute(db);
}

for (const kind of databaseKinds) {
  describe(`migrations of data written by an earlier release (${kind})`, () => {
    let server: TestServer;
    before(async () => {
      server = await startTestServer(kind);
    });
    after(() => server.close());

    test("pending callbacks queued under the per-request target move to their URL's, so later ones wait behind them", async () => {
      const db = server.services.database.db;
      const now = new Date().toISOString();
      const row = (id: string, target: string, status: string) => ({
        id,
        event_id: 'evt_x',
        event_type: 'record.created',
        subscription_id: null,
        target,
        url: 'https://receiver.example/hook?a=1',
        origin: 'https://receiver.example',
        auth: null,
        endpoint_id: 'ep_x',
        environment: 'test',
        request_id: 'req_x',
        record_id: 'rec_x',
        status,
        attempts: 1,
        max_attempts: 4,
        interval_seconds: 60,
        next_attempt_at: now,
        last_status_code: 500,
        last_error: 'answered 500',
        created_at: now,
        updated_at: now,
      });
      await db
        .insertInto('webhook_deliveries')
        .values([
          row('dlv_pending', 'cb:req_00VcZPWbI000o6sPpTBuCo', 'pending'),
          row('dlv_done', 'cb:req_00VcZPWbI000o6sPpTBuCp', 'succeeded'),
          row('dlv_redelivery', 'cb:req_00VcZPWbI000o6sPpTBuCq#1a2b3c4d', 'pending'),
          row('dlv_subscription', 'sub:whk_x', 'pending'),
        ])
        .execute();
      await callbackTargetsMigration().up(db as never);
      const targets = Object.fromEntries(
        (await db.selectFrom('webhook_deliveries').select(['id', 'target']).execute()).map((r) => [
          r.id,
          r.target,
        ]),
      );
      // The target webhooks/outbox.ts gives a callback to this URL today.
      assert.equal(targets.dlv_pending, callbackTarget('https://receiver.example/hook?a=1'));
      assert.equal(targets.dlv_done, 'cb:req_00VcZPWbI000o6sPpTBuCp', 'history is left as it was');
      assert.equal(targets.dlv_redelivery, 'cb:req_00VcZPWbI000o6sPpTBuCq#1a2b3c4d');
      assert.equal(targets.dlv_subscription, 'sub:whk_x');
      await db.deleteFrom('webhook_deliveries').execute();
    });

    test('credentials kept in clear in the test-page history are redacted at rest', async () => {
      const db = server.services.database.db;
      const secret = 'Bearer PARTNER_SECRET_123';
      await db
        .insertInto('test_requests')
        .values({
          id: 'trq_old',
          user_id: 'usr_x',
          key_id: 'key_x',
          method: 'POST',
          path: '/api/v1/data/orders',
          request: JSON.stringify({
            headers: {
              'X-Webhook-Auth': secret,
              'X-Webhook-Auth-Header': 'X-Partner',
              'X-Note': 'kept',
              'X-Auth-Token': "s3cr'et-value",
              'X-Api-Token': '1',
            },
            body: { a: 1 },
          }),
          response: JSON.stringify({
            headers: {},
            body: {},
            // As curlOf made it: values single-quoted for the shell.
            curl: [
              `curl -X POST 'http://x/api/v1/data/orders?limit=10'`,
              `-H 'X-Webhook-Auth: ${secret}'`,
              `-H 'X-Note: kept'`,
              `-H 'X-Auth-Token: s3cr'\\''et-value'`,
              `-H 'X-Api-Token: 1'`,
            ].join(' \\\n  '),
          }),
          status: 202,
          duration_ms: 1,
          created_at: new Date().toISOString(),
        })
        .execute();
      await testRequestCredentialsMigration().up(db as never);
      const row = await db
        .selectFrom('test_requests')
        .selectAll()
        .where('id', '=', 'trq_old')
        .executeTakeFirstOrThrow();
      assert.equal(`${row.request}${row.response}`.includes('PARTNER_SECRET_123'), false, row.response);
      const request = JSON.parse(row.request);
      assert.equal(request.headers['X-Webhook-Auth'], '[redacted]');
      assert.equal(request.headers['X-Webhook-Auth-Header'], 'X-Partner');
      assert.equal(request.headers['X-Note'], 'kept');
      const curl = JSON.parse(row.response).curl as string;
      assert.match(curl, /X-Webhook-Auth: \[redacted\]/);
      assert.match(curl, /X-Auth-Token: \[redacted\]/);
      assert.equal(curl.includes('s3cr'), false, curl);
      // Only the headers' own words change: a short value elsewhere in the line is left alone.
      assert.match(curl, /\?limit=10'/);
      assert.match(curl, /X-Api-Token: \[redacted\]/);
      await db.deleteFrom('test_requests').execute();
    });

    test('SQLite drops the per-record index of the outbox that every create paid for; PostgreSQL keeps it', async () => {
      const { db, dialect } = server.services.database;
      const indexes = async () => {
        const rows =
          kind === 'sqlite'
            ? await sql<{
                name: string;
              }>`SELECT name FROM sqlite_master WHERE type = 'index' AND tbl_name = 'requests'`.execute(db)
            : await sql<{
                name: string;
              }>`SELECT indexname AS name FROM pg_indexes WHERE tablename = 'requests' AND schemaname = current_schema()`.execute(
                db,
              );
        return rows.rows.map((r) => r.name);
      };
      assert.ok((await indexes()).includes('requests_queued'));
      assert.equal((await indexes()).includes('requests_record'), kind === 'postgres');
      if (kind === 'sqlite') {
        // An installation from before: the index is there until the migration runs.
        await sql`CREATE INDEX requests_record ON requests (record_id, seq)`.execute(db);
        assert.ok((await indexes()).includes('requests_record'));
      }
      await sqliteOutboxIndexMigration(dialect.name).up(db as never);
      assert.equal((await indexes()).includes('requests_record'), kind === 'postgres');
    });

    test('usage counted by status class only keeps its counts, beside new counts by exact status', async () => {
      const { db, dialect } = server.services.database;
      await server.createEndpoint({ slug: 'orders', name: 'Orders', schema: { type: 'object' } });
      const key = await server.createKey({ name: 'legacy', environment: 'test' });
      await server.services.traffic.usage.flush();
      // The table as the earlier release created it (0003), with a day of its counts.
      await usageByClassTable(db);
      const day = new Date().toISOString().slice(0, 10);
      await sql`INSERT INTO usage_daily VALUES
        (${day}, ${key.id}, 'orders', 'test', '2xx', 5, 0),
        (${day}, ${key.id}, 'orders', 'test', '4xx', 3, 1)`.execute(db);

      await usageStatusMigration(dialect.name).up(db as never);

      // Counted now, the same day: 202 and 404 come beside the old 2xx and 4xx rows.
      const missing = '/api/v1/data/orders/rec_0000000000000000000000';
      assert.equal(
        (await server.request('POST', '/api/v1/data/orders', { key: key.key, json: {} })).status,
        202,
      );
      assert.equal((await server.request('GET', missing, { key: key.key })).status, 404);
      const usage = await server.admin(
        'GET',
        `/admin/v1/usage?key_id=${key.id}&group_by=status_class,status`,
      );
      assert.equal(usage.status, 200, usage.text);
      assert.deepEqual(usage.body.data.rows, [
        { status_class: '2xx', status: null, count: 5, rate_limited: 0 },
        { status_class: '2xx', status: 202, count: 1, rate_limited: 0 },
        { status_class: '4xx', status: null, count: 3, rate_limited: 1 },
        { status_class: '4xx', status: 404, count: 1, rate_limited: 0 },
      ]);
      // Quotas count the old rows as before: 5 + 3 - 1 refused + the 2 new requests.
      assert.equal(await server.services.traffic.usage.usedBetween(key.id, day, day), 9);
    });

    test("the audit log's earlier entries get the client their address is counted under", async () => {
      const { db } = server.services.database;
      // The table as the earlier release left it (0004): no client column, nor its index.
      await sql`DROP INDEX audit_log_client`.execute(db);
      await sql`ALTER TABLE audit_log DROP COLUMN client`.execute(db);
      const at = new Date().toISOString();
      const entries: Array<[string, string | null, string | null]> = [
        ['aud_legacy_v4', '203.0.113.9', '203.0.113.9'],
        ['aud_legacy_v6', '2001:db8:5:6::7', '2001:db8:5:6::/64'],
        ['aud_legacy_v6b', '2001:DB8:5:6:ffff::1', '2001:db8:5:6::/64'],
        ['aud_legacy_mapped', '::ffff:192.0.2.9', '192.0.2.9'],
        ['aud_legacy_cli', null, null],
      ];
      for (const [id, ip] of entries) {
        await sql`INSERT INTO audit_log (id, at, action, target_type, target_id, ip)
          VALUES (${id}, ${at}, 'session.sign_in_failed', 'user', 'legacy@example.com', ${ip})`.execute(db);
      }

      // Two rows a batch: the IPv6 rows take more than one.
      await auditClientMigration(2).up(db as never);

      const rows = await db
        .selectFrom('audit_log')
        .select(['id', 'ip', 'client'])
        .where('id', 'like', 'aud_legacy_%')
        .orderBy('id')
        .execute();
      assert.deepEqual(
        rows,
        entries.map(([id, ip, client]) => ({ id, ip, client })).sort((a, b) => (a.id < b.id ? -1 : 1)),
        'IPv4 as it is, IPv6 per /64, the real address kept',
      );
    });

    test('pending invites to one email that a race left keep only the newest, and a second can no longer be added', async () => {
      const { db, dialect } = server.services.database;
      // The table as the earlier release left it (0004): no index against a second pending invite.
      await sql`DROP INDEX invites_one_pending`.execute(db);
      const invite = (id: string, email: string, createdAt: string, acceptedAt: string | null) => ({
        id,
        token_hash: `hash_${id}`,
        email,
        role: 'collaborator',
        created_by: 'own_x',
        created_at: createdAt,
        expires_at: '2999-01-01T00:00:00.000Z',
        accepted_at: acceptedAt,
      });
      const t1 = '2026-01-01T00:00:00.000Z';
      const t2 = '2026-01-02T00:00:00.000Z';
      await db
        .insertInto('invites')
        .values([
          invite('inv_legacy_a1', 'ida@example.com', t1, null),
          invite('inv_legacy_a2', 'ida@example.com', t2, null),
          invite('inv_legacy_a3', 'ida@example.com', t2, null),
          invite('inv_legacy_a0', 'ida@example.com', t1, t1),
          invite('inv_legacy_b1', 'jo@example.com', t1, null),
        ])
        .execute();

      await onePendingInviteMigration().up(db as never);

      const rows = await db
        .selectFrom('invites')
        .select('id')
        .where('id', 'like', 'inv_legacy_%')
        .orderBy('id')
        .execute();
      // The newest pending one of each email (by time, then id), and the accepted one.
      assert.deepEqual(
        rows.map((r) => r.id),
        ['inv_legacy_a0', 'inv_legacy_a3', 'inv_legacy_b1'],
      );
      await assert.rejects(
        db
          .insertInto('invites')
          .values(invite('inv_legacy_b2', 'jo@example.com', t2, null))
          .execute(),
        (error: unknown) => dialect.isUniqueViolation(error),
      );
      await db
        .insertInto('invites')
        .values(invite('inv_legacy_b3', 'jo@example.com', t2, t2))
        .execute();
    });

    test('a second owner that two inits at once made becomes a collaborator, and a second can no longer be added', async () => {
      const { db, dialect } = server.services.database;
      // The table as the earlier release left it (0004): no index against a second owner.
      await sql`DROP INDEX owners_one_owner`.execute(db);
      const owner = (id: string, email: string) => ({
        id,
        email,
        password_hash: 'x',
        role: 'owner',
        created_at: '2999-01-01T00:00:00.000Z',
        last_sign_in_at: null,
      });
      await db.insertInto('owners').values(owner('usr_legacy_second', 'second@example.com')).execute();

      await oneOwnerMigration().up(db as never);

      const owners = await db
        .selectFrom('owners')
        .select(['email', 'role'])
        .where('role', '=', 'owner')
        .execute();
      assert.deepEqual(owners, [{ email: TEST_OWNER.email, role: 'owner' }]);
      const second = await db
        .selectFrom('owners')
        .select('role')
        .where('id', '=', 'usr_legacy_second')
        .executeTakeFirst();
      assert.equal(second?.role, 'collaborator');
      await assert.rejects(
        db.insertInto('owners').values(owner('usr_legacy_third', 'third@example.com')).execute(),
        (error: unknown) => dialect.isUniqueViolation(error),
      );
    });

    test('a database a later release migrated is refused, not started on', async () => {
      const { db, dialect } = server.services.database;
      await sql`INSERT INTO kysely_migration (name, timestamp) VALUES ('9999_later_release', ${new Date().toISOString()})`.execute(
        db,
      );
      try {
        // Every migration this release knows is recorded too: only the later one tells it apart.
        await assert.rejects(
          migrateToLatest(db as Kysely<unknown>, dialect.name),
          /^Error: This database was migrated by a newer Gatehouse release \(migration 9999_later_release, unknown to this one\)/,
        );
      } finally {
        await sql`DELETE FROM kysely_migration WHERE name = '9999_later_release'`.execute(db);
      }
      await migrateToLatest(db as Kysely<unknown>, dialect.name);
    });

    if (kind === 'sqlite') {
      test('SQLite: a rebuild of usage_daily that fails midway leaves the table as it was, and runs again', async () => {
        const { db, dialect } = server.services.database;
        await usageByClassTable(db);
        await sql`INSERT INTO usage_daily VALUES ('2026-11-01', 'key_old', 'orders', 'test', '2xx', 7, 0)`.execute(
          db,
        );
        // An operator's reporting view over the table: renaming the rebuilt table into place fails
        // while the view names a table that is gone.
        await sql`CREATE VIEW usage_report AS SELECT day, sum(count) AS n FROM usage_daily GROUP BY day`.execute(
          db,
        );
        const tables = async () =>
          (
            await sql<{
              name: string;
            }>`SELECT name FROM sqlite_master WHERE type = 'table' AND name LIKE 'usage_daily%' ORDER BY name`.execute(
              db,
            )
          ).rows.map((r) => r.name);

        // Pending again, as on a file from before it; run as every start runs it.
        const recorded = async () =>
          (
            await sql<{
              name: string;
            }>`SELECT name FROM kysely_migration WHERE name = '0012_usage_status'`.execute(db)
          ).rows.length;
        await sql`DELETE FROM kysely_migration WHERE name = '0012_usage_status'`.execute(db);
        const migrate = () => migrateToLatest(db as Kysely<unknown>, dialect.name);

        await assert.rejects(migrate(), /0012_usage_status failed.*usage_report/);
        assert.deepEqual(await tables(), ['usage_daily']);
        assert.deepEqual((await sql`SELECT day, count FROM usage_daily`.execute(db)).rows, [
          { day: '2026-11-01', count: 7 },
        ]);
        assert.equal(await recorded(), 0);

        await sql`DROP VIEW usage_report`.execute(db);
        await migrate();
        assert.equal(await recorded(), 1);
        assert.deepEqual(await tables(), ['usage_daily']);
        assert.deepEqual((await sql`SELECT day, status, count FROM usage_daily`.execute(db)).rows, [
          { day: '2026-11-01', status: 0, count: 7 },
        ]);
      });
    }
  });
}
