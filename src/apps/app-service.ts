import type { Transaction } from 'kysely';
import { SLUG_PATTERN } from '../endpoints/endpoint-input.ts';
import type { EndpointService } from '../endpoints/endpoint-service.ts';
import { inputValidator, NOT_BLANK, refuseRoundedIntegers } from '../endpoints/json-schema.ts';
import { ApiError, type ErrorDetail, refuseEmptyPatch } from '../errors.ts';
import type { InvalidationBus } from '../infra/bus/bus.ts';
import { LoadingCache } from '../infra/cache/loading-cache.ts';
import { TtlCache } from '../infra/cache/ttl-cache.ts';
import { type Db, lockRow } from '../infra/db/database.ts';
import type { DialectAdapter } from '../infra/db/dialect.ts';
import type { AppsTable, AppVersionsTable, Database } from '../infra/db/schema.ts';
import { removeAppScope } from '../keys/removed-scopes.ts';
import { nowIso } from '../time.ts';
import { type CompiledApp, compileApp, endpointsNamedIn, type RouteDefinition } from './definition.ts';

/** What traffic of one app runs against: the draft (`test`) and the deployed version (`live`). */
export interface AppRuntime {
  slug: string;
  draft: CompiledApp;
  live: CompiledApp | null;
}

export interface AppJson {
  object: 'app';
  slug: string;
  name: string;
  routes: RouteDefinition[];
  draft_revision: number;
  live_version: number | null;
  created_at: string;
  updated_at: string;
}

export interface AppVersionJson {
  object: 'app_version';
  version: number;
  name: string;
  routes: RouteDefinition[];
  created_at: string;
}

interface AppCreate {
  slug: string;
  name: string;
  routes: unknown[];
}
type AppPatch = Partial<Omit<AppCreate, 'slug'>>;

const fields = {
  name: { type: 'string', minLength: 1, maxLength: 200, pattern: NOT_BLANK },
  routes: { type: 'array' },
};
const parseCreate = inputValidator<AppCreate>({
  type: 'object',
  additionalProperties: false,
  required: ['slug', 'name', 'routes'],
  properties: { slug: { type: 'string', pattern: SLUG_PATTERN }, ...fields },
});
const parsePatch = inputValidator<AppPatch>({
  type: 'object',
  additionalProperties: false,
  properties: fields,
});

function routesOf(definition: string): RouteDefinition[] {
  return (JSON.parse(definition) as { routes: RouteDefinition[] }).routes;
}

function toJson(row: AppsTable): AppJson {
  return {
    object: 'app',
    slug: row.slug,
    name: row.name,
    routes: routesOf(row.definition),
    draft_revision: row.draft_revision,
    live_version: row.live_version,
    created_at: row.created_at,
    updated_at: row.updated_at,
  };
}

function versionJson(row: AppVersionsTable): AppVersionJson {
  return {
    object: 'app_version',
    version: row.version,
    name: row.name,
    routes: routesOf(row.definition),
    created_at: row.created_at,
  };
}

export interface AppServiceOptions {
  db: Db;
  /** Changes are announced here so every process drops its cached runtime of that app. */
  bus: InvalidationBus;
  dialect: DialectAdapter;
  endpoints: EndpointService;
  cacheTtlMs: number;
}

export type AppService = ReturnType<typeof createAppService>;

