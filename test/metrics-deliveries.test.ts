import assert from 'node:assert/strict';
import { createServer, type ServerResponse } from 'node:http';
import { dirname, join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import BetterSqlite3 from 'better-sqlite3';
import { sql } from 'kysely';
import pg from 'pg';
import { webhookDeliveryCountsMigration } from '../src/infra/db/migrations/0013-webhook-delivery-counts.ts';
import { backupSqlite } from '../src/infra/db/sqlite-backup.ts';
import { databaseKinds } from './helpers/database.ts';
import { deliveryRow } from './helpers/delivery-row.ts';
import { startTestServer, type TestServer } from './helpers/server.ts';
import { until } from './helpers/until.ts';

/**
 * `gatehouse_webhook_deliveries{status}` reads counts kept by triggers on webhook_deliveries
 * (migration 0013), not the deliveries themselves: the figures stay exact through every way a
 * delivery is made, moves, ends or goes, and a scrape costs the same however many are kept.
 */

const STATUSES = ['pending', 'succeeded', 'failed', 'cancelled'] as const;
type Counts = Record<(typeof STATUSES)[number], number>;

async function gauge(server: TestServer): Promise<Counts> {
  const response = await fetch(`${server.url}/metrics`);
  const text = await response.text();
  assert.equal(response.status, 200, text);
  const counts = {} as Counts;
  for (const status of STATUSES) {
    const line = new RegExp(`^gatehouse_webhook_deliveries\\{status="${status}"\\} (\\d+)$`, 'm').exec(text);
    assert.ok(line, `no ${status} series in\n${text}`);
    counts[status] = Number(line[1]);
  }
  return counts;
}

/** What the deliveries table holds now, counted the slow way. */
async function truth(server: TestServer): Promise<Counts> {
  const rows = await server.services.database.db
    .selectFrom('webhook_deliveries')
    .select(['status', (eb) => eb.fn.countAll<number>().as('n')])
    .groupBy('status')
    .execute();
  const counts: Counts = { pending: 0, succeeded: 0, failed: 0, cancelled: 0 };
  for (const row of rows) counts[row.status as keyof Counts] = Number(row.n);
  return counts;
}

/** The gauge reads `expected`, and so does a count of the deliveries themselves. */
async function expectCounts(server: TestServer, expected: Counts, what: string): Promise<void> {
  assert.deepEqual(await truth(server), expected, `${what}: the deliveries themselves`);
  assert.deepEqual(await gauge(server), expected, `${what}: the gauge`);
}

const counts = (pending: number, succeeded: number, failed: number, cancelled: number): Counts => ({
  pending,
  succeeded,
  failed,
  cancelled,
});

/** A receiver on 127.0.0.1: `/ok` answers 200, `/fail` 500, `/hold` only when released (then 500). */
async function hookReceiver() {
  const held: ServerResponse[] = [];
  const server = createServer((req, res) => {
    req.resume();
    req.on('end', () => {
      if (req.url === '/ok') res.writeHead(200).end('ok');
      else if (req.url === '/hold') held.push(res);
      else res.writeHead(500).end('no');
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const address = server.address();
  const base = `http://127.0.0.1:${typeof address === 'object' && address ? address.port : 0}`;
  return {
    base,
    held,
    release() {
      for (const res of held.splice(0)) res.writeHead(500).end('no');
    },
    async close() {
      server.closeAllConnections();
      await new Promise((resolve) => server.close(resolve));
    },
  };
}

/** Sets the status of the deliveries whose id is (or is `like`) `id`, as hand-written SQL would. */
async function setStatus(server: TestServer, status: string, op: '=' | 'like', id: string): Promise<void> {
  await server.services.database.db
    .updateTable('webhook_deliveries')
    .set({ status })
    .where('id', op, id)
    .execute();
}

for (const kind of databaseKinds) {
  describe(`gatehouse_webhook_deliveries follows every delivery (${kind})`, () => {
    let server: TestServer;
    let hook: Awaited<ReturnType<typeof hookReceiver>>;
    let key: string;

    before(async () => {
      server = await startTestServer(kind, { GATEHOUSE_WEBHOOK_ALLOW_NETS: '127.0.0.0/8' }, { worker: true });
      hook = await hookReceiver();
      await server.createEndpoint({
        slug: 'orders',
        name: 'Orders',
        schema: { type: 'object' },
        retry: { max_retries: 0, interval_seconds: 1 },
      });
      key = (await server.createKey({ name: 'k', environment: 'test' })).key;
    });
    after(async () => {
      hook.release();
      await server.close();
      await hook.close();
    });

    const subscribe = async (slug: string, path: string) => {
      const res = await server.admin('POST', `/admin/v1/endpoints/${slug}/webhooks`, {
        url: `${hook.base}${path}`,
        environment: 'test',
      });
      assert.equal(res.status, 201, res.text);
      return res.body.data.id as string;
    };
    const write = async (slug: string, n: number) => {
      const res = await server.request('POST', `/api/v1/data/${slug}`, { key, json: { n } });
      assert.equal(res.status, 202, res.text);
      return res.body.id as string;
    };
    /** Waits until `n` attempts (answers included) are in the log. */
    const attemptsRecorded = async (n: number) => {
      const recorded = await until(
        async () =>
          Number(
            (
              await server.services.database.db
                .selectFrom('webhook_attempts')
                .select((eb) => eb.fn.countAll<number>().as('n'))
                .executeTakeFirstOrThrow()
            ).n,
          ),
        (found) => found === n,
      );
      assert.equal(recorded, n);
    };
    const heldByReceiver = (n: number) =>
      until(
        async () => hook.held.length,
        (found) => found === n,
      );
    const settled = (expected: Counts) =>
      until(
        () => truth(server),
        (now) => JSON.stringify(now) === JSON.stringify(expected),
      );

    test('new, succeeded, finally failed, cancelled, redelivered, ended by the endpoint removal, purged', async () => {
      await expectCounts(server, counts(0, 0, 0, 0), 'none yet');
      await subscribe('orders', '/ok');
      await subscribe('orders', '/fail');
      const holding = await subscribe('orders', '/hold');

      // Two writes: to each subscription a delivery; /hold keeps its two in flight (pending).
      await write('orders', 1);
      await write('orders', 2);
      await settled(counts(2, 2, 2, 0));
      await heldByReceiver(2);
      await expectCounts(server, counts(2, 2, 2, 0), 'two succeeded, two failed (no retry), two in flight');

      // Turning the subscription off cancels its deliveries still to go; the receiver then
      // answers 500 to those in flight, which leaves them cancelled.
      const off = await server.admin('PATCH', `/admin/v1/webhooks/${holding}`, { enabled: false });
      assert.equal(off.status, 200, off.text);
      await expectCounts(server, counts(0, 2, 2, 2), 'cancelled');
      hook.release();
      await attemptsRecorded(6);
      await expectCounts(server, counts(0, 2, 2, 2), 'the answers to cancelled deliveries change nothing');

      // A redelivery is a new delivery: pending, then its outcome.
      const list = await server.admin('GET', '/admin/v1/deliveries?status=succeeded');
      const again = await server.admin('POST', `/admin/v1/deliveries/${list.body.data[0].id}/redeliver`);
      assert.equal(again.status, 202, again.text);
      await settled(counts(0, 3, 2, 2));
      await expectCounts(server, counts(0, 3, 2, 2), 'redelivered');

      // Removing an endpoint ends its pending deliveries as failed.
      await server.createEndpoint({ slug: 'doomed', name: 'Doomed', schema: { type: 'object' } });
      await subscribe('doomed', '/hold');
      await write('doomed', 3);
      await settled(counts(1, 3, 2, 2));
      await heldByReceiver(1);
      await expectCounts(server, counts(1, 3, 2, 2), 'one in flight for the doomed endpoint');
      const removed = await server.admin('DELETE', '/admin/v1/endpoints/doomed');
      assert.equal(removed.status, 200, removed.text);
      await expectCounts(server, counts(0, 3, 3, 2), 'ended by the removal of its endpoint');
      hook.release();
      await attemptsRecorded(8);
      await expectCounts(server, counts(0, 3, 3, 2), 'its answer after the removal changes nothing');

      // The retention's purge: ended deliveries older than 30 days go, pending ones stay.
      const db = server.services.database.db;
      const old = new Date(Date.now() - 40 * 86_400_000).toISOString();
      const some = await db
        .selectFrom('webhook_deliveries')
        .select(['id', 'status'])
        .orderBy('seq')
        .execute();
      const aged = [
        some.find((d) => d.status === 'succeeded')?.id,
        some.find((d) => d.status === 'failed')?.id,
        some.find((d) => d.status === 'cancelled')?.id,
      ].filter((id): id is string => id !== undefined);
      assert.equal(aged.length, 3);
      // A change of other columns (as a claim's lease or a retry makes) leaves the counts alone.
      await db.updateTable('webhook_deliveries').set({ created_at: old }).where('id', 'in', aged).execute();
      await db
        .insertInto('webhook_deliveries')
        .values(deliveryRow('dlv_old_pending', 'pending', old))
        .execute();
      await expectCounts(server, counts(1, 3, 3, 2), 'aged, not yet purged');
      const worker = server.services.webhooks.createWorker();
      await worker.prune();
      await worker.stop();
      await expectCounts(server, counts(1, 2, 2, 1), 'purged by the retention');
      await db.deleteFrom('webhook_deliveries').where('id', '=', 'dlv_old_pending').execute();
      await expectCounts(server, counts(0, 2, 2, 1), 'deleted');
    });
  });

  describe(`a scrape does not read the deliveries (${kind})`, () => {
    let server: TestServer;
    before(async () => {
      server = await startTestServer(kind);
    });
    after(() => server.close());

    test('rows written by SQL alone are counted (by the triggers), and the scrape answers with the table out of reach', async () => {
      const db = server.services.database.db;
      await db
        .insertInto('webhook_deliveries')
        .values([
          ...Array.from({ length: 500 }, (_, i) => deliveryRow(`dlv_p${i}`, 'pending')),
          ...Array.from({ length: 30 }, (_, i) => deliveryRow(`dlv_s${i}`, 'succeeded')),
          deliveryRow('dlv_f', 'failed'),
        ])
        .execute();
      await expectCounts(server, counts(500, 30, 1, 0), 'inserted');
      // Many rows in one statement, moved both ways, and a status set to what it already is.
      await setStatus(server, 'cancelled', 'like', 'dlv_p1%');
      await setStatus(server, 'pending', '=', 'dlv_f');
      await setStatus(server, 'pending', '=', 'dlv_p0');
      await expectCounts(server, counts(390, 30, 0, 111), 'moved');
      await db.deleteFrom('webhook_deliveries').where('status', '=', 'succeeded').execute();
      await expectCounts(server, counts(390, 0, 0, 111), 'deleted');

      // The deliveries table out of reach (renamed away): the scrape still answers, the same.
      await sql`ALTER TABLE webhook_deliveries RENAME TO webhook_deliveries_away`.execute(db);
      try {
        assert.deepEqual(await gauge(server), counts(390, 0, 0, 111));
      } finally {
        await sql`ALTER TABLE webhook_deliveries_away RENAME TO webhook_deliveries`.execute(db);
      }
      await db.deleteFrom('webhook_deliveries').execute();
      await expectCounts(server, counts(0, 0, 0, 0), 'all deleted');
    });

    test('the migration counts the deliveries an earlier release left, once; run again, it recounts', async () => {
      const { db, dialect } = server.services.database;
      // An installation from before: no counts table, no triggers, deliveries kept.
      if (kind === 'sqlite') {
        for (const op of ['insert', 'update', 'delete']) {
          await sql.raw(`DROP TRIGGER webhook_deliveries_count_${op}`).execute(db);
        }
        await sql`DROP TABLE webhook_delivery_counts`.execute(db);
      } else {
        await sql`DROP FUNCTION webhook_deliveries_count() CASCADE`.execute(db);
        await sql`DROP TABLE webhook_delivery_counts`.execute(db);
      }
      await db
        .insertInto('webhook_deliveries')
        .values([
          deliveryRow('dlv_a', 'pending'),
          deliveryRow('dlv_b', 'pending'),
          deliveryRow('dlv_c', 'succeeded'),
          deliveryRow('dlv_d', 'failed'),
          deliveryRow('dlv_e', 'cancelled'),
          deliveryRow('dlv_f', 'cancelled'),
          deliveryRow('dlv_g', 'cancelled'),
        ])
        .execute();
      // In a transaction, as the migrator runs it (migrations.ts).
      const migrate = () =>
        db.transaction().execute((trx) => webhookDeliveryCountsMigration(dialect.name).up(trx as never));
      await migrate();
      await expectCounts(server, counts(2, 1, 1, 3), 'counted by the migration');
      await setStatus(server, 'succeeded', '=', 'dlv_a');
      await expectCounts(server, counts(1, 2, 1, 3), 'then kept by its triggers');
      await migrate();
      await expectCounts(server, counts(1, 2, 1, 3), 'a second run recounts: nothing counted twice');
      await db.deleteFrom('webhook_deliveries').execute();
      await expectCounts(server, counts(0, 0, 0, 0), 'all deleted');
    });
  });
}

if (databaseKinds.includes('sqlite')) {
  describe('SQLite: a backup carries the counts and their triggers', () => {
    let server: TestServer;
    before(async () => {
      server = await startTestServer('sqlite');
    });
    after(() => server.close());

    test('the copy counts what it holds, and goes on counting', async () => {
      const db = server.services.database.db;
      await db
        .insertInto('webhook_deliveries')
        .values([deliveryRow('dlv_a', 'pending'), deliveryRow('dlv_b', 'succeeded')])
        .execute();
      const path = server.database.config.kind === 'sqlite' ? server.database.config.path : '';
      const copy = join(dirname(path), 'backup.db');
      backupSqlite(path, copy);
      const restored = new BetterSqlite3(copy);
      try {
        const read = () =>
          restored.prepare('SELECT pending, succeeded, failed, cancelled FROM webhook_delivery_counts').all();
        assert.deepEqual(read(), [counts(1, 1, 0, 0)]);
        restored.prepare(`UPDATE webhook_deliveries SET status = 'failed' WHERE id = 'dlv_a'`).run();
        assert.deepEqual(read(), [counts(0, 1, 1, 0)]);
      } finally {
        restored.close();
      }
    });
  });
}

if (databaseKinds.includes('postgres')) {
  describe('PostgreSQL: writers never wait on the counts', () => {
    let server: TestServer;
    const clients: pg.Client[] = [];
    before(async () => {
      server = await startTestServer('postgres');
    });
    after(async () => {
      for (const client of clients) await client.end().catch(() => {});
      await server.close();
    });
    const connect = async () => {
      const client = new pg.Client({ connectionString: server.database.url });
      await client.connect();
      clients.push(client);
      // A wait that should not happen fails the statement instead of hanging the test.
      await client.query(`SET lock_timeout = '3s'`);
      return client;
    };
    const insert = (client: pg.Client, id: string, status: string) =>
      client.query(
        `INSERT INTO webhook_deliveries (id, event_id, event_type, target, url, origin, endpoint_id, environment,
           request_id, record_id, status, attempts, max_attempts, interval_seconds, next_attempt_at, created_at, updated_at)
         VALUES ($1, 'evt', 'record.created', $1, 'https://x.example/', 'https://x.example', 'ep', 'test',
           'req', 'rec', $2, 0, 1, 60, '2999-01-01', now()::text, now()::text)`,
        [id, status],
      );

    test('TRUNCATE by hand empties the counts with the deliveries; a rolled-back one changes nothing', async () => {
      const a = await connect();
      const b = await connect();
      // Counts spread over two rows: two transactions open at once.
      await a.query('BEGIN');
      await b.query('BEGIN');
      await insert(a, 'dlv_t1', 'pending');
      await insert(b, 'dlv_t2', 'failed');
      await a.query('COMMIT');
      await b.query('COMMIT');
      await expectCounts(server, counts(1, 0, 1, 0), 'before');
      await a.query('BEGIN');
      await a.query('TRUNCATE webhook_deliveries');
      await a.query('ROLLBACK');
      await expectCounts(server, counts(1, 0, 1, 0), 'rolled back');
      // In one transaction: a delivery, the TRUNCATE, then another.
      await a.query('BEGIN');
      await insert(a, 'dlv_t3', 'succeeded');
      await a.query('TRUNCATE webhook_deliveries');
      await insert(a, 'dlv_t4', 'cancelled');
      await a.query('COMMIT');
      await expectCounts(server, counts(0, 0, 0, 1), 'truncated');
      await a.query('TRUNCATE webhook_deliveries');
      await expectCounts(server, counts(0, 0, 0, 0), 'truncated again');
    });

    test('transactions open at once each count on a row of their own; one that then waits on another cannot deadlock', async () => {
      const a = await connect();
      const b = await connect();
      await insert(a, 'dlv_1', 'pending');
      await insert(a, 'dlv_2', 'pending');
      await a.query(
        `INSERT INTO webhook_subscriptions (id, endpoint_id, environment, url, events, secret, enabled, created_at, updated_at)
         VALUES ('whk_x', 'ep', 'test', 'https://x.example/', '[]', 's', 1, '', '')`,
      );
      await a.query('BEGIN');
      await b.query('BEGIN');
      // b holds a subscription's row first, as an attempt's transaction does...
      await b.query(`SELECT id FROM webhook_subscriptions WHERE id = 'whk_x' FOR UPDATE`);
      // ...a moves a delivery (and so changes the counts), then waits for that subscription...
      await a.query(`UPDATE webhook_deliveries SET status = 'succeeded' WHERE id = 'dlv_1'`);
      const waiting = a.query(`SELECT id FROM webhook_subscriptions WHERE id = 'whk_x' FOR UPDATE`);
      // ...while b moves another and makes a new one: on the counts' row a holds, b would wait
      // for a, and a for b.
      await b.query(`UPDATE webhook_deliveries SET status = 'cancelled' WHERE id = 'dlv_2'`);
      await insert(b, 'dlv_3', 'pending');
      await b.query('COMMIT');
      await waiting;
      await a.query('COMMIT');
      await expectCounts(server, counts(1, 1, 0, 1), 'both committed');
      const rows = await server.services.database.db
        .selectFrom('webhook_delivery_counts')
        .selectAll()
        .execute();
      assert.equal(rows.length, 2, 'a row for each transaction that was open at once');
    });

    test('many writers at once: the counts stay exact, on no more rows than were held at once', async () => {
      const db = server.services.database.db;
      const before = await truth(server);
      const writers = await Promise.all(Array.from({ length: 8 }, () => connect()));
      await Promise.all(
        writers.map(async (client, w) => {
          for (let i = 0; i < 20; i++) {
            await client.query('BEGIN');
            await insert(client, `dlv_w${w}_${i}`, 'pending');
            await insert(client, `dlv_w${w}_${i}b`, 'pending');
            await client.query(`UPDATE webhook_deliveries SET status = 'succeeded' WHERE id = $1`, [
              `dlv_w${w}_${i}`,
            ]);
            if (i % 2 === 0)
              await client.query(`DELETE FROM webhook_deliveries WHERE id = $1`, [`dlv_w${w}_${i}b`]);
            await client.query(i % 5 === 0 ? 'ROLLBACK' : 'COMMIT');
          }
        }),
      );
      // 16 of each writer's 20 transactions committed: 16 succeeded, 8 still pending.
      await expectCounts(
        server,
        {
          ...before,
          pending: before.pending + 8 * 8,
          succeeded: before.succeeded + 8 * 16,
        },
        'after the writers',
      );
      const rows = await db.selectFrom('webhook_delivery_counts').selectAll().execute();
      assert.ok(rows.length <= 2 + 8, `${rows.length} rows`);
    });
  });
}
