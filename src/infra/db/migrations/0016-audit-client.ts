import { type Kysely, type Migration, sql } from 'kysely';
import { clientScope } from '../../../limits/client-scope.ts';

/**
 * The audit log keeps, beside the address an entry came from, the client it is counted under
 * (limits/client-scope.ts: an IPv6 address as its /64). Failed sign-ins are throttled per client,
 * and a sign-in from a client its user signed in from lately is spared the per-email limit
 * (dashboard/user-service.ts); the index answers both while someone guesses passwords.
 * Rows written before are backfilled, so the failures of the last 15 minutes and the sign-ins of
 * the last 30 days still count after the upgrade: an IPv4 address is its own client (one statement); an
 * address with a colon is worked out here, `batch` rows at a time in primary-key order, as SQL
 * cannot.
 */
export function auditClientMigration(batch = 500): Migration {
  return {
    async up(db: Kysely<unknown>) {
      await sql`ALTER TABLE audit_log ADD COLUMN client text`.execute(db);
      await sql`CREATE INDEX audit_log_client ON audit_log (client, action, at)`.execute(db);
      await sql`UPDATE audit_log SET client = ip WHERE ip IS NOT NULL AND ip NOT LIKE '%:%'`.execute(db);
      let after = '';
      for (;;) {
        const { rows } = await sql<{ id: string; ip: string }>`
          SELECT id, ip FROM audit_log WHERE id > ${after} AND ip LIKE '%:%' ORDER BY id LIMIT ${batch}`.execute(
          db,
        );
        const last = rows[rows.length - 1];
        if (!last) return;
        const byClient = new Map<string, string[]>();
        for (const row of rows) {
          const client = clientScope(row.ip);
          byClient.set(client, [...(byClient.get(client) ?? []), row.id]);
        }
        for (const [client, ids] of byClient) {
          await sql`UPDATE audit_log SET client = ${client} WHERE id IN (${sql.join(ids)})`.execute(db);
        }
        after = last.id;
      }
    },
  };
}
