import { type Kysely, type Migration, sql } from 'kysely';
import type { DialectName } from '../dialect.ts';

/**
 * `webhook_delivery_counts`: how many deliveries are kept in each status, kept by triggers on
 * `webhook_deliveries`, so that `/metrics` reads a few rows instead of counting the deliveries
 * (docs/DECISIONS.md). Every writer is covered, whatever it is: the outbox, attempts, redelivery,
 * cancelling, an endpoint's removal, the retention's purge, an older release still running.
 *
 * SQLite has one writer: one row, changed by a trigger per delivery row. PostgreSQL has many: a
 * transaction adds its changes, one statement at a time, to a row that no other transaction
 * holds (taken with SKIP LOCKED, or a new one when every row is held), so no transaction ever
 * waits for another's counts and the scrape adds up as many rows as were ever held at once.
 *
 * Each run recounts from the deliveries in the same transaction as it sets the triggers up (the
 * migrator's, migrations.ts; on PostgreSQL with writers locked out meanwhile), so the counts start
 * exact, and a run repeated after one cut short ends in the same state.
 */
export function webhookDeliveryCountsMigration(dialect: DialectName): Migration {
  return {
    async up(db: Kysely<unknown>) {
      if (dialect === 'sqlite') await sqliteCounts(db);
      else await postgresCounts(db);
    },
  };
}

const STATUSES = ['pending', 'succeeded', 'failed', 'cancelled'] as const;
/** Each status's count among the rows selected from, in the order of STATUSES. */
const COUNTED = STATUSES.map((s) => `count(*) FILTER (WHERE status = '${s}')`).join(', ');

async function sqliteCounts(db: Kysely<unknown>): Promise<void> {
  await sql`CREATE TABLE IF NOT EXISTS webhook_delivery_counts (
    shard integer PRIMARY KEY,
    pending integer NOT NULL DEFAULT 0,
    succeeded integer NOT NULL DEFAULT 0,
    failed integer NOT NULL DEFAULT 0,
    cancelled integer NOT NULL DEFAULT 0
  )`.execute(db);
  // (a = b) is 1 or 0 in SQLite: each row moves its status's column by one.
  const add = (row: 'NEW' | 'OLD', sign: '+' | '-') =>
    STATUSES.map((s) => `${s} = ${s} ${sign} (${row}.status = '${s}')`).join(', ');
  const moved = STATUSES.map((s) => `${s} = ${s} + (NEW.status = '${s}') - (OLD.status = '${s}')`).join(', ');
  const triggers: Record<string, string> = {
    webhook_deliveries_count_insert: `AFTER INSERT ON webhook_deliveries BEGIN
      UPDATE webhook_delivery_counts SET ${add('NEW', '+')} WHERE shard = 0; END`,
    webhook_deliveries_count_update: `AFTER UPDATE OF status ON webhook_deliveries
      WHEN OLD.status IS NOT NEW.status BEGIN
      UPDATE webhook_delivery_counts SET ${moved} WHERE shard = 0; END`,
    webhook_deliveries_count_delete: `AFTER DELETE ON webhook_deliveries BEGIN
      UPDATE webhook_delivery_counts SET ${add('OLD', '-')} WHERE shard = 0; END`,
  };
  for (const [name, body] of Object.entries(triggers)) {
    await sql.raw(`DROP TRIGGER IF EXISTS ${name}`).execute(db);
    await sql.raw(`CREATE TRIGGER ${name} ${body}`).execute(db);
  }
  await sql`DELETE FROM webhook_delivery_counts`.execute(db);
  await sql
    .raw(
      `INSERT INTO webhook_delivery_counts (shard, ${STATUSES.join(', ')})
       SELECT 0, ${COUNTED}
       FROM webhook_deliveries`,
    )
    .execute(db);
}

