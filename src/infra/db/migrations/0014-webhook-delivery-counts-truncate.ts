import { type Kysely, type Migration, sql } from 'kysely';
import type { DialectName } from '../dialect.ts';

/**
 * PostgreSQL: `TRUNCATE webhook_deliveries` (an operator clearing the log by hand) fires no row or
 * statement trigger of 0013, so the counts kept the deliveries it removed, for good. A TRUNCATE
 * trigger now sets every counts row to 0 in the same transaction. Zeroed, not deleted: a
 * transaction that goes on writing deliveries keeps adding to the row it holds. No row can be
 * held by another transaction meanwhile (TRUNCATE waits for every writer of the deliveries).
 * SQLite has no TRUNCATE: its `DELETE` without WHERE fires the row triggers.
 */
export function webhookDeliveryCountsTruncateMigration(dialect: DialectName): Migration {
  return {
    async up(db: Kysely<unknown>) {
      if (dialect !== 'postgres') return;
      await sql`CREATE OR REPLACE FUNCTION webhook_deliveries_count_truncate() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  UPDATE webhook_delivery_counts SET pending = 0, succeeded = 0, failed = 0, cancelled = 0;
  RETURN NULL;
END
$$`.execute(db);
      await sql`DROP TRIGGER IF EXISTS webhook_deliveries_count_truncate ON webhook_deliveries`.execute(db);
      await sql`CREATE TRIGGER webhook_deliveries_count_truncate AFTER TRUNCATE ON webhook_deliveries
        FOR EACH STATEMENT EXECUTE FUNCTION webhook_deliveries_count_truncate()`.execute(db);
    },
  };
}
