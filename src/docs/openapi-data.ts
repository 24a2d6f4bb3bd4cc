import type { AppService } from '../apps/app-service.ts';
import { appPaths } from '../apps/openapi.ts';
import type { EndpointService, SchemaVersion } from '../endpoints/endpoint-service.ts';
import { oldestFirst, rebaseRefs, typeNames } from '../endpoints/type-names.ts';
import { FILTERABLE_FIELD } from '../infra/db/dialect.ts';
import { filterableTypes } from '../records/record-reader.ts';
import { EVENT_TYPES } from '../webhooks/subscription-service.ts';
import { exampleBody } from './example-body.ts';
import {
  errorResponses,
  requestIdHeader,
  sharedComponents,
  standardHeaders,
  successContent,
} from './openapi-shared.ts';

type Json = Record<string, unknown>;

/**
 * A user's JSON Schema as an OpenAPI 3.1 schema at `#/components/schemas/{name}` (3.1 is JSON
 * Schema 2020-12): ids go, and its local references (`#/$defs/…`) point to where it now is.
 */
function cleanSchema(schema: unknown, name: string): Json {
  const { $schema: _s, $id: _i, ...rest } = (schema ?? {}) as Json;
  return { type: 'object', ...(rebaseRefs(rest, `#/components/schemas/${name}`) as Json) };
}

/** A record id of the right shape, for examples. */
const RECORD_ID_EXAMPLE = 'rec_0352Gk5vYq1Rr7ZsT2aB9c';

const ref = (name: string) => ({ $ref: `#/components/schemas/${name}` });

function recordSchema(dataRef: Json, slug: string, environment: string): Json {
  return {
    type: 'object',
    required: ['id', 'object', 'endpoint', 'environment', 'data', 'version', 'created_at', 'updated_at'],
    properties: {
      id: { type: 'string', pattern: '^rec_[0-9A-Za-z]{22}$', examples: [RECORD_ID_EXAMPLE] },
      object: { const: 'record' },
      endpoint: { const: slug },
      environment: { const: environment },
      data: dataRef,
      version: { type: 'integer', minimum: 1 },
      created_at: { type: 'string', format: 'date-time' },
      updated_at: { type: 'string', format: 'date-time' },
    },
  };
}

function writeHeaders(): Json[] {
  return [
    { $ref: '#/components/parameters/IdempotencyKey' },
    { $ref: '#/components/parameters/WebhookCallback' },
    { $ref: '#/components/parameters/WebhookAuth' },
    { $ref: '#/components/parameters/WebhookAuthHeader' },
  ];
}

const queued = {
  description:
    'Durable and visible to GET at once; webhooks and the callback follow. A replay of an Idempotency-Key answers as the original did.',
  headers: {
    ...standardHeaders(),
    'Idempotent-Replayed': { $ref: '#/components/headers/Idempotent-Replayed' },
    'Original-Request-Id': { $ref: '#/components/headers/Original-Request-Id' },
  },
  content: { 'application/json': { schema: ref('Queued') } },
};

/** One window of `GET /api/v1/account`'s `usage` (src/usage/account-usage.ts). */
const usageWindow = {
  type: 'object',
  required: ['used', 'limit', 'remaining', 'resets_at'],
  properties: {
    used: { type: 'integer', minimum: 0 },
    limit: {
      type: ['integer', 'null'],
      description: "The effective limit: the key's own, else the installation's default; null when unlimited",
    },
    remaining: { type: ['integer', 'null'], minimum: 0 },
    resets_at: { type: 'string', format: 'date-time' },
  },
  additionalProperties: false,
};

/**
 * The data API as the caller's environment sees it: one typed path per endpoint (the draft
 * schema for `test`, the deployed version for `live`), every status, both auth schemes, the
 * limit and idempotency headers, and the webhook payloads.
 */
