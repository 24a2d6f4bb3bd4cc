import { errorResponses, standardHeaders } from '../docs/openapi-shared.ts';
import type { AppService } from './app-service.ts';
import type { CompiledRoute } from './definition.ts';

type Json = Record<string, unknown>;

const AUTH_NOTE = {
  apiKey: 'API key (or a token minted from it) with the scope `apps:{app}` or `*`.',
  jwt: 'Only a short-lived token from `POST /api/v1/tokens` (key scope `apps:{app}` or `*`); the key itself is refused.',
  public: 'No credentials: served from `live`; `?environment=test` serves the draft.',
} as const;

function operation(slug: string, appName: string, route: CompiledRoute): Json {
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
  const { $schema: _s, $id: _i, ...schema } = route.bodySchema ?? {};
  return {
    tags: [`App: ${appName}`],
    operationId: `app_${slug}_${route.method.toLowerCase()}_${route.path.replace(/[^A-Za-z0-9]+/g, '_')}`,
    summary: route.description ?? `${route.method} ${route.path}`,
    description: `App route (${route.auth}). ${AUTH_NOTE[route.auth]}`,
    ...(route.auth === 'public' ? { security: [] } : {}),
    parameters,
    ...(route.method === 'POST'
      ? {
          requestBody: {
            required: route.bodySchema !== undefined,
            content: { 'application/json': { schema: route.bodySchema ? schema : {} } },
          },
        }
      : {}),
    responses: {
      200: {
        description: 'What the pipeline responds (a respond step decides status, headers and body)',
        headers: standardHeaders(),
        content: { 'application/json': { schema: {} } },
      },
      302: { description: 'A redirect step', headers: { Location: { schema: { type: 'string' } } } },
      ...errorResponses([400, 401, 403, 404, 413, 429]),
    },
  };
}

/** The App API routes one environment serves (the drafts for `test`, deployed versions for `live`). */
export async function appPaths(apps: AppService, environment: 'test' | 'live'): Promise<Json> {
  const paths: Record<string, Json> = {};
  for (const app of await apps.list()) {
    const runtime = await apps.runtime(app.slug);
    const compiled = environment === 'live' ? runtime?.live : runtime?.draft;
    if (!compiled) continue;
    for (const route of compiled.routes) {
      const path = `/api/v1/apps/${app.slug}/${route.segments
        .map((s) => ('param' in s ? `{${s.param}}` : s.literal))
        .join('/')}`;
      const entry = paths[path] ?? {};
      entry[route.method.toLowerCase()] = operation(app.slug, app.name, route);
      paths[path] = entry;
    }
  }
  return paths;
}
