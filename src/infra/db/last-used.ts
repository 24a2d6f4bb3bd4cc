import type { Db } from './database.ts';
import type { DialectAdapter } from './dialect.ts';

/** A table whose rows are credentials with a `last_used_at`. */
type UsedTable = 'api_keys' | 'management_tokens';

export type LastUsed = ReturnType<typeof createLastUsed>;

/**
 * When each credential of `table` was last used, kept in memory and written in batches (flush: on
 * a timer and at shutdown), not once per request: noting a use is a Map write, so a credential
 * answered from the cache writes nothing. What is noted and not yet written shows in answers at
 * once; another process's shows once that process flushes. A flush never moves a use back: of two
 * servers flushing the same credential, the later use stays, whichever writes last.
 */
export function createLastUsed(
  db: Db,
  dialect: Pick<DialectAdapter, 'claimsWithSkipLocked'>,
  table: UsedTable,
) {
  const noted = new Map<string, number>();
  /** The uses a flush is writing: until it commits, a row read meanwhile may not show them yet. */
  let flushing = new Map<string, number>();
  return {
    note(id: string, at: number): void {
      noted.set(id, at);
    },

    /**
     * The row's last use: the latest of the stored one and one noted here that may not be stored
     * yet (since the last flush, or in the flush under way).
     */
    of(row: { id: string; last_used_at: string | null }): string | null {
      const at = noted.get(row.id) ?? flushing.get(row.id);
      if (at === undefined) return row.last_used_at;
      const iso = new Date(at).toISOString();
      return row.last_used_at !== null && row.last_used_at > iso ? row.last_used_at : iso;
    },

    /**
     * Writes the uses noted since the last flush, in one transaction. On PostgreSQL a row another
     * transaction holds is skipped, not waited for: that one is deleting it (a password change
     * revoking its user's tokens, in its own order) or writing a use itself, and a flush that
     * held some rows while waiting for another could deadlock with it.
     */
    async flush(): Promise<void> {
      if (noted.size === 0) return;
      const batch = new Map(noted);
      noted.clear();
      flushing = batch;
      try {
        await write(batch);
      } catch (error) {
        // Not written: noted again (unless used since), for the next flush.
        for (const [id, at] of batch) if (!noted.has(id)) noted.set(id, at);
        throw error;
      } finally {
        if (flushing === batch) flushing = new Map();
      }
    },
  };

  async function write(batch: Map<string, number>): Promise<void> {
    await db.transaction().execute(async (trx) => {
      for (const [id, at] of batch) {
        const iso = new Date(at).toISOString();
        // Only ever forward: another server may have written a later use already.
        const update = trx
          .updateTable(table)
          .set({ last_used_at: iso })
          .where((eb) => eb.or([eb('last_used_at', 'is', null), eb('last_used_at', '<', iso)]));
        // SQLite has one writer at a time: nothing to skip, so the row is named directly.
        const free = dialect.claimsWithSkipLocked
          ? update.where(
              'id',
              'in',
              trx.selectFrom(table).select('id').where('id', '=', id).forNoKeyUpdate().skipLocked(),
            )
          : update.where('id', '=', id);
        await free.execute();
      }
    });
  }
}
