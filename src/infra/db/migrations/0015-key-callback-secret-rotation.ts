import type { Kysely, Migration } from 'kysely';

/**
 * A key's callback signing secret can be rotated on its own: the generation it is derived with
 * (0, the secret every key had before, until the first rotation) and when the generation before
 * it stops signing alongside (null: no rotation, or none in its overlap).
 */
export function keyCallbackSecretRotationMigration(): Migration {
  return {
    async up(db: Kysely<unknown>) {
      await db.schema
        .alterTable('api_keys')
        .addColumn('callback_secret_generation', 'integer', (c) => c.notNull().defaultTo(0))
        .execute();
      await db.schema.alterTable('api_keys').addColumn('callback_secret_previous_until', 'text').execute();
    },
  };
}
