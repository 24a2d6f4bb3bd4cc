import { describedPattern, inputValidator, NOT_BLANK } from '../endpoints/json-schema.ts';

/** `*`, `records:read|write`, `{endpoint}:read|write`, or `apps:{app}` (an App API's routes). */
export const SCOPE_PATTERN = describedPattern(
  '^(\\*|records:(read|write)|[a-z0-9][a-z0-9-]{1,62}:(read|write)|apps:[a-z0-9][a-z0-9-]{1,62})$',
  'Must be *, records:read, records:write, <endpoint>:read, <endpoint>:write or apps:<app>',
);

export interface KeyLimits {
  per_minute?: number | null;
  per_day?: number | null;
  per_month?: number | null;
}

export interface KeyCreate {
  name: string;
  environment: 'test' | 'live';
  scopes?: string[];
  limits?: KeyLimits | null;
  expires_at?: string | null;
}

export type KeyPatch = Partial<Pick<KeyCreate, 'name' | 'scopes' | 'limits' | 'expires_at'>>;

const limit = { anyOf: [{ type: 'integer', minimum: 1, maximum: 1_000_000_000_000 }, { type: 'null' }] };

const properties = {
  name: { type: 'string', minLength: 1, maxLength: 200, pattern: NOT_BLANK },
  // An empty list would make a key that every data call refuses (403); `*` is every scope.
  scopes: {
    type: 'array',
    minItems: 1,
    maxItems: 100,
    uniqueItems: true,
    items: { type: 'string', pattern: SCOPE_PATTERN },
  },
  limits: {
    anyOf: [
      {
        type: 'object',
        additionalProperties: false,
        properties: { per_minute: limit, per_day: limit, per_month: limit },
      },
      { type: 'null' },
    ],
  },
  expires_at: { anyOf: [{ type: 'string', format: 'date-time' }, { type: 'null' }] },
};

export const parseKeyCreate = inputValidator<KeyCreate>({
  type: 'object',
  additionalProperties: false,
  required: ['name', 'environment'],
  properties: { ...properties, environment: { enum: ['test', 'live'] } },
});

export const parseKeyPatch = inputValidator<KeyPatch>({
  type: 'object',
  additionalProperties: false,
  properties,
});

export const parseRoll = inputValidator<{ grace_seconds?: number }>({
  type: 'object',
  additionalProperties: false,
  properties: { grace_seconds: { type: 'integer', minimum: 0, maximum: 30 * 86_400 } },
});
