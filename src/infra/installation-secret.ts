import { randomBytes } from 'node:crypto';
import type { Db } from './db/database.ts';

/**
 * GATEHOUSE_SECRET when set; otherwise one generated on first run and kept in the database,
 * so that every process of one installation shares it.
 */
export async function loadInstallationSecret(db: Db, configured: string | undefined): Promise<string> {
  if (configured) return configured;
  const read = () => db.selectFrom('settings').select('value').where('key', '=', 'secret').executeTakeFirst();
  const existing = await read();
  if (existing) return existing.value;
  const generated = randomBytes(32).toString('base64url');
  await db
    .insertInto('settings')
    .values({ key: 'secret', value: generated })
    .onConflict((oc) => oc.column('key').doNothing())
    .execute();
  const stored = await read();
  return stored?.value ?? generated;
}
