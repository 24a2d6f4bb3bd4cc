import type { Kysely, Migration } from 'kysely';

/** App APIs: owner-defined routes (the draft) and the immutable versions deployed to `live`. */
export function appsMigration(): Migration {
  return {
    async up(db: Kysely<unknown>) {
      await db.schema
        .createTable('apps')
        .addColumn('slug', 'text', (c) => c.primaryKey())
        .addColumn('name', 'text', (c) => c.notNull())
        // The draft's routes, as JSON text; validated before it is stored.
        .addColumn('definition', 'text', (c) => c.notNull())
        .addColumn('draft_revision', 'integer', (c) => c.notNull())
        .addColumn('live_version', 'integer')
        .addColumn('created_at', 'text', (c) => c.notNull())
        .addColumn('updated_at', 'text', (c) => c.notNull())
        .execute();
      await db.schema
        .createTable('app_versions')
        .addColumn('app_slug', 'text', (c) => c.notNull().references('apps.slug').onDelete('cascade'))
        .addColumn('version', 'integer', (c) => c.notNull())
        .addColumn('name', 'text', (c) => c.notNull())
        .addColumn('definition', 'text', (c) => c.notNull())
        .addColumn('created_at', 'text', (c) => c.notNull())
        .addPrimaryKeyConstraint('app_versions_pk', ['app_slug', 'version'])
        .execute();
    },
  };
}
