import { sql, type Transaction } from 'kysely';
import { ConfigError } from '../config.ts';
import { createEncryptor, type Encryptor, UnsealError } from './crypto/encryption.ts';
import type { Db } from './db/database.ts';
import type { Database } from './db/schema.ts';

/** How many sealed values a rotation sealed again, by where they are kept. */
export interface Resealed {
  settings: number;
  webhook_subscriptions: number;
  requests: number;
  webhook_deliveries: number;
}

/** Rows read at a time from the tables that grow (every write with a callback is a request). */
const PAGE = 500;

/**
 * Seals every value sealed with `current` again with `next`, in one transaction: the
 * installation's callback signing secret and JWT signing keys (settings), the webhook
 * subscriptions' signing secrets (current and previous), and the per-request callbacks (their
 * request and their deliveries). A value `current` does not open stops it, and nothing changes.
 * `inDatabase`: the secret itself is kept in the settings (PostgreSQL without GATEHOUSE_SECRET)
 * and is replaced there in the same transaction.
 */
export async function resealInstallation(
  db: Db,
  current: string,
  next: string,
  options: { inDatabase: boolean },
): Promise<Resealed> {
  const from = createEncryptor(current);
  const to = createEncryptor(next);
  const reseal = (sealed: string, where: string) => to.encrypt(open(from, sealed, where));
  return db.transaction().execute(async (trx) => {
    const resealed: Resealed = { settings: 0, webhook_subscriptions: 0, requests: 0, webhook_deliveries: 0 };
    const settings = await trx
      .selectFrom('settings')
      .select(['key', 'value'])
      .where('key', 'in', ['callback_signing_secret', 'jwt_signing_keys'])
      .orderBy('key')
      .execute();
    for (const row of settings) {
      const value = reseal(row.value, `the settings row ${row.key}`);
      await trx.updateTable('settings').set({ value }).where('key', '=', row.key).execute();
      resealed.settings++;
    }
    const subscriptions = await trx
      .selectFrom('webhook_subscriptions')
      .select(['id', 'secret', 'previous_secret'])
      .orderBy('id')
      .execute();
    for (const row of subscriptions) {
      const where = `the webhook subscription ${row.id}`;
      await trx
        .updateTable('webhook_subscriptions')
        .set({
          secret: reseal(row.secret, where),
          previous_secret: row.previous_secret === null ? null : reseal(row.previous_secret, where),
        })
        .where('id', '=', row.id)
        .execute();
      resealed.webhook_subscriptions++;
    }
    resealed.requests = await resealCallbacks(trx, 'requests', (sealed, id) =>
      reseal(sealed, `the callback of the request ${id}`),
    );
    resealed.webhook_deliveries = await resealCallbacks(trx, 'webhook_deliveries', (sealed, id) =>
      reseal(sealed, `the callback of the webhook delivery ${id}`),
    );
    if (options.inDatabase) {
      await trx.updateTable('settings').set({ value: next }).where('key', '=', 'secret').execute();
    }
    return resealed;
  });
}

/** Where a per-request callback is kept sealed: the request's, and its delivery's copy. */
const CALLBACK_COLUMN = { requests: 'callback', webhook_deliveries: 'auth' } as const;

/** The sealed callbacks of `requests` or `webhook_deliveries`, a page at a time. */
async function resealCallbacks(
  trx: Transaction<Database>,
  table: keyof typeof CALLBACK_COLUMN,
  reseal: (sealed: string, id: string) => string,
): Promise<number> {
  const column = sql.ref(CALLBACK_COLUMN[table]);
  let after = '';
  let count = 0;
  for (;;) {
    const rows = await trx
      .selectFrom(table)
      .select(['id', sql<string>`${column}`.as('sealed')])
      .where(column, 'is not', null)
      .where('id', '>', after)
      .orderBy('id')
      .limit(PAGE)
      .execute();
    for (const row of rows) {
      const value = reseal(row.sealed, row.id);
      await trx.updateTable(table).set(column, value).where('id', '=', row.id).execute();
      count++;
    }
    const last = rows.at(-1);
    if (!last || rows.length < PAGE) return count;
    after = last.id;
  }
}

function open(encryptor: Encryptor, sealed: string, where: string): string {
  try {
    return encryptor.decrypt(sealed);
  } catch (error) {
    if (!(error instanceof UnsealError)) throw error;
    throw new ConfigError(
      `${where} does not open with the current installation secret: nothing was changed. ` +
        'Rotate with the secret this installation runs with (GATEHOUSE_SECRET, or the file beside the SQLite database)',
    );
  }
}
