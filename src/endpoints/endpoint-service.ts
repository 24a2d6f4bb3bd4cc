import { endpointsNamedIn } from '../apps/definition.ts';
import { ApiError, invalid } from '../errors.ts';
import { newId } from '../ids.ts';
import type { InvalidationBus } from '../infra/bus/bus.ts';
import { LoadingCache } from '../infra/cache/loading-cache.ts';
import { TtlCache } from '../infra/cache/ttl-cache.ts';
import { type Db, lockRow } from '../infra/db/database.ts';
import type { DialectAdapter } from '../infra/db/dialect.ts';
import type { EndpointsTable, EndpointVersionsTable } from '../infra/db/schema.ts';
import { removeEndpointScopes } from '../keys/removed-scopes.ts';
import { inSeqOrder } from '../records/record-writer.ts';
import { nowIso, refusePastExpiry } from '../time.ts';
import {
  type EndpointCreate,
  type EndpointPatch,
  parseEndpointCreate,
  parseEndpointPatch,
  RESERVED_SLUGS,
} from './endpoint-input.ts';
import { compileSchema, type RecordValidator, refuseRoundedIntegers } from './json-schema.ts';

export const DEFAULT_MAX_BODY_BYTES = 102_400;
export const DEFAULT_RETRY = { max_retries: 3, interval_seconds: 60 } as const;

export interface RetryPolicy {
  max_retries: number;
  interval_seconds: number;
}

/** What traffic of one environment runs against: the draft (test) or a deployed version (live). */
export interface SchemaVersion {
  /** `null` for the draft. */
  version: number | null;
  validate: RecordValidator;
  maxBodyBytes: number;
  retry: RetryPolicy;
  /** JSON types declared for top-level properties, for typing list filters. */
  fieldTypes: ReadonlyMap<string, readonly string[]>;
}

export interface EndpointRuntime {
  id: string;
  slug: string;
  active: boolean;
  /** Epoch milliseconds, or null. */
  expiresAt: number | null;
  draft: SchemaVersion;
  live: SchemaVersion | null;
}

export interface EndpointJson {
  id: string;
  object: 'endpoint';
  slug: string;
  name: string;
  schema: unknown;
  max_body_bytes: number;
  active: boolean;
  expires_at: string | null;
  retry: RetryPolicy;
  draft_revision: number;
  live_version: number | null;
  created_at: string;
  updated_at: string;
}

export interface EndpointVersionJson {
  object: 'endpoint_version';
  version: number;
  name: string;
  schema: unknown;
  max_body_bytes: number;
  retry: RetryPolicy;
  created_at: string;
}

function sameInstant(given: string | null | undefined, stored: string | null): boolean {
  return typeof given === 'string' && stored !== null && Date.parse(given) === Date.parse(stored);
}

function toJson(row: EndpointsTable): EndpointJson {
  return {
    id: row.id,
    object: 'endpoint',
    slug: row.slug,
    name: row.name,
    schema: JSON.parse(row.schema),
    max_body_bytes: row.max_body_bytes,
    active: row.active === 1,
    expires_at: row.expires_at,
    retry: { max_retries: row.retry_max, interval_seconds: row.retry_interval },
    draft_revision: row.draft_revision,
    live_version: row.live_version,
    created_at: row.created_at,
    updated_at: row.updated_at,
  };
}

function versionJson(row: EndpointVersionsTable): EndpointVersionJson {
  return {
    object: 'endpoint_version',
    version: row.version,
    name: row.name,
    schema: JSON.parse(row.schema),
    max_body_bytes: row.max_body_bytes,
    retry: { max_retries: row.retry_max, interval_seconds: row.retry_interval },
    created_at: row.created_at,
  };
}

function fieldTypes(schema: unknown): Map<string, string[]> {
  const out = new Map<string, string[]>();
  const properties = (schema as { properties?: Record<string, { type?: unknown; nullable?: unknown }> })
    .properties;
  if (properties && typeof properties === 'object') {
    for (const [name, prop] of Object.entries(properties)) {
      const t = prop?.type;
      const types =
        typeof t === 'string'
          ? [t]
          : Array.isArray(t)
            ? t.filter((x): x is string => typeof x === 'string')
            : [];
      if (types.length === 0) continue;
      // A schema saved before `nullable` was refused (OpenAPI 3.0's: Ajv lets null through).
      if (prop.nullable === true && !types.includes('null')) types.push('null');
      out.set(name, types);
    }
  }
  return out;
}

