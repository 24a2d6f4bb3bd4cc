import type { RecordValidator } from '../endpoints/json-schema.ts';

type Json = Record<string, unknown>;

/** Values for the string formats an endpoint's schema may name (ajv-formats'). */
const FORMATS: Record<string, string> = {
  'date-time': '2026-01-31T12:00:00Z',
  date: '2026-01-31',
  time: '12:00:00Z',
  duration: 'P1D',
  email: 'user@example.com',
  'idn-email': 'user@example.com',
  hostname: 'example.com',
  'idn-hostname': 'example.com',
  ipv4: '192.0.2.1',
  ipv6: '2001:db8::1',
  uri: 'https://example.com/',
  'uri-reference': 'https://example.com/',
  iri: 'https://example.com/',
  'iri-reference': 'https://example.com/',
  'uri-template': 'https://example.com/{id}',
  uuid: '123e4567-e89b-12d3-a456-426614174000',
  'json-pointer': '/a',
  'relative-json-pointer': '0',
  regex: '^a$',
};

/** How deep the example goes: a recursive `$ref` stops here. */
const MAX_DEPTH = 8;

const NONE = Symbol('none');
type Example = unknown | typeof NONE;

function isObject(value: unknown): value is Json {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

/** The schema a local `$ref` (`#/$defs/money`) points to, within `root`. */
function resolve(ref: string, root: Json): unknown {
  if (!ref.startsWith('#')) return undefined;
  let node: unknown = root;
  for (const part of ref.slice(1).split('/').filter(Boolean)) {
    const key = decodeURIComponent(part).replaceAll('~1', '/').replaceAll('~0', '~');
    if (!isObject(node) && !Array.isArray(node)) return undefined;
    node = (node as Json)[key];
  }
  return node;
}

function numberFor(schema: Json, integer: boolean): number {
  const num = (v: unknown) => (typeof v === 'number' ? v : undefined);
  const step = num(schema.multipleOf) ?? (integer ? 1 : 0);
  let value = num(schema.minimum) ?? 1;
  const exclusive = num(schema.exclusiveMinimum);
  if (exclusive !== undefined && value <= exclusive) value = exclusive + (step || 1);
  if (step > 0) value = Math.ceil(value / step) * step;
  const max = num(schema.maximum) ?? num(schema.exclusiveMaximum);
  if (max !== undefined && value > max) value = num(schema.minimum) ?? max;
  return integer ? Math.ceil(value) : value;
}

function stringFor(schema: Json): string {
  const format = typeof schema.format === 'string' ? FORMATS[schema.format] : undefined;
  if (format !== undefined) return format;
  const min = typeof schema.minLength === 'number' ? schema.minLength : 0;
  const max = typeof schema.maxLength === 'number' ? schema.maxLength : Number.POSITIVE_INFINITY;
  return 'example'.padEnd(min, 'x').slice(0, Math.max(min, Math.min(max, 7)));
}

/**
 * A value `schema` describes, from its own annotations first (`examples`, `default`, `const`,
 * `enum`), then its type and constraints; `requiredOnly` leaves out optional properties.
 */
function exampleOf(schema: unknown, root: Json, requiredOnly: boolean, depth: number): Example {
  if (depth > MAX_DEPTH || !isObject(schema)) return NONE;
  if (Array.isArray(schema.examples) && schema.examples.length > 0) return schema.examples[0];
  if ('default' in schema) return schema.default;
  if ('const' in schema) return schema.const;
  if (Array.isArray(schema.enum) && schema.enum.length > 0) return schema.enum[0];
  if (typeof schema.$ref === 'string') {
    const { $ref, ...rest } = schema;
    const target = resolve($ref, root);
    return exampleOf(isObject(target) ? { ...target, ...rest } : rest, root, requiredOnly, depth + 1);
  }
  if (Array.isArray(schema.allOf)) {
    const { allOf, ...rest } = schema;
    let merged: Json = rest;
    for (const part of allOf) {
      const branch = isObject(part) && typeof part.$ref === 'string' ? resolve(part.$ref, root) : part;
      if (!isObject(branch)) continue;
      merged = {
        ...branch,
        ...merged,
        properties: { ...(branch.properties as Json), ...(merged.properties as Json) },
        required: [...((branch.required as unknown[]) ?? []), ...((merged.required as unknown[]) ?? [])],
      };
    }
    return exampleOf(merged, root, requiredOnly, depth + 1);
  }
  for (const keyword of ['oneOf', 'anyOf'] as const) {
    const branches = schema[keyword];
    if (!Array.isArray(branches)) continue;
    const { [keyword]: _branches, ...rest } = schema;
    // A branch other than null first: an example that shows the value's shape.
    const ordered = [...branches].sort((a, b) => Number(isNull(a)) - Number(isNull(b)));
    for (const branch of ordered) {
      const value = exampleOf(
        isObject(branch) ? { ...rest, ...branch } : branch,
        root,
        requiredOnly,
        depth + 1,
      );
      if (value !== NONE) return value;
    }
  }
  const types = [schema.type].flat().filter((t): t is string => typeof t === 'string');
  const type =
    types.find((t) => t !== 'null') ??
    types[0] ??
    (isObject(schema.properties) ? 'object' : schema.items !== undefined ? 'array' : undefined);
  switch (type) {
    case 'null':
      return null;
    case 'boolean':
      return true;
    case 'integer':
      return numberFor(schema, true);
    case 'number':
      return numberFor(schema, false);
    case 'string':
      return stringFor(schema);
    case 'array': {
      const count = Math.max(1, typeof schema.minItems === 'number' ? schema.minItems : 0);
      const prefix = Array.isArray(schema.prefixItems) ? schema.prefixItems : [];
      const items: unknown[] = [];
      for (let i = 0; i < Math.max(count, prefix.length); i++) {
        const item = exampleOf(prefix[i] ?? schema.items, root, requiredOnly, depth + 1);
        if (item === NONE) break;
        items.push(item);
      }
      if (typeof schema.maxItems === 'number') items.length = Math.min(items.length, schema.maxItems);
      return items;
    }
    case 'object': {
      const out: Json = {};
      const required = new Set(Array.isArray(schema.required) ? schema.required : []);
      for (const [name, property] of Object.entries(isObject(schema.properties) ? schema.properties : {})) {
        if (requiredOnly && !required.has(name)) continue;
        const value = exampleOf(property, root, requiredOnly, depth + 1);
        if (value !== NONE) out[name] = value;
      }
      return out;
    }
    default:
      return NONE;
  }
}

function isNull(schema: unknown): boolean {
  return isObject(schema) && (schema.type === 'null' || schema.const === null);
}

/**
 * A request body for an endpoint's reference page and its code samples (the reference page
 * otherwise makes one up with `""` for every string, which a `format`, `minLength` or `pattern`
 * refuses, so the copied curl answered 400). The required properties, then each optional one the
 * endpoint's own validator still takes beside them; none at all (a required field whose `pattern`
 * this cannot satisfy, say) rather than an example the endpoint would refuse.
 */
export function exampleBody(schema: unknown, validate: RecordValidator): Json | undefined {
  if (!isObject(schema)) return undefined;
  const full = exampleOf(schema, schema, false, 0);
  if (isObject(full) && validate(full)) return full;
  const base = exampleOf(schema, schema, true, 0);
  if (!isObject(base) || !validate(base)) return undefined;
  if (isObject(full)) {
    for (const [name, value] of Object.entries(full)) {
      if (name in base) continue;
      const tried = { ...base, [name]: value };
      if (validate(tried)) base[name] = value;
    }
  }
  // In the schema's order, as the full example has them.
  const ordered = isObject(full)
    ? Object.fromEntries(
        Object.keys(full)
          .filter((k) => k in base)
          .map((k) => [k, base[k]]),
      )
    : base;
  return validate(ordered) ? ordered : validate(base) ? base : undefined;
}
