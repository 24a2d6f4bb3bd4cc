import { ROUTE_ACCESS, SESSION_COOKIE } from '../dashboard/access.ts';
import type { QueryParams } from '../http/known-query.ts';
import { accountResponses, accountSchemas } from './openapi-admin-accounts.ts';
import { resourceResponses, resourceSchemas } from './openapi-admin-resources.ts';
import { webhookResponses, webhookSchemas } from './openapi-admin-webhooks.ts';
import {
  errorResponses,
  errorSchema,
  requestIdHeader,
  sharedComponents,
  successContent,
} from './openapi-shared.ts';

type Json = Record<string, unknown>;

export interface RouteEntry {
  method: string;
  url: string;
  /** The query parameters the route takes (any other is a 400: src/http/known-query.ts). */
  query?: QueryParams;
}

/** A route's query parameters; `filter[field]` is the deepObject `filter` (`filter[paid]=true`). */
function queryParameters(query: QueryParams = {}): Json[] {
  return Object.entries(query).map(([name, description]) =>
    name.endsWith('[field]')
      ? {
          name: name.slice(0, -'[field]'.length),
          in: 'query',
          required: false,
          description,
          style: 'deepObject',
          explode: true,
          schema: { type: 'object', additionalProperties: { type: 'string' } },
        }
      : { name, in: 'query', required: false, description, schema: { type: 'string' } },
  );
}

/** What each management route does; a route missing here is still documented, generically. */
const summaries: Record<string, string> = {
  'POST /admin/v1/endpoints': 'Create an endpoint (slug, name, JSON Schema, limits, retry policy)',
  'GET /admin/v1/endpoints': 'List endpoints',
  'GET /admin/v1/endpoints/{slug}': 'Read an endpoint (its draft)',
  'PATCH /admin/v1/endpoints/{slug}': 'Change the draft, or active/expires_at',
  'DELETE /admin/v1/endpoints/{slug}':
    "Delete an endpoint and its records (409 while an app's draft or live version uses it)",
  'POST /admin/v1/endpoints/{slug}/deploy':
    'Publish the draft to live as a new immutable version; every deploy makes one, also when the draft is the same as the live version (the dashboard says so before it deploys)',
  'GET /admin/v1/endpoints/{slug}/versions': 'Deployed versions, newest first',
  'POST /admin/v1/keys': 'Create an API key; the secret is in this response only',
  'GET /admin/v1/keys': 'List keys (never their secrets)',
  'GET /admin/v1/keys/{id}': 'Read a key',
  'PATCH /admin/v1/keys/{id}': 'Change name, scopes, limits (merged per window) or expiry',
  'POST /admin/v1/keys/{id}/deactivate': 'Deactivate (reversible)',
  'POST /admin/v1/keys/{id}/activate': 'Activate again',
  'POST /admin/v1/keys/{id}/revoke': 'Revoke for good',
  'POST /admin/v1/keys/{id}/roll': 'New secret; the old one works for a grace period',
  'GET /admin/v1/usage':
    'Request counts per key, endpoint, environment, status class, status and day (docs/limits.md)',
  'POST /admin/v1/endpoints/{slug}/webhooks':
    'Subscribe a URL to events; the whsec_ secret is in this response only',
  'GET /admin/v1/endpoints/{slug}/webhooks': "An endpoint's subscriptions",
  'GET /admin/v1/webhooks': "Every endpoint's subscriptions (by endpoint)",
  'GET /admin/v1/webhooks/{id}': 'Read a subscription',
  'PATCH /admin/v1/webhooks/{id}': 'Change URL or events, enable or disable',
  'DELETE /admin/v1/webhooks/{id}': 'Delete a subscription',
  'POST /admin/v1/webhooks/{id}/rotate-secret': 'New signing secret; the old one signs alongside for 24 h',
  'GET /admin/v1/deliveries': 'The delivery log, newest first, with attempts',
  'GET /admin/v1/deliveries/{id}': 'One delivery and its attempts',
  'POST /admin/v1/deliveries/{id}/redeliver': 'Send the same event to the same target again',
  'GET /admin/v1/webhook-signing-secret':
    "The installation's callback secret: the root every key's callback signing secret derives from (not for partners)",
  'GET /admin/v1/keys/{id}/callback-signing-secret':
    "The secret that signs the callbacks of this key's requests, for its partner (the key reads it as callback_signing_secret of GET /api/v1/account)",
  'POST /admin/v1/keys/{id}/rotate-callback-secret':
    'New callback signing secret for this key: {"grace_seconds"?} (default 86400; 0 stops the old one at once); the old one signs alongside until then',
  'GET /admin/v1/openapi.json': 'This document',
  'PUT /admin/v1/account/password':
    'Change your password: {"current_password", "new_password", "revoke_tokens"?} (8+ characters, not only whitespace); your other dashboard sessions end, and with revoke_tokens: true your management tokens but the calling one',
  'GET /admin/v1/tokens':
    'Your management tokens (never their secrets); `current` marks the one in use, `last_used_at` says when each was last used (null: never)',
  'POST /admin/v1/tokens':
    'A new management token for you: {"name"}; the gm_ secret is in this response only',
  'DELETE /admin/v1/tokens/{id}': 'Revoke one of your management tokens (the one in use too)',
  'POST /admin/v1/tokens/rotate-signing-key':
    'New JWT signing key; tokens signed by older keys keep working until they expire',
  'POST /admin/v1/endpoints/{slug}/import':
    'Import a batch of records (validated, one transaction; no webhooks unless webhooks=true); 403 endpoint_inactive for a deactivated endpoint and subscription_expired for an expired one, as the data API answers a write there',
  'GET /admin/v1/endpoints/{slug}/export': 'Every record of an endpoint and environment as NDJSON, streamed',
  'POST /admin/v1/apps': 'Create an App API (slug, name, routes); the draft serves test (docs/apps.md)',
  'GET /admin/v1/apps': 'List App APIs',
  'GET /admin/v1/apps/{slug}': 'Read an app (its draft routes)',
  'PATCH /admin/v1/apps/{slug}': "Change the draft's name or routes (validated: 400 invalid_app)",
  'DELETE /admin/v1/apps/{slug}': 'Delete an app and its versions',
  'POST /admin/v1/apps/{slug}/deploy': 'Publish the draft to live as a new immutable version',
  'GET /admin/v1/apps/{slug}/versions': 'Deployed versions of an app, newest first',
};