/** Runs inside the migrator's transaction. */
async function postgresCounts(db: Kysely<unknown>): Promise<void> {
  // Writers wait until the triggers and the first counts commit together: none is missed or
  // counted twice, even by a process of an older release still running.
  await sql`LOCK TABLE webhook_deliveries IN SHARE ROW EXCLUSIVE MODE`.execute(db);
  await sql`CREATE TABLE IF NOT EXISTS webhook_delivery_counts (
    shard serial PRIMARY KEY,
    pending bigint NOT NULL DEFAULT 0,
    succeeded bigint NOT NULL DEFAULT 0,
    failed bigint NOT NULL DEFAULT 0,
    cancelled bigint NOT NULL DEFAULT 0
  )`.execute(db);
  const added =
    'pending = pending + p, succeeded = succeeded + s, failed = failed + f, cancelled = cancelled + c';
  // One function for the three statement triggers (each sees the transition tables its
  // operation has): the statement's rows after, less its rows before, by status.
  await sql
    .raw(`CREATE OR REPLACE FUNCTION webhook_deliveries_count() RETURNS trigger LANGUAGE plpgsql AS $$
DECLARE
  p bigint := 0;
  s bigint := 0;
  f bigint := 0;
  c bigint := 0;
  p0 bigint := 0;
  s0 bigint := 0;
  f0 bigint := 0;
  c0 bigint := 0;
  held integer;
BEGIN
  IF TG_OP <> 'DELETE' THEN
    SELECT ${COUNTED} INTO p, s, f, c FROM new_rows;
  END IF;
  IF TG_OP <> 'INSERT' THEN
    SELECT ${COUNTED} INTO p0, s0, f0, c0 FROM old_rows;
  END IF;
  p := p - p0;
  s := s - s0;
  f := f - f0;
  c := c - c0;
  IF p = 0 AND s = 0 AND f = 0 AND c = 0 THEN
    RETURN NULL;
  END IF;
  -- The row this transaction holds already, else one nobody holds, else a new one: never a wait.
  held := nullif(current_setting('gatehouse.webhook_delivery_counts_row', true), '')::integer;
  IF held IS NOT NULL THEN
    UPDATE webhook_delivery_counts SET ${added} WHERE shard = held;
    RETURN NULL;
  END IF;
  UPDATE webhook_delivery_counts SET ${added}
    WHERE shard = (SELECT shard FROM webhook_delivery_counts
      ORDER BY random() LIMIT 1 FOR NO KEY UPDATE SKIP LOCKED)
    RETURNING shard INTO held;
  IF NOT FOUND THEN
    INSERT INTO webhook_delivery_counts (pending, succeeded, failed, cancelled)
      VALUES (p, s, f, c) RETURNING shard INTO held;
  END IF;
  PERFORM set_config('gatehouse.webhook_delivery_counts_row', held::text, true);
  RETURN NULL;
END
$$`)
    .execute(db);
  const triggers: Record<string, string> = {
    webhook_deliveries_count_insert: 'AFTER INSERT ON webhook_deliveries REFERENCING NEW TABLE AS new_rows',
    webhook_deliveries_count_update:
      'AFTER UPDATE ON webhook_deliveries REFERENCING OLD TABLE AS old_rows NEW TABLE AS new_rows',
    webhook_deliveries_count_delete: 'AFTER DELETE ON webhook_deliveries REFERENCING OLD TABLE AS old_rows',
  };
  for (const [name, event] of Object.entries(triggers)) {
    await sql.raw(`DROP TRIGGER IF EXISTS ${name} ON webhook_deliveries`).execute(db);
    await sql
      .raw(`CREATE TRIGGER ${name} ${event} FOR EACH STATEMENT EXECUTE FUNCTION webhook_deliveries_count()`)
      .execute(db);
  }
  await sql`DELETE FROM webhook_delivery_counts`.execute(db);
  await sql
    .raw(
      `INSERT INTO webhook_delivery_counts (${STATUSES.join(', ')}) SELECT ${COUNTED} FROM webhook_deliveries`,
    )
    .execute(db);
}
