import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import pg from 'pg';
import { createServices } from '../src/app.ts';
import { loadConfig } from '../src/config.ts';
import { createUsageMeter, type UsageEvent } from '../src/usage/usage-meter.ts';
import { createTestDatabase, databaseKinds, type TestDatabase } from './helpers/database.ts';

/**
 * Two servers on one PostgreSQL each flush their usage counts every few seconds, in one
 * transaction of upserts: rows counted in another order by each must not deadlock them (one
 * flush then fails; at shutdown its counts are lost).
 */
describe('usage flushes of two processes on one PostgreSQL', {
  skip: !databaseKinds.includes('postgres'),
}, () => {
  let database: TestDatabase;
  let services: Awaited<ReturnType<typeof createServices>>;
  let blocker: pg.Client;
  /** Outside the blocker's transaction, whose view of pg_stat_activity would stay as first read. */
  let watcher: pg.Client;

  before(async () => {
    database = await createTestDatabase('postgres');
    services = await createServices(loadConfig({ DATABASE_URL: database.url, LOG_LEVEL: 'silent' }));
    blocker = new pg.Client({ connectionString: database.url });
    await blocker.connect();
    watcher = new pg.Client({ connectionString: database.url });
    await watcher.connect();
  });
  after(async () => {
    await blocker.end();
    await watcher.end();
    await services.close();
    await database.drop();
  });

  const at = Date.UTC(2026, 11, 1, 12);
  const event = (keyId: string): UsageEvent => ({
    keyId,
    endpoint: 'orders',
    environment: 'test',
    status: 202,
    rateLimited: false,
    at,
  });

  /** Waits (bounded) until `n` sessions of the test database wait for a row lock. */
  async function waitingForLocks(n: number): Promise<void> {
    const deadline = Date.now() + 10_000;
    for (;;) {
      const { rows } = await watcher.query(
        "select count(*)::int as n from pg_stat_activity where datname = current_database() and wait_event_type = 'Lock'",
      );
      if ((rows[0] as { n: number }).n >= n) return;
      if (Date.now() > deadline) assert.fail(`${n} flushes never waited for the held row`);
      await new Promise((resolve) => setTimeout(resolve, 20));
    }
  }

  test('rows counted in opposite orders are written by both, without a deadlock', async () => {
    const { db } = services.database;
    const seed = createUsageMeter(db);
    seed.record(event('key_a'));
    seed.record(event('key_b'));
    await seed.flush();

    // One process counted key_a first, the other key_b first.
    const first = createUsageMeter(db);
    first.record(event('key_a'));
    first.record(event('key_b'));
    const second = createUsageMeter(db);
    second.record(event('key_b'));
    second.record(event('key_a'));

    // Both flushes meet at key_a's row, which a third transaction holds until both wait for it.
    await blocker.query('begin');
    await blocker.query("select 1 from usage_daily where key_id = 'key_a' for update");
    const flushes = [first.flush()];
    await waitingForLocks(1);
    flushes.push(second.flush());
    await waitingForLocks(2);
    await blocker.query('commit');

    const results = await Promise.allSettled(flushes);
    assert.deepEqual(
      results.map((r) => (r.status === 'rejected' ? String(r.reason) : 'written')),
      ['written', 'written'],
    );
    const counts = await db.selectFrom('usage_daily').select(['key_id', 'count']).orderBy('key_id').execute();
    assert.deepEqual(
      counts.map((r) => [r.key_id, Number(r.count)]),
      [
        ['key_a', 3],
        ['key_b', 3],
      ],
    );
  });
});