/** App definitions: drafts, immutable deployed versions, and their compiled, cached runtimes. */
export function createAppService({ db, bus, dialect, endpoints, cacheTtlMs }: AppServiceOptions) {
  const runtimes = new LoadingCache<string, AppRuntime | null>(cacheTtlMs, 10_000, (slug) =>
    loadRuntime(slug),
  );
  bus.subscribe('apps', (slug) => (slug === undefined ? runtimes.clear() : runtimes.delete(slug)));
  // Compiled definitions outlive runtime refreshes: a revision's or version's routes never change.
  const compiled = new TtlCache<string, CompiledApp>(3_600_000, 5_000);

  function compileStored(
    cacheKey: string,
    slug: string,
    version: number | null,
    definition: string,
  ): CompiledApp {
    const hit = compiled.get(cacheKey);
    if (hit) return hit;
    // Endpoints deleted since the definition was saved are reported by the step that uses them.
    const app = compileApp(slug, version, JSON.parse(definition), () => true, [], true);
    compiled.set(cacheKey, app);
    return app;
  }

  async function loadRuntime(slug: string): Promise<AppRuntime | null> {
    // One statement, so that an app deleted meanwhile is simply not found (two reads could see the
    // app and then miss its deleted version).
    const row = await db
      .selectFrom('apps as a')
      .leftJoin('app_versions as v', (join) =>
        join.onRef('v.app_slug', '=', 'a.slug').onRef('v.version', '=', 'a.live_version'),
      )
      .select(['a.slug', 'a.created_at', 'a.draft_revision', 'a.definition', 'a.live_version'])
      .select(['v.definition as live_definition'])
      .where('a.slug', '=', slug)
      .executeTakeFirst();
    if (!row) return null;
    // created_at tells a re-created app (same slug, revisions counted from 1 again) from the old one.
    const stamp = `${row.slug}@${row.created_at}`;
    let live: CompiledApp | null = null;
    if (row.live_version !== null && row.live_definition !== null) {
      live = compileStored(`${stamp}:v${row.live_version}`, slug, row.live_version, row.live_definition);
    }
    return {
      slug,
      draft: compileStored(`${stamp}:d${row.draft_revision}`, slug, null, row.definition),
      live,
    };
  }

  /**
   * Validates routes against the endpoints that exist now, with the problems of the request's
   * other fields (one 400 invalid_app lists them all); the definition as stored.
   */
  async function validated(
    slug: string,
    routes: unknown,
    otherProblems: ErrorDetail[] = [],
  ): Promise<string> {
    const known = new Set((await endpoints.list()).map((e) => e.slug));
    compileApp(slug, null, { routes }, (s) => known.has(s), otherProblems);
    return JSON.stringify({ routes });
  }

  /**
   * Inside the transaction that stores `definition`: locks each endpoint it names and checks it
   * is still there. An endpoint deleted since `validated` is refused here; one being deleted
   * waits for this write and then sees the app (endpoint deletion locks the same row first).
   */
  async function holdEndpoints(trx: Transaction<Database>, slug: string, definition: string): Promise<void> {
    const problems: ErrorDetail[] = [];
    // In one order (by slug), so two app writes naming the same endpoints cannot deadlock.
    for (const endpoint of [...endpointsNamedIn(definition)].sort()) {
      if (!(await lockRow(trx, 'endpoints', 'slug', endpoint)))
        problems.push({ field: 'routes', error: `Unknown endpoint "${endpoint}" (it was just deleted)` });
    }
    if (problems.length > 0) {
      throw new ApiError('invalid_app', {
        message: `Invalid app definition for "${slug}": ${(problems[0] as ErrorDetail).error}`,
        details: problems,
      });
    }
  }

  /** The request's fields checked (all but `routes`, which `validated` checks): the problems, if any. */
  function fieldProblems(parse: (body: unknown) => unknown, body: unknown): ErrorDetail[] {
    try {
      parse(body);
      return [];
    } catch (error) {
      if (!(error instanceof ApiError) || error.code !== 'invalid_request') throw error;
      return (error.details ?? []).filter((d) => d.field !== 'routes' && !d.field.startsWith('routes.'));
    }
  }

  const routesIn = (body: unknown): unknown =>
    body !== null && typeof body === 'object' ? (body as { routes?: unknown }).routes : undefined;

  async function requireRow(slug: string, executor: Pick<Db, 'selectFrom'> = db): Promise<AppsTable> {
    const row = await executor.selectFrom('apps').selectAll().where('slug', '=', slug).executeTakeFirst();
    if (!row) throw new ApiError('app_not_found', { message: `App "${slug}" not found` });
    return row;
  }

  return {
    /** The hot-path view of an app, cached; `null` when there is no such app. */
    runtime(slug: string): Promise<AppRuntime | null> {
      return runtimes.get(slug);
    },

    async create(body: unknown): Promise<AppJson> {
      refuseRoundedIntegers(body);
      const problems = fieldProblems(parseCreate, body);
      const definition = await validated(
        String((body as { slug?: unknown } | null)?.slug ?? ''),
        routesIn(body),
        problems,
      );
      // Checked above: with any problem, validated() threw.
      const input = body as AppCreate;
      const now = nowIso();
      const row: AppsTable = {
        slug: input.slug,
        name: input.name,
        definition,
        draft_revision: 1,
        live_version: null,
        created_at: now,
        updated_at: now,
      };
      try {
        await db.transaction().execute(async (trx) => {
          await trx.insertInto('apps').values(row).execute();
          await holdEndpoints(trx, row.slug, definition);
        });
      } catch (error) {
        if (dialect.isUniqueViolation(error)) {
          throw new ApiError('conflict', {
            message: `An app with slug "${input.slug}" already exists`,
            details: [{ field: 'slug', error: 'Already taken' }],
          });
        }
        throw error;
      }
      bus.publish('apps', row.slug);
      return toJson(row);
    },

    async get(slug: string): Promise<AppJson> {
      return toJson(await requireRow(slug));
    },

    async list(): Promise<AppJson[]> {
      const rows = await db.selectFrom('apps').selectAll().orderBy('slug').execute();
      return rows.map(toJson);
    },

    async versions(slug: string): Promise<AppVersionJson[]> {
      await requireRow(slug);
      const rows = await db
        .selectFrom('app_versions')
        .selectAll()
        .where('app_slug', '=', slug)
        .orderBy('version', 'desc')
        .execute();
      return rows.map(versionJson);
    },

    /** The deployed version serving `live`, as JSON; null before the first deploy. */
    async liveVersion(slug: string): Promise<AppVersionJson | null> {
      const row = await requireRow(slug);
      if (row.live_version === null) return null;
      const v = await db
        .selectFrom('app_versions')
        .selectAll()
        .where('app_slug', '=', slug)
        .where('version', '=', row.live_version)
        .executeTakeFirst();
      return v ? versionJson(v) : null;
    },

    /** Changes the draft (what `test` traffic runs); the live version is untouched until deploy. */
    async update(slug: string, body: unknown): Promise<AppJson> {
      refuseRoundedIntegers(body);
      const problems = fieldProblems(parsePatch, body);
      const routes = routesIn(body);
      if (routes === undefined && problems.length > 0) {
        const first = problems[0] as ErrorDetail;
        throw new ApiError('invalid_app', {
          message: `Invalid app definition: ${first.field}: ${first.error}`,
          details: problems,
        });
      }
      if (problems.length === 0) refuseEmptyPatch(body as object, Object.keys(fields));
      const definition = routes !== undefined ? await validated(slug, routes, problems) : undefined;
      const patch = body as AppPatch;
      return db
        .transaction()
        .execute(async (trx) => {
          // Read and written under the row's lock: concurrent changes apply one after the other, and
          // each takes its own revision (test traffic runs the draft of the revision it caches).
          await lockRow(trx, 'apps', 'slug', slug);
          const current = await requireRow(slug, trx);
          const changed = patch.name !== undefined || definition !== undefined;
          const next: AppsTable = {
            ...current,
            name: patch.name ?? current.name,
            definition: definition ?? current.definition,
            draft_revision: current.draft_revision + (changed ? 1 : 0),
            updated_at: nowIso(),
          };
          const { slug: key, created_at, ...changes } = next;
          await trx.updateTable('apps').set(changes).where('slug', '=', key).execute();
          if (definition !== undefined) await holdEndpoints(trx, slug, definition);
          return toJson(next);
        })
        .then((json) => {
          bus.publish('apps', slug);
          return json;
        });
    },

    /** Deletes the app and its versions; the ids of the keys that lost its `apps:<slug>` scope. */
    async remove(slug: string): Promise<string[]> {
      await requireRow(slug);
      const unscoped = await db.transaction().execute(async (trx) => {
        await trx.deleteFrom('app_versions').where('app_slug', '=', slug).execute();
        await trx.deleteFrom('apps').where('slug', '=', slug).execute();
        return removeAppScope(trx, slug);
      });
      bus.publish('apps', slug);
      for (const id of unscoped) bus.publish('keys', id);
      return unscoped;
    },

    /** Publishes the draft to `live` as the next immutable version (re-validated against today's endpoints). */
    async deploy(slug: string): Promise<AppJson & { deployed: AppVersionJson }> {
      const draft = await requireRow(slug);
      await validated(slug, routesOf(draft.definition));
      const result = await db.transaction().execute(async (trx) => {
        // Locked: concurrent deploys take the next version one after the other.
        await lockRow(trx, 'apps', 'slug', slug);
        const row = await requireRow(slug, trx);
        // What was validated above is what goes live: a change that landed in between is not.
        if (row.draft_revision !== draft.draft_revision) {
          throw new ApiError('conflict', {
            message: 'The draft changed while it was being deployed: deploy again to publish the new one',
          });
        }
        const last = await trx
          .selectFrom('app_versions')
          .select((eb) => eb.fn.max('version').as('max'))
          .where('app_slug', '=', slug)
          .executeTakeFirst();
        const version: AppVersionsTable = {
          app_slug: slug,
          version: Number(last?.max ?? 0) + 1,
          name: row.name,
          definition: row.definition,
          created_at: nowIso(),
        };
        await trx.insertInto('app_versions').values(version).execute();
        await holdEndpoints(trx, slug, row.definition);
        await trx
          .updateTable('apps')
          .set({ live_version: version.version, updated_at: version.created_at })
          .where('slug', '=', slug)
          .execute();
        const updated = { ...row, live_version: version.version, updated_at: version.created_at };
        return { ...toJson(updated), deployed: versionJson(version) };
      });
      bus.publish('apps', slug);
      return result;
    },
  };
}
