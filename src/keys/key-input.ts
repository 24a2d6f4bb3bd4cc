import { describedPattern, inputValidator, NOT_BLANK } from '../endpoints/json-schema.ts';
import { ApiError, type ErrorDetail, refuseEmptyNested, refuseEmptyPatch } from '../errors.ts';
import { unreachableLimits } from '../limits/windows.ts';

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
const windows = { per_minute: limit, per_day: limit, per_month: limit };

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
        properties: windows,
      },
      { type: 'null' },
    ],
  },
  expires_at: { anyOf: [{ type: 'string', format: 'date-time' }, { type: 'null' }] },
};

const validateKeyCreate = inputValidator<KeyCreate>({
  type: 'object',
  additionalProperties: false,
  required: ['name', 'environment'],
  properties: { ...properties, environment: { enum: ['test', 'live'] } },
});

const validateKeyPatch = inputValidator<KeyPatch>({
  type: 'object',
  additionalProperties: false,
  properties,
});

/**
 * `"limits": {}` names no window: on a change it kept every limit (windows are merged), which
 * whoever sent it to remove them would not notice; on a create it meant no limits, as leaving it
 * out does. Refused on both alike; `"limits": null` is the one way to say "none of the key's own".
 */
function refuseEmptyLimits(limits: KeyLimits | null | undefined): void {
  refuseEmptyNested(
    limits,
    'limits',
    Object.keys(windows),
    '; to leave the key no limits of its own, send "limits": null',
  );
}

export function parseKeyCreate(body: unknown): KeyCreate {
  const input = validateKeyCreate(body);
  refuseEmptyLimits(input.limits);
  return input;
}

export function parseKeyPatch(body: unknown): KeyPatch {
  const patch = validateKeyPatch(body);
  refuseEmptyPatch(patch, Object.keys(properties));
  refuseEmptyLimits(patch.limits);
  return patch;
}

export const parseRoll = inputValidator<{ grace_seconds?: number }>({
  type: 'object',
  additionalProperties: false,
  properties: { grace_seconds: { type: 'integer', minimum: 0, maximum: 30 * 86_400 } },
});

/**
 * A window's limit above a longer window's (`per_minute` 5000 with `per_day` 1000) can never be
 * reached: the longer window refuses first. Refused, naming both fields, rather than stored as if
 * it meant something. `limits` are the key's limits as they would be stored; `sent` the windows
 * this request gave (the others are the key's current values, said so).
 */
export function refuseUnreachableLimits(limits: KeyLimits, sent: KeyLimits): void {
  const given = (window: keyof KeyLimits) => typeof sent[window] === 'number';
  const current = (window: keyof KeyLimits) => (given(window) ? '' : ", the key's current value");
  const details: ErrorDetail[] = [];
  let message = '';
  for (const { shorter, longer, low, high } of unreachableLimits(limits)) {
    message ||= `limits.${shorter} (${low}) cannot be more than limits.${longer} (${high}): lower limits.${shorter} or raise limits.${longer}`;
    const detail = given(shorter)
      ? { field: `limits.${shorter}`, error: `Must be at most limits.${longer} (${high}${current(longer)})` }
      : {
          field: `limits.${longer}`,
          error: `Must be at least limits.${shorter} (${low}${current(shorter)})`,
        };
    if (!details.some((d) => d.field === detail.field)) details.push(detail);
  }
  if (details.length > 0) throw new ApiError('invalid_request', { message, details });
}
