import { invalid, refuseEmptyNested, refuseEmptyPatch } from '../errors.ts';
import { describedPattern, inputValidator, NOT_BLANK } from './json-schema.ts';

export const SLUG_PATTERN = describedPattern(
  '^[a-z0-9][a-z0-9-]{1,62}$',
  'Must be 2-63 lowercase letters, digits or hyphens, starting with a letter or digit',
);
/**
 * Slugs an endpoint may not take: `records:read` is every endpoint's scope and `apps:<app>` an
 * App API's, so an endpoint so named could not be granted alone.
 */
export const RESERVED_SLUGS: ReadonlySet<string> = new Set(['records', 'apps']);
export const MAX_BODY_LIMIT = 5 * 1024 * 1024;

export interface EndpointPatch {
  name?: string;
  schema?: Record<string, unknown>;
  max_body_bytes?: number;
  active?: boolean;
  expires_at?: string | null;
  retry?: { max_retries?: number; interval_seconds?: number };
}

export interface EndpointCreate extends EndpointPatch {
  slug: string;
  name: string;
  schema: Record<string, unknown>;
}

const retryFields = {
  max_retries: { type: 'integer', minimum: 0, maximum: 20 },
  interval_seconds: { type: 'integer', minimum: 1, maximum: 86_400 },
};

const properties = {
  name: { type: 'string', minLength: 1, maxLength: 200, pattern: NOT_BLANK },
  schema: { type: 'object' },
  max_body_bytes: { type: 'integer', minimum: 1, maximum: MAX_BODY_LIMIT },
  active: { type: 'boolean' },
  expires_at: { anyOf: [{ type: 'string', format: 'date-time' }, { type: 'null' }] },
  retry: {
    type: 'object',
    additionalProperties: false,
    properties: retryFields,
  },
};

const validateCreate = inputValidator<EndpointCreate>({
  type: 'object',
  additionalProperties: false,
  required: ['slug', 'name', 'schema'],
  properties: { slug: { type: 'string', pattern: SLUG_PATTERN }, ...properties },
});

/** `"retry": {}` sets nothing (on a change it only moved the draft's revision): refused alike. */
function refuseEmptyRetry(retry: EndpointPatch['retry']): void {
  refuseEmptyNested(retry, 'retry', Object.keys(retryFields));
}

export function parseEndpointCreate(body: unknown): EndpointCreate {
  const input = validateCreate(body);
  refuseEmptyRetry(input.retry);
  return input;
}

const validatePatch = inputValidator<EndpointPatch>({
  type: 'object',
  additionalProperties: false,
  properties,
});

/** A `slug` in a change is a rename, which there is none of: said so, rather than "Unknown field". */
export function parseEndpointPatch(body: unknown): EndpointPatch {
  if (typeof body === 'object' && body !== null && Object.hasOwn(body, 'slug')) {
    throw invalid(
      'slug',
      'Cannot be changed: keys, apps and webhooks name the endpoint by it. Create an endpoint with the new slug instead (gatehouse records export and import move the records)',
    );
  }
  const patch = validatePatch(body);
  refuseEmptyPatch(patch, Object.keys(properties));
  refuseEmptyRetry(patch.retry);
  return patch;
}
