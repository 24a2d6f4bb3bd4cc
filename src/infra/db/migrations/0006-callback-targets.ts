import { type Kysely, type Migration, sql } from 'kysely';
import { sha256 } from '../../crypto/hash.ts';

/**
 * A per-request callback's ordering target was `cb:<request id>`, one per write; it is now its
 * URL (`cb:<sha256 of the URL>`, webhooks/outbox.ts), so that one record's callbacks to one
 * receiver keep commit order. Pending deliveries queued before the change move to the new
 * target, or a callback queued after the upgrade would overtake them. (Redeliveries keep their
 * own slot: their target ends in `#…`.)
 */
export function callbackTargetsMigration(): Migration {
  return {
    async up(db: Kysely<unknown>) {
      const pending = await sql<{ id: string; url: string }>`
        select id, url from webhook_deliveries
        where status = 'pending' and target like 'cb:req\\_%' escape '\\' and target not like '%#%'`.execute(
        db,
      );
      for (const row of pending.rows) {
        await sql`update webhook_deliveries set target = ${`cb:${sha256(row.url)}`} where id = ${row.id}`.execute(
          db,
        );
      }
    },
  };
}