/** Operations whose success is not 200 (a test calls each and compares). */
const successStatuses: Record<string, number> = {
  'POST /admin/v1/endpoints': 201,
  'POST /admin/v1/endpoints/{slug}/deploy': 201,
  'POST /admin/v1/endpoints/{slug}/webhooks': 201,
  'POST /admin/v1/keys': 201,
  'POST /admin/v1/tokens': 201,
  'POST /admin/v1/deliveries/{id}/redeliver': 202,
  'POST /admin/v1/apps': 201,
  'POST /admin/v1/apps/{slug}/deploy': 201,
  'POST /admin/v1/console/{slug}/records': 201,
  'POST /admin/v1/invites': 201,
  'POST /admin/v1/invites/accept': 201,
  'POST /admin/v1/test-requests': 201,
};

/**
 * Each operation's success content, by `METHOD /path`. One missing here is documented with an
 * empty `data` schema, and test/openapi.test.ts fails.
 */
const successContents: Record<string, Json> = {
  'GET /admin/v1/openapi.json': {
    'application/json': { schema: { type: 'object', description: 'This OpenAPI 3.1 document, as it is' } },
  },
  ...resourceResponses,
  ...webhookResponses,
  ...accountResponses,
};

/** POSTs that act on what the path names and read no body (every other POST and PATCH needs one). */
const BODYLESS_ACTIONS = new Set([
  'deploy',
  'deactivate',
  'activate',
  'revoke',
  'roll',
  'rotate-secret',
  'rotate-callback-secret',
  'redeliver',
  'rotate-signing-key',
]);

/** Operations that can answer 429 besides the usual errors: password guesses are throttled. */
const throttled = new Set(['POST /admin/v1/session', 'PUT /admin/v1/account/password']);

