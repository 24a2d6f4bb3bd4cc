import { type Kysely, type Migration, sql } from 'kysely';

/**
 * At most one pending invite per email, kept by the database: a re-invite replaces the pending one
 * (dashboard/user-service.ts), and two sent at once must not both stay valid. Duplicates that such
 * a race left before this release go first, keeping each email's newest (the link sent last).
 */
export function onePendingInviteMigration(): Migration {
  return {
    async up(db: Kysely<unknown>) {
      await sql`DELETE FROM invites WHERE accepted_at IS NULL AND EXISTS (
        SELECT 1 FROM invites newer WHERE newer.email = invites.email AND newer.accepted_at IS NULL
          AND (newer.created_at > invites.created_at
            OR (newer.created_at = invites.created_at AND newer.id > invites.id)))`.execute(db);
      await sql`CREATE UNIQUE INDEX invites_one_pending ON invites (email) WHERE accepted_at IS NULL`.execute(
        db,
      );
    },
  };
}
