import { type Kysely, type Migration, sql } from 'kysely';
import type { DialectName } from '../dialect.ts';

/**
 * SQLite no longer keeps `requests_record` (record_id, seq): every create paid for it, and only
 * the outbox's "no earlier queued request for this record" check read it, a check SQLite does
 * not need. With one writer, `seq` follows commit order, and the outbox claims the first queued
 * requests in `seq` order in one serializable transaction: a request's earlier ones for the same
 * record are always in its own batch, ahead of it. PostgreSQL keeps the index: there, workers
 * claim with SKIP LOCKED, so a batch need not be a prefix of the queue.
 */
export function sqliteOutboxIndexMigration(dialect: DialectName): Migration {
  return {
    async up(db: Kysely<unknown>) {
      if (dialect === 'sqlite') await sql`DROP INDEX IF EXISTS requests_record`.execute(db);
    },
  };
}
