import { exampleBody } from '../docs/example-body.ts';
import { errorResponses, standardHeaders, successContent } from '../docs/openapi-shared.ts';
import { rebaseRefs } from '../endpoints/type-names.ts';
import type { AppService } from './app-service.ts';
import { type CompiledRoute, RESERVED_QUERY } from './definition.ts';

type Json = Record<string, unknown>;

/** What a route of app `slug` takes, in its own words: the scope is the app's, not a placeholder. */
const AUTH_NOTE = {
  apiKey: (slug: string) => `API key (or a token minted from it) with the scope \`apps:${slug}\` or \`*\`.`,
  jwt: (slug: string) =>
    `Only a short-lived token from \`POST /api/v1/tokens\` (key scope \`apps:${slug}\` or \`*\`); the key itself is refused.`,
  public: (_slug: string) => 'No credentials: served from `live`; `?environment=test` serves the draft.',
} as const;

/**
 * What a route answers: each respond or redirect step's status, and 200 with the last step's
 * output when the route can run to its end (its last step is neither, or has a `when`).
 */
function successResponses(route: CompiledRoute): Json {
  const out: Json = {};
  const last = route.steps.at(-1);
  if (!last || (last.type !== 'respond' && last.type !== 'redirect') || last.when) {
    out[200] = {
      description: "The last step's output",
      headers: standardHeaders(),
      content: successContent(),
    };
  }
  for (const step of route.steps) {
    if (step.type === 'respond') {
      const typed = step.headers.some(([name]) => name === 'content-type');
      const said = typed ? 'its body, with the content type it sets' : 'its body as JSON';
      const entry = {
        description: `The respond step "${step.name}": ${said}`,
        headers: standardHeaders(),
        ...(step.body ? { content: { [typed ? '*/*' : 'application/json']: { schema: {} } } } : {}),
      };
      if (typeof step.status === 'number') out[step.status] = entry;
      else
        out.default = {
          ...entry,
          description: `${entry.description}; it computes the status (200 – 599, not 3xx)`,
        };
    } else if (step.type === 'redirect') {
      out[step.status] = {
        description: `The redirect step "${step.name}"`,
        headers: { ...standardHeaders(), Location: { schema: { type: 'string' } } },
      };
    }
  }
  return out;
}

function operation(
  operationId: string,
  app: { slug: string; name: string },
  route: CompiledRoute,
  bodyRef: string | undefined,
): Json {
  const parameters: Json[] = route.segments.flatMap((s) =>
    'param' in s ? [{ name: s.param, in: 'path', required: true, schema: { type: 'string' } }] : [],
  );
  for (const q of route.query) {
    parameters.push({
      name: q.name,
      in: 'query',
      required: q.required === true,
      ...(q.description ? { description: q.description } : {}),
      schema: { type: q.type, ...(q.default !== undefined ? { default: q.default } : {}) },
    });
  }
  if (route.auth === 'public') {
    parameters.push({
      name: RESERVED_QUERY,
      in: 'query',
      required: false,
      description: 'Without credentials: `test` runs the draft of this route (live by default).',
      schema: { enum: ['test', 'live'], default: 'live' },
    });
  }
  const errors = route.method === 'POST' ? [400, 401, 403, 404, 413, 415, 429] : [400, 401, 403, 404, 429];
  return {
    tags: [`App: ${app.name}`],
    operationId,
    summary: route.description ?? `${route.method} ${route.path}`,
    description: `App route (${route.auth}). ${AUTH_NOTE[route.auth](app.slug)}`,
    // Public routes take no credentials; jwt routes a token only (the key itself is refused).
    ...(route.auth === 'public'
      ? { security: [] }
      : route.auth === 'jwt'
        ? { security: [{ bearer: [] }] }
        : {}),
    parameters,
    ...(route.method === 'POST'
      ? {
          requestBody: {
            required: route.bodySchema !== undefined,
            content: {
              'application/json': { schema: bodyRef ? { $ref: bodyRef } : {}, ...bodyExample(route) },
            },
          },
        }
      : {}),
    // A respond step may answer a status errors also use (a 404 of its own): it is listed as the step's.
    responses: { ...errorResponses(errors, { api: 'data' }), ...successResponses(route) },
  };
}

/** A body the route's own schema takes, for the reference page's code samples (see exampleBody). */
function bodyExample(route: CompiledRoute): Json {
  if (!route.bodySchema || !route.validateBody) return {};
  const example = exampleBody(route.bodySchema, route.validateBody);
  return example === undefined ? {} : { example };
}

/**
 * The App API routes one environment serves (the drafts for `test`, deployed versions for
 * `live`), and the routes' body schemas, for `components.schemas` (their local `$ref`s rebased).
 */
export async function appPaths(
  apps: AppService,
  environment: 'test' | 'live',
): Promise<{ paths: Json; schemas: Json }> {
  const paths: Record<string, Json> = {};
  const schemas: Json = {};
  const operationIds = new Set<string>();
  for (const app of await apps.list()) {
    // An app whose stored definition no longer compiles answers its own calls with the reason;
    // it does not take every API document down with it.
    const runtime = await apps.runtime(app.slug).catch(() => null);
    const compiled = environment === 'live' ? runtime?.live : runtime?.draft;
    if (!compiled) continue;
    // Live is named as deployed: a renamed draft shows in test alone until deployed.
    const name =
      environment === 'live'
        ? ((await apps.liveVersion(app.slug).catch(() => null))?.name ?? app.name)
        : app.name;
    for (const route of compiled.routes) {
      const path = `/api/v1/apps/${app.slug}/${route.segments
        .map((s) => ('param' in s ? `{${s.param}}` : s.literal))
        .join('/')}`;
      const entry = paths[path] ?? {};
      // `/a-b` and `/a.b` read alike once punctuation goes: a suffix keeps ids apart.
      const base = `app_${app.slug.replace(/-/g, '_')}_${route.method.toLowerCase()}_${route.path.replace(/[^A-Za-z0-9]+/g, '_')}`;
      let operationId = base;
      for (let n = 2; operationIds.has(operationId); n++) operationId = `${base}_${n}`;
      operationIds.add(operationId);
      let bodyRef: string | undefined;
      if (route.bodySchema) {
        bodyRef = `#/components/schemas/${operationId}_body`;
        const { $schema: _s, $id: _i, ...schema } = route.bodySchema;
        schemas[`${operationId}_body`] = rebaseRefs(schema, bodyRef);
      }
      entry[route.method.toLowerCase()] = operation(operationId, { slug: app.slug, name }, route, bodyRef);
      paths[path] = entry;
    }
  }
  return { paths, schemas };
}
