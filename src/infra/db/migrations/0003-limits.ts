import type { Kysely, Migration } from 'kysely';

/** Usage counters per day, and idempotency keys with the response they produced. */
export function limitsMigration(): Migration {
  return {
    async up(db: Kysely<unknown>) {
      await db.schema
        .createTable('usage_daily')
        .addColumn('day', 'text', (c) => c.notNull())
        .addColumn('key_id', 'text', (c) => c.notNull())
        // The data endpoint's slug; '' for requests that are not about one endpoint (e.g. /account).
        .addColumn('endpoint', 'text', (c) => c.notNull())
        .addColumn('environment', 'text', (c) => c.notNull())
        .addColumn('status_class', 'text', (c) => c.notNull())
        .addColumn('count', 'integer', (c) => c.notNull())
        // Of `count`, how many were refused by a rate limit or quota (and so did not use it up).
        .addColumn('rate_limited', 'integer', (c) => c.notNull())
        .addPrimaryKeyConstraint('usage_daily_pk', [
          'day',
          'key_id',
          'endpoint',
          'environment',
          'status_class',
        ])
        .execute();
      await db.schema.createIndex('usage_daily_key').on('usage_daily').columns(['key_id', 'day']).execute();
      await db.schema
        .createTable('idempotency_keys')
        .addColumn('key_id', 'text', (c) => c.notNull())
        .addColumn('idempotency_key', 'text', (c) => c.notNull())
        .addColumn('fingerprint', 'text', (c) => c.notNull())
        .addColumn('request_id', 'text', (c) => c.notNull())
        .addColumn('record_id', 'text', (c) => c.notNull())
        .addColumn('status_code', 'integer', (c) => c.notNull())
        .addColumn('response_body', 'text', (c) => c.notNull())
        .addColumn('created_at', 'text', (c) => c.notNull())
        .addColumn('expires_at', 'text', (c) => c.notNull())
        .addPrimaryKeyConstraint('idempotency_keys_pk', ['key_id', 'idempotency_key'])
        .execute();
      await db.schema
        .createIndex('idempotency_keys_expiry')
        .on('idempotency_keys')
        .column('expires_at')
        .execute();
    },
  };
}
