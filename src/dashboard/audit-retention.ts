import type { Db } from '../infra/db/database.ts';
import { isoAfter } from '../time.ts';
import { SIGN_IN_WINDOW_SECONDS } from './user-service.ts';

/**
 * A failed sign-in of an email no user has is kept this long: the sign-in limits count it for
 * SIGN_IN_WINDOW_SECONDS (15 minutes) and nothing else reads it, while a stranger can write as many
 * as the limits let through from as many addresses as they have. A day, so a prune never races a
 * window still counting it.
 */
export const UNKNOWN_EMAIL_FAILURE_SECONDS = 86_400;
if (UNKNOWN_EMAIL_FAILURE_SECONDS < SIGN_IN_WINDOW_SECONDS) {
  throw new Error('Failed sign-ins must outlive the window the sign-in limits count them over');
}

/** Rows deleted (or, for failed sign-ins, looked at) per statement: each holds the database briefly. */
const PRUNE_BATCH = 1_000;

const nextTurn = () => new Promise<void>((resolve) => setImmediate(resolve));

/**
 * Deletes audit entries older than `retentionDays`, and failed sign-ins of emails no user has
 * past UNKNOWN_EMAIL_FAILURE_SECONDS, in batches: SQLite has one writer, so no statement may hold
 * it long, and a first prune of a large log must not stop sign-ins for its duration.
 */
export function createAuditPruner(db: Db, retentionDays: number) {
  /**
   * How far the failed sign-ins were looked through (at, id): each pass reads on from there, not
   * again from the start. A new process starts at the retention cutoff (all of them, once).
   */
  let seen: { at: string; id: string } | undefined;

  async function pruneOld(cutoff: string, stopping: () => boolean): Promise<number> {
    let deleted = 0;
    for (;;) {
      const result = await db
        .deleteFrom('audit_log')
        .where('id', 'in', (eb) =>
          eb.selectFrom('audit_log as a').select('a.id').where('a.at', '<', cutoff).limit(PRUNE_BATCH),
        )
        .executeTakeFirst();
      const gone = Number(result.numDeletedRows);
      deleted += gone;
      if (gone < PRUNE_BATCH || stopping()) return deleted;
      await nextTurn();
    }
  }

  /**
   * Walks the entries from `seen` to `cutoff` in (at, id) order, PRUNE_BATCH at a time, deleting
   * those that are failed sign-ins of no user's email: each read is bounded however many entries
   * around them are kept (real users' failures, every other action).
   */
  async function pruneUnknownEmailFailures(cutoff: string, stopping: () => boolean): Promise<number> {
    let deleted = 0;
    for (;;) {
      const from = seen;
      let query = db
        .selectFrom('audit_log as a')
        .select(['a.id', 'a.at'])
        .select((eb) =>
          eb
            .and([
              eb('a.action', '=', 'session.sign_in_failed'),
              eb.not(
                eb.exists(
                  eb.selectFrom('owners as o').select('o.id').whereRef('o.email', '=', 'a.target_id'),
                ),
              ),
            ])
            .as('stale'),
        )
        .where('a.at', '<', cutoff)
        .orderBy('a.at')
        .orderBy('a.id')
        .limit(PRUNE_BATCH);
      if (from) {
        query = query.where((eb) =>
          eb.or([eb('a.at', '>', from.at), eb.and([eb('a.at', '=', from.at), eb('a.id', '>', from.id)])]),
        );
      }
      const rows = await query.execute();
      const stale = rows.filter((row) => Boolean(row.stale)).map((row) => row.id);
      if (stale.length > 0) {
        const result = await db.deleteFrom('audit_log').where('id', 'in', stale).executeTakeFirst();
        deleted += Number(result.numDeletedRows);
      }
      const last = rows[rows.length - 1];
      if (last) seen = { at: last.at, id: last.id };
      if (rows.length < PRUNE_BATCH || stopping()) return deleted;
      await nextTurn();
    }
  }

  return {
    /**
     * Prunes the log (the webhook worker's hourly prune calls it): how many entries went. Between
     * batches it asks `stopping`, so a server stopped during a first prune of a large log stops
     * promptly (the next prune goes on from there).
     */
    async prune(
      stopping: () => boolean = () => false,
    ): Promise<{ old: number; unknownEmailFailures: number }> {
      const old = await pruneOld(isoAfter(-retentionDays * 86_400), stopping);
      const unknownEmailFailures = stopping()
        ? 0
        : await pruneUnknownEmailFailures(isoAfter(-UNKNOWN_EMAIL_FAILURE_SECONDS), stopping);
      return { old, unknownEmailFailures };
    },
  };
}

export type AuditPruner = ReturnType<typeof createAuditPruner>;
