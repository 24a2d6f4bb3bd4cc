import type { Transaction } from 'kysely';
import type { Database } from '../infra/db/schema.ts';
import { nowIso } from '../time.ts';

/**
 * Removes `scopes` from every key, in the transaction that deletes what they name: scopes name
 * endpoints and apps by slug, so a key left holding them would gain access to an endpoint or app
 * created later under the same slug. A key whose only scopes they were is left with none (every
 * data call 403 `insufficient_scope`) until the owner gives it others. The ids of the keys
 * changed, for their caches to be dropped once `trx` commits.
 */
async function removeScopes(trx: Transaction<Database>, scopes: readonly string[]): Promise<string[]> {
  const named = new Set(scopes);
  // A first cut in SQL (the scopes are JSON text); the exact test below.
  const rows = await trx
    .selectFrom('api_keys')
    .select(['id', 'scopes'])
    .where((eb) => eb.or([...named].map((scope) => eb('scopes', 'like', `%${JSON.stringify(scope)}%`))))
    .execute();
  const changed: string[] = [];
  for (const row of rows) {
    const held = JSON.parse(row.scopes) as string[];
    const kept = held.filter((scope) => !named.has(scope));
    if (kept.length === held.length) continue;
    await trx
      .updateTable('api_keys')
      .set({ scopes: JSON.stringify(kept), updated_at: nowIso() })
      .where('id', '=', row.id)
      .execute();
    changed.push(row.id);
  }
  return changed;
}

/** A deleted endpoint's `{slug}:read` and `{slug}:write`, off every key (see removeScopes). */
export function removeEndpointScopes(trx: Transaction<Database>, slug: string): Promise<string[]> {
  return removeScopes(trx, [`${slug}:read`, `${slug}:write`]);
}

/** A deleted App API's `apps:{slug}`, off every key (see removeScopes). */
export function removeAppScope(trx: Transaction<Database>, slug: string): Promise<string[]> {
  return removeScopes(trx, [`apps:${slug}`]);
}
