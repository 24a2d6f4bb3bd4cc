import { type Kysely, type Migration, sql } from 'kysely';

/**
 * One owner per installation, kept by the database: `gatehouse init` makes it, and two inits run
 * at once against one database must not both succeed (accounts/owner-service.ts). An owner that
 * such a race made before this release becomes a collaborator: the first one made stays owner.
 */
export function oneOwnerMigration(): Migration {
  return {
    async up(db: Kysely<unknown>) {
      await sql`UPDATE owners SET role = 'collaborator' WHERE role = 'owner' AND EXISTS (
        SELECT 1 FROM owners older WHERE older.role = 'owner'
          AND (older.created_at < owners.created_at
            OR (older.created_at = owners.created_at AND older.id < owners.id)))`.execute(db);
      await sql`CREATE UNIQUE INDEX owners_one_owner ON owners (role) WHERE role = 'owner'`.execute(db);
    },
  };
}
