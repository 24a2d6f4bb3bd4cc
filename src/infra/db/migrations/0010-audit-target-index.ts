import type { Kysely, Migration } from 'kysely';

/**
 * The audit log by target and action: how many wrong current passwords a user gave lately, and
 * whether a user signed in from an address in the last 30 days (dashboard/user-service.ts). Both
 * are asked while someone guesses passwords, so neither may scan the log.
 */
export function auditTargetIndexMigration(): Migration {
  return {
    async up(db: Kysely<unknown>) {
      await db.schema
        .createIndex('audit_log_target')
        .on('audit_log')
        .columns(['target_id', 'action', 'at'])
        .execute();
    },
  };
}
