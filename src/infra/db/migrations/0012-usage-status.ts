import { type Kysely, type Migration, sql } from 'kysely';
import type { DialectName } from '../dialect.ts';

/**
 * Usage is counted by exact status (429 apart from 422), as PRODUCT.md asks, not only by class.
 * Rows counted before this migration keep their class with `status` 0: their exact statuses were
 * never recorded. The primary key takes both columns, so old and new rows of one day coexist.
 * SQLite cannot change a primary key in place: the table is rebuilt (it holds one row per
 * day, key, endpoint, environment and status class, so the copy is small).
 */
export function usageStatusMigration(dialect: DialectName): Migration {
  return {
    async up(db: Kysely<unknown>) {
      if (dialect === 'postgres') {
        await sql`ALTER TABLE usage_daily ADD COLUMN status integer NOT NULL DEFAULT 0`.execute(db);
        await sql`ALTER TABLE usage_daily DROP CONSTRAINT usage_daily_pk`.execute(db);
        await sql`ALTER TABLE usage_daily ADD CONSTRAINT usage_daily_pk
          PRIMARY KEY (day, key_id, endpoint, environment, status_class, status)`.execute(db);
        return;
      }
      // In the migrator's one transaction (migrations.ts), on SQLite too: a step that fails (a view
      // over the table makes the rename fail) or a crash leaves the table as it was, to migrate
      // again, not dropped with its counts in usage_daily_next.
      await sql`CREATE TABLE usage_daily_next (
        day text NOT NULL,
        key_id text NOT NULL,
        endpoint text NOT NULL,
        environment text NOT NULL,
        status_class text NOT NULL,
        status integer NOT NULL DEFAULT 0,
        count integer NOT NULL,
        rate_limited integer NOT NULL,
        CONSTRAINT usage_daily_pk PRIMARY KEY (day, key_id, endpoint, environment, status_class, status)
      )`.execute(db);
      await sql`INSERT INTO usage_daily_next
          (day, key_id, endpoint, environment, status_class, status, count, rate_limited)
        SELECT day, key_id, endpoint, environment, status_class, 0, count, rate_limited
        FROM usage_daily`.execute(db);
      await sql`DROP TABLE usage_daily`.execute(db);
      await sql`ALTER TABLE usage_daily_next RENAME TO usage_daily`.execute(db);
      await sql`CREATE INDEX usage_daily_key ON usage_daily (key_id, day)`.execute(db);
    },
  };
}
