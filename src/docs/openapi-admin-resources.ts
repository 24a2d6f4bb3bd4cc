/**
 * The management API's answers about endpoints and their records (console, import, export), API
 * keys and usage, and App APIs.
 */
import { STEP_TYPES } from '../apps/definition.ts';
import { DIMENSIONS } from '../usage/usage-query.ts';
import {
  deleted,
  environment,
  extended,
  id,
  type Json,
  list,
  many,
  maybeTime,
  object,
  one,
  page,
  ref,
  shownOnce,
  time,
} from './openapi-admin-shapes.ts';
import { successContent } from './openapi-shared.ts';

const retry = object(
  {
    max_retries: { type: 'integer', minimum: 0, description: 'Retries after the first attempt' },
    interval_seconds: { type: 'integer', minimum: 1, description: 'Base interval between retries' },
  },
  { description: 'How webhook and callback deliveries of this endpoint are retried' },
);

const endpointVersion = object({
  object: { const: 'endpoint_version' },
  version: { type: 'integer', minimum: 1 },
  name: { type: 'string' },
  schema: { type: 'object', description: 'The JSON Schema records were validated against in this version' },
  max_body_bytes: { type: 'integer' },
  retry,
  created_at: time,
});

const endpoint = object({
  id: id('endpoint'),
  object: { const: 'endpoint' },
  slug: { type: 'string' },
  name: { type: 'string' },
  schema: { type: 'object', description: "The draft's JSON Schema (what test traffic is validated against)" },
  max_body_bytes: { type: 'integer', description: 'The largest record body accepted, in bytes' },
  active: { type: 'boolean' },
  expires_at: maybeTime(
    'When the endpoint stops taking requests (403 subscription_expired); null: never. A new one must be in the future (400 invalid_request); one that has passed since stays through other changes',
  ),
  retry,
  draft_revision: { type: 'integer', minimum: 1, description: 'Counts changes to the draft' },
  live_version: { type: ['integer', 'null'], description: 'The version serving live; null: never deployed' },
  created_at: time,
  updated_at: time,
});

const windows = {
  per_minute: { type: 'integer', minimum: 1 },
  per_day: { type: 'integer', minimum: 1 },
  per_month: { type: 'integer', minimum: 1 },
};

const key = object({
  id: id('key'),
  object: { const: 'api_key' },
  name: { type: 'string' },
  environment,
  start: { type: 'string', description: 'The first characters of the secret, to tell keys apart' },
  scopes: {
    type: 'array',
    items: { type: 'string' },
    description:
      '*, records:read|write, <endpoint>:read|write or apps:<app>. Deleting an endpoint or app removes its scopes from every key (a key may be left with none)',
  },
  limits: {
    type: 'object',
    properties: windows,
    description:
      "The key's own limits, by window; a window it sets none for is absent (the installation's default, meta.default_limits of GET /admin/v1/keys, then applies). A shorter window's is never above a longer one's (per_minute ≤ per_day ≤ per_month): such a create or change is refused (400 invalid_request naming both fields)",
  },
  status: {
    enum: ['active', 'inactive', 'revoked', 'expired'],
    description:
      'expired: active, but its expires_at has passed (the data API refuses it with api_key_expired); a deactivated or revoked key stays inactive or revoked once it expires',
  },
  expires_at: maybeTime('null: never'),
  last_used_at: maybeTime('When it was last used (to within the last few seconds); null: never'),
  created_at: time,
  updated_at: time,
  created_by: {
    type: ['string', 'null'],
    description: 'The dashboard user who created the key; null for keys made before roles existed',
  },
});

const secretOfKey = {
  type: 'string',
  description: shownOnce('The key itself (gk_test_… or gk_live_…, with the default prefix)'),
};

const windowDefault = (window: string): Json => ({
  type: ['integer', 'null'],
  description: `The limit of a key that sets no ${window} limit of its own; null: none`,
});

const keysMeta: Json = {
  type: 'object',
  required: ['default_limits'],
  properties: {
    default_limits: {
      type: 'object',
      description:
        "The installation's default limits (GATEHOUSE_DEFAULT_PER_*): a key's effective limit for a window is its own, else this",
      required: ['per_minute', 'per_day', 'per_month'],
      properties: {
        per_minute: windowDefault('per_minute'),
        per_day: windowDefault('per_day'),
        per_month: windowDefault('per_month'),
      },
    },
  },
};
const keyList = successContent(list('Key', 'The keys, newest first'), keysMeta);
/** One key, with the installation's default limits beside it (as beside the list). */
const oneKey = (name: string): Json => successContent(ref(name), keysMeta);