export interface EndpointServiceOptions {
  db: Db;
  /** Changes are announced here so every process drops its cached runtime of that endpoint. */
  bus: InvalidationBus;
  dialect: DialectAdapter;
  cacheTtlMs: number;
}

export type EndpointService = ReturnType<typeof createEndpointService>;

export function createEndpointService({ db, bus, dialect, cacheTtlMs }: EndpointServiceOptions) {
  const runtimes = new LoadingCache<string, EndpointRuntime | null>(cacheTtlMs, 10_000, (slug) =>
    loadRuntime(slug),
  );
  bus.subscribe('endpoints', (slug) => (slug === undefined ? runtimes.clear() : runtimes.delete(slug)));
  // Compiled validators outlive runtime refreshes: a version's schema never changes.
  const validators = new TtlCache<string, SchemaVersion>(3_600_000, 20_000);

  function schemaVersion(
    cacheKey: string,
    version: number | null,
    row: { schema: string; max_body_bytes: number; retry_max: number; retry_interval: number },
  ): SchemaVersion {
    const cached = validators.get(cacheKey);
    if (cached) return cached;
    const schema = JSON.parse(row.schema) as unknown;
    const compiled: SchemaVersion = {
      version,
      // Saved earlier: patterns RE2 cannot run keep running as they did (linear-pattern.ts).
      validate: compileSchema(schema, 'schema', true),
      maxBodyBytes: row.max_body_bytes,
      retry: { max_retries: row.retry_max, interval_seconds: row.retry_interval },
      fieldTypes: fieldTypes(schema),
    };
    validators.set(cacheKey, compiled);
    return compiled;
  }

  async function loadRuntime(slug: string): Promise<EndpointRuntime | null> {
    const row = await db.selectFrom('endpoints').selectAll().where('slug', '=', slug).executeTakeFirst();
    if (!row) return null;
    let live: SchemaVersion | null = null;
    if (row.live_version !== null) {
      const v = await db
        .selectFrom('endpoint_versions')
        .selectAll()
        .where('endpoint_id', '=', row.id)
        .where('version', '=', row.live_version)
        .executeTakeFirstOrThrow();
      live = schemaVersion(`${row.id}:v${v.version}`, v.version, v);
    }
    return {
      id: row.id,
      slug: row.slug,
      active: row.active === 1,
      expiresAt: row.expires_at === null ? null : Date.parse(row.expires_at),
      draft: schemaVersion(`${row.id}:d${row.draft_revision}`, null, row),
      live,
    };
  }

  async function requireRow(slug: string, executor: Pick<Db, 'selectFrom'> = db): Promise<EndpointsTable> {
    const row = await executor
      .selectFrom('endpoints')
      .selectAll()
      .where('slug', '=', slug)
      .executeTakeFirst();
    if (!row) throw new ApiError('endpoint_not_found', { message: `Endpoint "${slug}" not found` });
    return row;
  }

  /**
   * An endpoint an app's draft or live version reads or writes is not deleted: the app's calls
   * would fail from then on. The owner changes or deletes those apps first.
   */
  async function refuseIfAppsUse(executor: Pick<Db, 'selectFrom'>, slug: string): Promise<void> {
    const apps = await executor
      .selectFrom('apps')
      .leftJoin('app_versions', (join) =>
        join
          .onRef('app_versions.app_slug', '=', 'apps.slug')
          .onRef('app_versions.version', '=', 'apps.live_version'),
      )
      .select(['apps.slug', 'apps.definition', 'apps.live_version', 'app_versions.definition as live'])
      .orderBy('apps.slug')
      .execute();
    const users: string[] = [];
    for (const app of apps) {
      const where: string[] = [];
      if (endpointsNamedIn(app.definition).has(slug)) where.push('draft');
      if (app.live !== null && endpointsNamedIn(app.live).has(slug))
        where.push(`live version ${app.live_version}`);
      if (where.length > 0) users.push(`"${app.slug}" (${where.join(', ')})`);
    }
    if (users.length === 0) return;
    throw new ApiError('conflict', {
      message:
        `Endpoint "${slug}" is used by app ${users.join(', app ')}: ` +
        'remove its steps from those apps (and deploy them) or delete the apps first',
    });
  }

  return {
    /** The hot-path view of an endpoint, cached; `null` when there is no such endpoint. */
    runtime(slug: string): Promise<EndpointRuntime | null> {
      return runtimes.get(slug);
    },

    /** The cached runtime without waiting: `{ value }` when known, undefined when it must be loaded. */
    peekRuntime(slug: string): { value: EndpointRuntime | null } | undefined {
      return runtimes.peek(slug);
    },

    invalidate(slug: string): void {
      bus.publish('endpoints', slug);
    },

    async create(body: unknown): Promise<EndpointJson> {
      const input: EndpointCreate = parseEndpointCreate(body);
      if (RESERVED_SLUGS.has(input.slug))
        throw invalid(
          'slug',
          `"${input.slug}" is reserved: the key scopes ${input.slug}:read and ${input.slug}:write already mean ${input.slug === 'records' ? 'every endpoint' : 'App APIs'}`,
        );
      refuseRoundedIntegers(body);
      compileSchema(input.schema);
      refusePastExpiry(input.expires_at);
      const now = nowIso();
      const row: EndpointsTable = {
        id: newId('endpoint'),
        slug: input.slug,
        name: input.name,
        schema: JSON.stringify(input.schema),
        max_body_bytes: input.max_body_bytes ?? DEFAULT_MAX_BODY_BYTES,
        retry_max: input.retry?.max_retries ?? DEFAULT_RETRY.max_retries,
        retry_interval: input.retry?.interval_seconds ?? DEFAULT_RETRY.interval_seconds,
        active: input.active === false ? 0 : 1,
        expires_at: input.expires_at ? new Date(input.expires_at).toISOString() : null,
        draft_revision: 1,
        live_version: null,
        created_at: now,
        updated_at: now,
      };
      try {
        await db.insertInto('endpoints').values(row).execute();
      } catch (error) {
        if (dialect.isUniqueViolation(error)) {
          throw new ApiError('conflict', {
            message: `An endpoint with slug "${input.slug}" already exists`,
            details: [{ field: 'slug', error: 'Already taken' }],
          });
        }
        throw error;
      }
      bus.publish('endpoints', row.slug);
      return toJson(row);
    },

    async get(slug: string): Promise<EndpointJson> {
      return toJson(await requireRow(slug));
    },

    async list(): Promise<EndpointJson[]> {
      const rows = await db.selectFrom('endpoints').selectAll().orderBy('slug').execute();
      return rows.map(toJson);
    },

    async versions(slug: string): Promise<EndpointVersionJson[]> {
      const row = await requireRow(slug);
      const rows = await db
        .selectFrom('endpoint_versions')
        .selectAll()
        .where('endpoint_id', '=', row.id)
        .orderBy('version', 'desc')
        .execute();
      return rows.map(versionJson);
    },

    async update(slug: string, body: unknown): Promise<EndpointJson> {
      const patch: EndpointPatch = parseEndpointPatch(body);
      if (patch.schema !== undefined) {
        refuseRoundedIntegers(body);
        compileSchema(patch.schema);
      }
      return db
        .transaction()
        .execute(async (trx) => {
          // Read and written under the row's lock: concurrent changes apply one after the other.
          await lockRow(trx, 'endpoints', 'slug', slug);
          const current = await requireRow(slug, trx);
          // The end it already has may have passed: sent back unchanged (the dashboard sends it
          // with every save), it is no new value, and the other changes are made.
          if (!sameInstant(patch.expires_at, current.expires_at)) refusePastExpiry(patch.expires_at);
          const draftChanged =
            patch.name !== undefined ||
            patch.schema !== undefined ||
            patch.max_body_bytes !== undefined ||
            patch.retry !== undefined;
          const next: EndpointsTable = {
            ...current,
            name: patch.name ?? current.name,
            schema: patch.schema !== undefined ? JSON.stringify(patch.schema) : current.schema,
            max_body_bytes: patch.max_body_bytes ?? current.max_body_bytes,
            retry_max: patch.retry?.max_retries ?? current.retry_max,
            retry_interval: patch.retry?.interval_seconds ?? current.retry_interval,
            active: patch.active === undefined ? current.active : patch.active ? 1 : 0,
            expires_at:
              patch.expires_at === undefined
                ? current.expires_at
                : patch.expires_at === null
                  ? null
                  : new Date(patch.expires_at).toISOString(),
            draft_revision: current.draft_revision + (draftChanged ? 1 : 0),
            updated_at: nowIso(),
          };
          const { id, created_at, ...changes } = next;
          await trx.updateTable('endpoints').set(changes).where('id', '=', id).execute();
          return toJson(next);
        })
        .then((json) => {
          bus.publish('endpoints', slug);
          return json;
        });
    },

    /** Deletes the endpoint with its records, versions and subscriptions; the ids of the keys that lost its scopes. */
    async remove(slug: string): Promise<string[]> {
      const row = await requireRow(slug);
      const unscoped = await db.transaction().execute(async (trx) => {
        // Locked first: an app being saved with a step on it either commits before (and is seen
        // below) or waits and then finds the endpoint gone (apps/app-service.ts holdEndpoints).
        await lockRow(trx, 'endpoints', 'slug', slug);
        await refuseIfAppsUse(trx, slug);
        await trx.deleteFrom('records').where('endpoint_id', '=', row.id).execute();
        await trx.deleteFrom('endpoint_versions').where('endpoint_id', '=', row.id).execute();
        // Its webhooks go with it: nothing more is sent about its records, and no request.failed
        // follows; the deliveries stay in the log as history.
        await trx.deleteFrom('webhook_subscriptions').where('endpoint_id', '=', row.id).execute();
        await trx
          .updateTable('webhook_deliveries')
          .set({ status: 'failed', last_error: 'The endpoint was deleted', updated_at: nowIso() })
          .where('endpoint_id', '=', row.id)
          .where('status', '=', 'pending')
          .execute();
        if (dialect.name === 'postgres') {
          // The records of creates that committed meanwhile, or were in flight: their lock is
          // waited for, and creates after it find the endpoint gone (record-writer.ts,
          // ENDPOINT_EXISTS). Taken last, it holds up other endpoints' creates only for this.
          await inSeqOrder(trx);
          await trx.deleteFrom('records').where('endpoint_id', '=', row.id).execute();
        }
        await trx.deleteFrom('endpoints').where('id', '=', row.id).execute();
        return removeEndpointScopes(trx, slug);
      });
      bus.publish('endpoints', slug);
      for (const id of unscoped) bus.publish('keys', id);
      return unscoped;
    },

    /** Publishes the draft to `live` as the next immutable version. */
    async deploy(slug: string): Promise<EndpointJson & { deployed: EndpointVersionJson }> {
      const result = await db.transaction().execute(async (trx) => {
        // Locked: concurrent deploys take the next version one after the other.
        await lockRow(trx, 'endpoints', 'slug', slug);
        const row = await requireRow(slug, trx);
        const last = await trx
          .selectFrom('endpoint_versions')
          .select((eb) => eb.fn.max('version').as('max'))
          .where('endpoint_id', '=', row.id)
          .executeTakeFirst();
        const version: EndpointVersionsTable = {
          endpoint_id: row.id,
          version: Number(last?.max ?? 0) + 1,
          name: row.name,
          schema: row.schema,
          max_body_bytes: row.max_body_bytes,
          retry_max: row.retry_max,
          retry_interval: row.retry_interval,
          created_at: nowIso(),
        };
        await trx.insertInto('endpoint_versions').values(version).execute();
        const updated = { ...row, live_version: version.version, updated_at: version.created_at };
        await trx
          .updateTable('endpoints')
          .set({ live_version: version.version, updated_at: version.created_at })
          .where('id', '=', row.id)
          .execute();
        return { ...toJson(updated), deployed: versionJson(version) };
      });
      bus.publish('endpoints', slug);
      return result;
    },
  };
}