export async function dataApiDocument(
  endpoints: EndpointService,
  environment: 'test' | 'live',
  serverUrl: string,
  apps?: AppService,
): Promise<Json> {
  const schemas: Json = {};
  const paths: Json = {};
  const all = await endpoints.list();
  const names = typeNames(oldestFirst(all).map((e) => e.slug));
  for (const endpoint of all) {
    const runtime = await endpoints.runtime(endpoint.slug);
    const version: SchemaVersion | null | undefined = environment === 'live' ? runtime?.live : runtime?.draft;
    if (!runtime || !version) continue;
    // Live shows the deployed version's schema and name: a draft edit shows in test alone until deployed.
    const shown =
      environment === 'live'
        ? await endpoints.versions(endpoint.slug).then((v) => v.find((d) => d.version === version.version))
        : endpoint;
    const schemaSource = shown?.schema;
    const title = shown?.name ?? endpoint.name;
    const name = names.get(endpoint.slug) as string;
    schemas[`${name}Data`] = cleanSchema(schemaSource, `${name}Data`);
    schemas[`${name}Record`] = recordSchema(ref(`${name}Data`), endpoint.slug, environment);
    const tag = title;
    // An example the endpoint takes, for the reference page's code samples (see exampleBody).
    const example = exampleBody(schemaSource, version.validate);
    const body = {
      required: true,
      content: {
        'application/json': { schema: ref(`${name}Data`), ...(example === undefined ? {} : { example }) },
      },
    };
    const recordId = {
      name: 'record_id',
      in: 'path',
      required: true,
      schema: { type: 'string', pattern: '^rec_' },
      // Without one the code samples keep `{record_id}` in the URL, which curl reads as a glob.
      example: RECORD_ID_EXAMPLE,
    };
    const filterable = Object.keys(((schemaSource as Json)?.properties as Json) ?? {}).filter(
      (field) => FILTERABLE_FIELD.test(field) && filterableTypes(version.fieldTypes.get(field)),
    );
    const filters = filterable.map((field) => ({
      name: `filter[${field}]`,
      in: 'query',
      required: false,
      description: `Only records whose top-level \`${field}\` equals this value.`,
      schema: { type: 'string' },
    }));
    paths[`/api/v1/data/${endpoint.slug}`] = {
      post: {
        tags: [tag],
        operationId: `create${name}`,
        summary: `Create a record in ${title} (queued)`,
        parameters: writeHeaders(),
        requestBody: body,
        responses: {
          202: queued,
          ...errorResponses([400, 401, 403, 404, 409, 413, 415, 422, 429, 507], { api: 'data' }),
        },
      },
      get: {
        tags: [tag],
        operationId: `list${name}`,
        summary: `List ${title}, newest first by default`,
        parameters: [
          { $ref: '#/components/parameters/Limit' },
          { $ref: '#/components/parameters/Order' },
          { $ref: '#/components/parameters/After' },
          ...filters,
        ],
        responses: {
          200: {
            description: 'One page',
            headers: standardHeaders(),
            content: successContent({ type: 'array', items: ref(`${name}Record`) }, ref('PageMeta')),
          },
          ...errorResponses([400, 401, 403, 404, 429], { api: 'data' }),
        },
      },
    };
    const one = (summary: string, operationId: string) => ({
      tags: [tag],
      summary,
      operationId,
      parameters: [recordId],
    });
    paths[`/api/v1/data/${endpoint.slug}/{record_id}`] = {
      get: {
        ...one(`Get a record of ${title}`, `get${name}`),
        responses: {
          200: {
            description: 'The record',
            headers: standardHeaders(),
            content: successContent(ref(`${name}Record`)),
          },
          // 400: a record id that is not valid percent-encoding.
          ...errorResponses([400, 401, 403, 404, 429], { api: 'data' }),
        },
      },
      put: {
        ...one(`Replace a record of ${title} (queued)`, `replace${name}`),
        parameters: [recordId, ...writeHeaders()],
        requestBody: body,
        responses: {
          202: queued,
          ...errorResponses([400, 401, 403, 404, 409, 413, 415, 422, 429, 507], { api: 'data' }),
        },
      },
      delete: {
        ...one(`Delete a record of ${title} (queued)`, `delete${name}`),
        description:
          "Takes no body. One sent is not read and means nothing, whatever its Content-Type, but one over the endpoint's `max_body_bytes` is refused (413) and nothing is deleted.",
        parameters: [recordId, ...writeHeaders()],
        responses: {
          202: queued,
          ...errorResponses([400, 401, 403, 404, 409, 413, 422, 429, 507], { api: 'data' }),
        },
      },
    };
  }
  if (apps) {
    const app = await appPaths(apps, environment);
    Object.assign(paths, app.paths);
    Object.assign(schemas, app.schemas);
  }
  paths['/api/v1/account'] = {
    get: {
      tags: ['Account'],
      operationId: 'getAccount',
      summary: 'The calling key: name, environment, scopes, limits and usage',
      responses: {
        200: {
          description: 'The key',
          headers: standardHeaders(),
          content: successContent({
            type: 'object',
            required: [
              'id',
              'object',
              'name',
              'environment',
              'scopes',
              'limits',
              'expires_at',
              'created_at',
              'callback_signing_secret',
              'usage',
            ],
            properties: {
              id: { type: 'string', pattern: '^key_' },
              object: { const: 'api_key' },
              name: { type: 'string' },
              environment: { enum: ['test', 'live'] },
              scopes: { type: 'array', items: { type: 'string' } },
              limits: {
                type: 'object',
                description:
                  "The key's own limits, by window; a window it sets none for is absent, e.g. {\"per_minute\": 120} (the installation's default, if any, then applies: `usage` gives each window's effective limit)",
                properties: {
                  per_minute: { type: 'integer' },
                  per_day: { type: 'integer' },
                  per_month: { type: 'integer' },
                },
                additionalProperties: false,
              },
              expires_at: { type: ['string', 'null'], format: 'date-time' },
              created_at: { type: 'string', format: 'date-time' },
              callback_signing_secret: {
                type: ['string', 'null'],
                pattern: '^whsec_',
                description:
                  "The Standard Webhooks secret (whsec_…) that signs the callbacks (X-Webhook-Callback) of this key's requests: verify them with it. Each key has its own; it changes only when the owner rotates it (POST /admin/v1/keys/{id}/rotate-callback-secret), the one before signing alongside until the overlap the owner chose ends. Null when the call is made with a token minted from the key rather than with the key itself",
              },
              usage: {
                type: ['object', 'null'],
                description:
                  'Requests counted in each window so far, the current request included (as the limit headers count them); null when the counters were unreachable (Redis down, failing open)',
                required: ['minute', 'day', 'month'],
                properties: { minute: usageWindow, day: usageWindow, month: usageWindow },
                additionalProperties: false,
              },
            },
          }),
        },
        ...errorResponses([401, 429], { api: 'data' }),
      },
    },
  };
  paths['/api/v1/tokens'] = {
    post: {
      tags: ['Account'],
      operationId: 'createToken',
      summary: 'Mint a short-lived JWT from the calling API key',
      description:
        "The token works as `Authorization: Bearer` wherever the key does, for the key's environment and " +
        'scopes, until it expires; revoking or deactivating the key ends it at once. Minted with a key, ' +
        'not with another token (403).',
      requestBody: {
        required: false,
        content: {
          'application/json': {
            schema: {
              type: 'object',
              additionalProperties: false,
              properties: {
                expires_in: {
                  type: 'integer',
                  minimum: 30,
                  maximum: 3600,
                  default: 900,
                  description:
                    "Lifetime in seconds, cut short to the key's expires_at, or to the grace of a secret a roll replaced: data.expires_at says when the token ends",
                },
              },
            },
          },
        },
      },
      responses: {
        201: {
          description: 'The token',
          headers: standardHeaders(),
          content: {
            'application/json': {
              schema: {
                type: 'object',
                required: ['success', 'data'],
                properties: {
                  success: { const: true },
                  data: {
                    type: 'object',
                    required: ['token', 'token_type', 'expires_at', 'environment'],
                    properties: {
                      token: { type: 'string' },
                      token_type: { const: 'Bearer' },
                      expires_at: { type: 'string', format: 'date-time' },
                      environment: { enum: ['test', 'live'] },
                    },
                  },
                },
              },
            },
          },
        },
        // A body, if sent, is read as any write's: JSON only, within the request size limit.
        ...errorResponses([400, 401, 403, 413, 415, 429], { api: 'data' }),
      },
    },
  };
  paths['/api/v1/openapi.json'] = {
    get: {
      tags: ['Account'],
      operationId: 'getOpenApi',
      summary: "This document, for the calling key's environment",
      responses: {
        200: {
          description: 'The OpenAPI 3.1 document, as it is (no envelope)',
          headers: standardHeaders(),
          content: { 'application/json': { schema: { type: 'object' } } },
        },
        ...errorResponses([401, 429], { api: 'data' }),
      },
    },
  };
  paths['/health'] = {
    get: {
      tags: ['Operations'],
      operationId: 'getHealth',
      summary: 'Liveness: answers while the process runs (no key, no database)',
      security: [],
      responses: {
        200: {
          description: 'Alive',
          headers: requestIdHeader(),
          content: {
            'application/json': {
              schema: { type: 'object', required: ['status'], properties: { status: { const: 'ok' } } },
            },
          },
        },
        // No key: what the HTTP server refuses (a malformed request, headers over 16 KiB…).
        ...errorResponses([], { api: 'data', keyed: false }),
      },
    },
  };
  const webhooks: Json = {};
  for (const type of EVENT_TYPES) {
    webhooks[type] = {
      post: {
        summary: `${type}: sent to subscriptions (and, for record events, to the request's X-Webhook-Callback)`,
        parameters: [
          {
            name: 'webhook-id',
            in: 'header',
            required: true,
            schema: { type: 'string' },
            description:
              'The event id (evt_…); the same on every retry and redelivery, so a receiver can deduplicate',
          },
          {
            name: 'webhook-timestamp',
            in: 'header',
            required: true,
            schema: { type: 'string', pattern: '^[0-9]+$' },
            description:
              'Unix seconds of this attempt (a retry has its own); signed with the body, and refused by Standard Webhooks libraries when more than 5 minutes from now',
          },
          {
            name: 'webhook-signature',
            in: 'header',
            required: true,
            schema: { type: 'string' },
            description:
              'v1,<base64 HMAC-SHA256 of "{id}.{timestamp}.{body}">, space-separated during a rotation; a callback is signed with the callback_signing_secret of the key that made the request (GET /api/v1/account), a subscription\'s delivery with its own secret',
          },
        ],
        requestBody: { required: true, content: { 'application/json': { schema: ref('Event') } } },
        responses: { '2XX': { description: 'Received; anything else is retried' } },
      },
    };
  }
  return {
    openapi: '3.1.0',
    info: {
      title: `Gatehouse data API (${environment})`,
      version: '1',
      description:
        'Writes answer `202 Request queued` once durable; errors share one envelope; every response carries `Request-Id`. See docs/errors.md and docs/webhooks.md.',
    },
    // The address the caller used: a fixed localhost:4000 beside it was wrong on any other port.
    servers: [{ url: serverUrl, description: 'This installation' }],
    security: [{ bearer: [] }, { apiKey: [] }],
    paths,
    webhooks,
    components: { ...sharedComponents(), schemas: { ...(sharedComponents().schemas as Json), ...schemas } },
  };
}
