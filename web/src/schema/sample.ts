/** A plausible payload for a JSON Schema: enums' first value, bounds respected, every property present. */

import randexp from 'randexp';

// CommonJS with an ES-style declaration: whether bundled or run by Node, the default import is the
// class itself (Node's type rules read the declaration's default export as a property).
const RandExp = randexp as unknown as typeof import('randexp').default;

type Json = Record<string, unknown>;

function isObject(value: unknown): value is Json {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

const FORMAT_SAMPLES: Record<string, string> = {
  email: 'user@example.com',
  'date-time': '2025-01-01T12:00:00Z',
  date: '2025-01-01',
  time: '12:00:00Z',
  uri: 'https://example.com',
  url: 'https://example.com',
  uuid: '3fa85f64-5717-4562-b3fc-2c963f66afa6',
  hostname: 'example.com',
  ipv4: '192.0.2.1',
  ipv6: '2001:db8::1',
};

function stringSample(schema: Json, name: string): string {
  const format = typeof schema.format === 'string' ? FORMAT_SAMPLES[schema.format] : undefined;
  if (format) return format;
  const min = typeof schema.minLength === 'number' ? schema.minLength : 0;
  const max = typeof schema.maxLength === 'number' ? schema.maxLength : Number.POSITIVE_INFINITY;
  let value = name === '' ? 'example' : `${name}-1`;
  while (value.length < min) value += 'x';
  value = value.slice(0, Math.max(max, min));
  return typeof schema.pattern === 'string' ? matching(schema.pattern, value) : value;
}

/** `value` if it matches `pattern` (as Ajv reads it: unicode), else the shortest string randexp makes of it. */
function matching(pattern: string, value: string): string {
  let regex: RegExp;
  try {
    regex = new RegExp(pattern, 'u');
  } catch {
    return value;
  }
  if (regex.test(value)) return value;
  try {
    const generator = new RandExp(regex);
    // The same sample every time: the least of every choice, repeats at most 3.
    generator.max = 3;
    generator.randInt = (low: number) => low;
    const made = generator.gen();
    return regex.test(made) ? made : value;
  } catch {
    return value;
  }
}

function numberSample(schema: Json, integer: boolean): number {
  const bound = (key: string) => (typeof schema[key] === 'number' ? (schema[key] as number) : undefined);
  const min = bound('minimum');
  const max = bound('maximum');
  const exclusiveMin = bound('exclusiveMinimum');
  const exclusiveMax = bound('exclusiveMaximum');
  let value = min ?? (exclusiveMin === undefined ? (integer ? 1 : 1.5) : exclusiveMin + 1);
  if (max !== undefined && value > max) value = max;
  // Below an exclusive maximum (`exclusiveMaximum: 1` for a fraction): halfway down from it.
  if (exclusiveMax !== undefined && value >= exclusiveMax) {
    const floor = min ?? exclusiveMin;
    value = floor === undefined ? exclusiveMax - 1 : (floor + exclusiveMax) / 2;
  }
  if (integer) value = Math.ceil(value);
  // A multiple of `multipleOf` (amounts in cents of 100, say): the step itself when it fits,
  // as step × k can miss by a rounding error (0.1 × 3 is 0.30000000000000004).
  const step = bound('multipleOf');
  if (step !== undefined && step > 0) {
    const k = Math.max(1, Math.ceil(value / step));
    value = k === 1 ? step : k * step;
    if (max !== undefined && value > max) value = (k - 1) * step;
  }
  return value;
}

export function samplePayload(schema: unknown, name = '', depth = 0): unknown {
  if (!isObject(schema) || depth > 8) return null;
  if ('const' in schema) return schema.const;
  if (Array.isArray(schema.enum) && schema.enum.length > 0) return schema.enum[0];
  if ('default' in schema) return schema.default;
  if (Array.isArray(schema.examples) && schema.examples.length > 0) return schema.examples[0];
  for (const key of ['oneOf', 'anyOf'] as const) {
    const options = schema[key];
    if (Array.isArray(options) && options.length > 0) return samplePayload(options[0], name, depth + 1);
  }
  let type = schema.type;
  if (Array.isArray(type)) type = type.find((t) => t !== 'null') ?? type[0];
  if (type === undefined && isObject(schema.properties)) type = 'object';
  switch (type) {
    case 'string':
      return stringSample(schema, name);
    case 'integer':
      return numberSample(schema, true);
    case 'number':
      return numberSample(schema, false);
    case 'boolean':
      return true;
    case 'null':
      return null;
    case 'array': {
      const count = Math.max(1, typeof schema.minItems === 'number' ? schema.minItems : 1);
      const items = Array.from({ length: count }, () => samplePayload(schema.items ?? {}, name, depth + 1));
      return typeof schema.maxItems === 'number' ? items.slice(0, schema.maxItems) : items;
    }
    case 'object': {
      const out: Json = {};
      const properties = isObject(schema.properties) ? schema.properties : {};
      for (const [key, sub] of Object.entries(properties)) out[key] = samplePayload(sub, key, depth + 1);
      return out;
    }
    default:
      return null;
  }
}