const accessNote: Record<string, string> = {
  public: 'Public: no credentials.',
  collaborator: 'Owners and collaborators (a collaborator sees and changes only what is theirs).',
  owner: 'Owner only.',
};

const success = (status: number, content: Json = successContent()) => ({
  [status]: { description: 'Success', headers: requestIdHeader(), content },
});

/** The management API, built from the server's own route table (so a new route is never missing). */
export function adminApiDocument(routes: RouteEntry[], serverUrl: string): Json {
  const paths: Record<string, Json> = {};
  for (const route of routes) {
    if (!route.url.startsWith('/admin/v1') || route.method === 'HEAD') continue;
    const path = route.url.replace(/:([A-Za-z_]+)/g, '{$1}');
    const method = route.method.toLowerCase();
    const key = `${route.method} ${path}`;
    const params = [
      ...[...path.matchAll(/\{([A-Za-z_]+)\}/g)].map((m) => ({
        name: m[1],
        in: 'path',
        required: true,
        schema: { type: 'string' },
      })),
      ...queryParameters(route.query),
    ];
    const status = successStatuses[key] ?? 200;
    const withBody = method === 'post' || method === 'patch' || method === 'put';
    const access = ROUTE_ACCESS[`${route.method} ${route.url}`] ?? 'owner';
    // A DELETE's body is never read, but one over the size limit is refused (413).
    const errors = withBody
      ? [400, 401, 403, 404, 409, 413, 415]
      : method === 'delete'
        ? [400, 401, 403, 404, 409, 413]
        : [400, 401, 403, 404, 409];
    if (throttled.has(key)) errors.push(429);
    paths[path] ??= {};
    (paths[path] as Json)[method] = {
      tags: [path.split('/')[3] ?? 'admin'],
      summary: summaries[key] ?? `${route.method} ${path}`,
      description: accessNote[access],
      operationId: key.replace(/[^A-Za-z0-9]+/g, '_'),
      ...(access === 'public' ? { security: [] } : {}),
      ...(params.length ? { parameters: params } : {}),
      ...(withBody
        ? {
            requestBody: {
              required: !(method === 'post' && BODYLESS_ACTIONS.has(path.split('/').at(-1) ?? '')),
              // A PATCH naming no field is refused (400 invalid_request): it would change nothing.
              content: {
                'application/json': {
                  schema: method === 'patch' ? { type: 'object', minProperties: 1 } : { type: 'object' },
                },
              },
            },
          }
        : {}),
      responses: {
        ...success(status, successContents[key]),
        ...errorResponses(errors, { api: 'management', keyed: false }),
      },
    };
  }
  const shared = sharedComponents();
  return {
    openapi: '3.1.0',
    info: {
      title: 'Gatehouse management API',
      version: '1',
      description:
        'Everything the dashboard and the CLI do. Authenticate with a management token (gm_…), or with ' +
        "the dashboard's session cookie, with which every call but GET also carries the session's " +
        '`X-CSRF-Token` (403 `csrf_failed` without it).',
    },
    servers: [{ url: serverUrl, description: 'This installation' }],
    security: [{ managementToken: [] }, { sessionCookie: [] }],
    paths,
    components: {
      securitySchemes: {
        managementToken: { type: 'http', scheme: 'bearer', description: 'Authorization: Bearer gm_…' },
        sessionCookie: {
          type: 'apiKey',
          in: 'cookie',
          name: SESSION_COOKIE,
          description:
            'Set by POST /admin/v1/session (sign-in); named __Host-gatehouse_session over HTTPS. State-changing calls also send X-CSRF-Token: the csrf_token of GET /admin/v1/session.',
        },
      },
      // Its answers carry no limit headers: no API key, no limits.
      headers: {
        'Request-Id': (shared.headers as Json)['Request-Id'],
        'Retry-After': (shared.headers as Json)['Retry-After'],
        'WWW-Authenticate': (shared.headers as Json)['WWW-Authenticate'],
      },
      schemas: {
        Error: errorSchema('management'),
        PageMeta: (shared.schemas as Json).PageMeta,
        ...resourceSchemas,
        ...webhookSchemas,
        ...accountSchemas,
      },
    },
  };
}