const importResult = object(
  {
    imported: { type: 'integer', minimum: 0, description: 'Records written (0 with dry_run=true)' },
    valid: {
      type: 'integer',
      minimum: 0,
      description: 'With dry_run=true only: records that would be written',
    },
    rejected: { type: 'integer', minimum: 0, description: 'Records refused (none written with strict=true)' },
    errors: {
      type: 'array',
      description: 'The first 1,000 rejected records, by their index in `records`',
      items: object({
        index: { type: 'integer', minimum: 0 },
        details: {
          type: 'array',
          items: object({ field: { type: 'string' }, error: { type: 'string' } }),
        },
      }),
    },
  },
  { optional: ['valid'] },
);

const usageRow = object(
  {
    day: { type: 'string', format: 'date' },
    key_id: { type: 'string' },
    endpoint: { type: ['string', 'null'], description: 'null: a request not about one endpoint' },
    environment,
    status_class: { enum: ['1xx', '2xx', '3xx', '4xx', '5xx'] },
    status: { type: ['integer', 'null'], description: 'null: counted before exact statuses were' },
    count: { type: 'integer', minimum: 0 },
    rate_limited: { type: 'integer', minimum: 0, description: 'Of count, those refused by a limit (429)' },
  },
  {
    optional: [...DIMENSIONS],
    description:
      'Counts for one combination of the grouped dimensions (only those named in group_by are sent)',
  },
);

const usage = object({
  object: { const: 'usage' },
  from: { type: 'string', format: 'date' },
  to: { type: 'string', format: 'date' },
  group_by: { type: 'array', items: { enum: [...DIMENSIONS] } },
  rows: { type: 'array', items: ref('UsageRow') },
  totals: object({ count: { type: 'integer', minimum: 0 }, rate_limited: { type: 'integer', minimum: 0 } }),
});

const queryParam = object(
  {
    name: { type: 'string' },
    type: { enum: ['string', 'integer', 'number', 'boolean'] },
    required: { type: 'boolean' },
    default: { type: ['string', 'number', 'boolean'] },
    description: { type: 'string' },
  },
  { optional: ['required', 'default', 'description'] },
);

const route = object(
  {
    method: { enum: ['GET', 'POST'] },
    path: { type: 'string' },
    auth: { enum: ['apiKey', 'jwt', 'public', null], description: 'Absent or null: apiKey' },
    description: { type: 'string' },
    query: { type: 'array', items: queryParam },
    body_schema: { type: 'object' },
    steps: {
      type: 'array',
      items: {
        ...object(
          { name: { type: 'string' }, type: { enum: [...STEP_TYPES] }, when: { type: 'string' } },
          { optional: ['when'] },
        ),
        // Each type has fields of its own (docs/apps.md): they are the definition as sent.
        additionalProperties: true,
      },
    },
  },
  {
    optional: ['auth', 'description', 'query', 'body_schema'],
    description: 'A route as it was saved (docs/apps.md)',
  },
);

const appVersion = object({
  object: { const: 'app_version' },
  version: { type: 'integer', minimum: 1 },
  name: { type: 'string' },
  routes: { type: 'array', items: route },
  created_at: time,
});

const app = object({
  object: { const: 'app' },
  slug: { type: 'string' },
  name: { type: 'string' },
  routes: { type: 'array', items: route, description: "The draft's routes (what test traffic runs)" },
  draft_revision: { type: 'integer', minimum: 1 },
  live_version: { type: ['integer', 'null'], description: 'The version serving live; null: never deployed' },
  created_at: time,
  updated_at: time,
});

const record = object({
  id: id('record'),
  object: { const: 'record' },
  endpoint: { type: 'string' },
  environment: { const: 'live', description: 'The console reads and writes live records only' },
  data: { type: 'object', description: "The record, as the endpoint's deployed schema allows" },
  version: { type: 'integer', minimum: 1 },
  created_at: time,
  updated_at: time,
});

