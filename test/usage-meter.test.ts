import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { sql } from 'kysely';
import { createServices } from '../src/app.ts';
import { loadConfig } from '../src/config.ts';
import { createUsageMeter, type UsageEvent } from '../src/usage/usage-meter.ts';
import { createTestDatabase, type TestDatabase } from './helpers/database.ts';

/**
 * The usage meter on its own, over a real SQLite file: counts kept in memory per day, key,
 * endpoint, environment and status class, written by flush, and kept (merged with newer ones)
 * when a flush fails.
 */

let database: TestDatabase;
let services: Awaited<ReturnType<typeof createServices>>;

before(async () => {
  database = await createTestDatabase('sqlite');
  services = await createServices(loadConfig({ DATABASE_URL: database.url, LOG_LEVEL: 'silent' }));
});

after(async () => {
  await services.close();
  await database.drop();
});

// 2026-11-30 23:59:59.900 UTC, and 200 ms later, the next day.
const late = Date.UTC(2026, 10, 30, 23, 59, 59, 900);
const early = late + 200;

function event(keyId: string, endpoint: string, status: number, at: number, rateLimited = false): UsageEvent {
  return { keyId, endpoint, environment: 'test', status, rateLimited, at };
}

async function rows(): Promise<Record<string, [number, number]>> {
  const all = await services.database.db.selectFrom('usage_daily').selectAll().execute();
  return Object.fromEntries(
    all.map((r) => [
      `${r.day} ${r.key_id} ${r.endpoint || '-'} ${r.environment} ${r.status_class} ${r.status}`,
      [Number(r.count), Number(r.rate_limited)],
    ]),
  );
}

test('counts are kept apart by day, key, endpoint and status, and written once', async () => {
  const meter = createUsageMeter(services.database.db);
  const events = [
    event('key_a', 'orders', 202, late),
    event('key_a', 'orders', 202, late),
    event('key_a', 'orders', 404, late),
    event('key_a', 'orders', 422, late),
    event('key_a', 'orders', 404, late),
    event('key_a', 'orders', 202, early),
    event('key_a', 'items', 202, early),
    event('key_a', '', 429, early, true),
    event('key_b', 'orders', 202, late),
    event('key_b', 'orders', 500, late),
    { ...event('key_b', 'orders', 202, late), environment: 'live' },
  ];
  for (const e of events) meter.record(e);
  // Unflushed counts are already part of what a key has used; refusals are not.
  assert.equal(await meter.usedBetween('key_a', '2026-11-30', '2026-12-01'), 7);
  assert.equal(await meter.usedBetween('key_a', '2026-12-01', '2026-12-01'), 2);
  await meter.flush();
  const expected = {
    '2026-11-30 key_a orders test 2xx 202': [2, 0],
    '2026-11-30 key_a orders test 4xx 404': [2, 0],
    '2026-11-30 key_a orders test 4xx 422': [1, 0],
    '2026-12-01 key_a orders test 2xx 202': [1, 0],
    '2026-12-01 key_a items test 2xx 202': [1, 0],
    '2026-12-01 key_a - test 4xx 429': [1, 1],
    '2026-11-30 key_b orders test 2xx 202': [1, 0],
    '2026-11-30 key_b orders test 5xx 500': [1, 0],
    '2026-11-30 key_b orders live 2xx 202': [1, 0],
  };
  assert.deepEqual(await rows(), expected);
  // A second flush with nothing new writes nothing more.
  await meter.flush();
  assert.deepEqual(await rows(), expected);
  assert.equal(await meter.usedBetween('key_a', '2026-11-30', '2026-12-01'), 7);
});

test('a failed flush keeps its counts, added to those counted since', async () => {
  const db = services.database.db;
  await db.deleteFrom('usage_daily').execute();
  const meter = createUsageMeter(db);
  meter.record(event('key_c', 'orders', 202, late));
  meter.record(event('key_c', 'orders', 400, late));
  await sql`ALTER TABLE usage_daily RENAME TO usage_daily_away`.execute(db);
  try {
    await assert.rejects(meter.flush());
  } finally {
    await sql`ALTER TABLE usage_daily_away RENAME TO usage_daily`.execute(db);
  }
  assert.deepEqual(await rows(), {});
  meter.record(event('key_c', 'orders', 202, late));
  assert.equal(await meter.usedBetween('key_c', '2026-11-30', '2026-11-30'), 3);
  await meter.flush();
  assert.deepEqual(await rows(), {
    '2026-11-30 key_c orders test 2xx 202': [2, 0],
    '2026-11-30 key_c orders test 4xx 400': [1, 0],
  });
});
