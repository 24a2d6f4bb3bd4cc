import type { Transaction } from 'kysely';
import type { Database } from '../infra/db/schema.ts';
import { nowIso } from '../time.ts';

/**
 * Removes `{slug}:read` and `{slug}:write` from every key's scopes, in the transaction that deletes
 * the endpoint: scopes name endpoints by slug, so a key left holding them would gain access to
 * an endpoint created later under the same slug. A key whose only scopes they were is left with
 * none (every data call 403 `insufficient_scope`) until the owner gives it others. The ids of
 * the keys changed, for their caches to be dropped once `trx` commits.
 */
export async function removeEndpointScopes(trx: Transaction<Database>, slug: string): Promise<string[]> {
  const named = new Set([`${slug}:read`, `${slug}:write`]);
  // A first cut in SQL (the scopes are JSON text); the exact test below.
  const rows = await trx
    .selectFrom('api_keys')
    .select(['id', 'scopes'])
    .where((eb) => eb.or([...named].map((scope) => eb('scopes', 'like', `%${JSON.stringify(scope)}%`))))
    .execute();
  const changed: string[] = [];
  for (const row of rows) {
    const scopes = JSON.parse(row.scopes) as string[];
    const kept = scopes.filter((scope) => !named.has(scope));
    if (kept.length === scopes.length) continue;
    await trx
      .updateTable('api_keys')
      .set({ scopes: JSON.stringify(kept), updated_at: nowIso() })
      .where('id', '=', row.id)
      .execute();
    changed.push(row.id);
  }
  return changed;
}