/** Endpoints, records, keys, usage and apps: the named shapes, for `components.schemas`. */
export const resourceSchemas: Record<string, Json> = {
  Endpoint: endpoint,
  EndpointVersion: endpointVersion,
  DeployedEndpoint: extended(
    endpoint,
    { deployed: ref('EndpointVersion') },
    'The endpoint, and the version just made',
  ),
  Key: key,
  NewKey: extended(key, { key: secretOfKey }, 'The key made, with its secret'),
  RolledKey: extended(
    key,
    {
      key: { ...secretOfKey, description: shownOnce('The new secret') },
      previous_secret_expires_at: { ...time, description: 'When the secrets before this one stop working' },
    },
    'The key, with its new secret',
  ),
  CallbackSigningSecret: object({
    object: { const: 'callback_signing_secret' },
    key_id: id('key'),
    secret: {
      type: 'string',
      pattern: '^whsec_',
      description:
        "Standard Webhooks secret that signs the callbacks of this key's requests; derived from the key id and the installation secret, the same until it is rotated",
    },
    used_for: { type: 'string' },
    previous_secret_expires_at: maybeTime(
      'After a rotation, until when the secret before this one signs alongside it (two signatures per callback); null: no rotation in progress',
    ),
  }),
  UsageRow: usageRow,
  App: app,
  AppVersion: appVersion,
  DeployedApp: extended(app, { deployed: ref('AppVersion') }, 'The app, and the version just made'),
  Record: record,
};

/** Endpoints, records, keys, usage and apps: each operation's success content, by `METHOD /path`. */
export const resourceResponses: Record<string, Json> = {
  'POST /admin/v1/endpoints': one('Endpoint'),
  'GET /admin/v1/endpoints': many('Endpoint', 'Every endpoint, by slug'),
  'GET /admin/v1/endpoints/{slug}': one('Endpoint'),
  'PATCH /admin/v1/endpoints/{slug}': one('Endpoint'),
  'DELETE /admin/v1/endpoints/{slug}': successContent(deleted('slug')),
  'POST /admin/v1/endpoints/{slug}/deploy': one('DeployedEndpoint'),
  'GET /admin/v1/endpoints/{slug}/versions': many('EndpointVersion', 'Newest first'),
  'POST /admin/v1/endpoints/{slug}/import': successContent(importResult),
  'GET /admin/v1/endpoints/{slug}/export': {
    'application/x-ndjson': {
      schema: {
        type: 'string',
        description: "One record's data (a JSON object) per line, oldest first; `?environment=test|live`",
      },
    },
  },
  'POST /admin/v1/keys': oneKey('NewKey'),
  'GET /admin/v1/keys': keyList,
  'GET /admin/v1/keys/{id}': oneKey('Key'),
  'PATCH /admin/v1/keys/{id}': oneKey('Key'),
  'POST /admin/v1/keys/{id}/deactivate': one('Key'),
  'POST /admin/v1/keys/{id}/activate': one('Key'),
  'POST /admin/v1/keys/{id}/revoke': one('Key'),
  'POST /admin/v1/keys/{id}/roll': one('RolledKey'),
  'GET /admin/v1/keys/{id}/callback-signing-secret': successContent(ref('CallbackSigningSecret')),
  'POST /admin/v1/keys/{id}/rotate-callback-secret': successContent(ref('CallbackSigningSecret')),
  'GET /admin/v1/usage': successContent(usage),
  'GET /admin/v1/console/{slug}/records': page('Record', 'One page of live records'),
  'POST /admin/v1/console/{slug}/records': one('Record'),
  'GET /admin/v1/console/{slug}/records/{id}': one('Record'),
  'PUT /admin/v1/console/{slug}/records/{id}': one('Record'),
  'DELETE /admin/v1/console/{slug}/records/{id}': successContent(deleted('id')),
  'POST /admin/v1/apps': one('App'),
  'GET /admin/v1/apps': many('App', 'Every app, by slug'),
  'GET /admin/v1/apps/{slug}': one('App'),
  'PATCH /admin/v1/apps/{slug}': one('App'),
  'DELETE /admin/v1/apps/{slug}': successContent(deleted('slug')),
  'POST /admin/v1/apps/{slug}/deploy': one('DeployedApp'),
  'GET /admin/v1/apps/{slug}/versions': many('AppVersion', 'Newest first'),
};
