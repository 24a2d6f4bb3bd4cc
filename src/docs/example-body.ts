import type { RecordValidator } from '../endpoints/json-schema.ts';
import { samplePayload } from '../endpoints/sample.ts';

type Json = Record<string, unknown>;

function isObject(value: unknown): value is Json {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

/**
 * A request body for an endpoint's (or App route's) reference page and its code samples: the
 * reference page otherwise makes one up with `""` for every string, which a `format`, `minLength`
 * or `pattern` refuses, so the copied curl answered 400. The dashboard's sample (every property,
 * bounds, formats and patterns met) when the validator takes it; else its required properties and
 * each optional one the validator still takes beside them; none at all (a required field no sample
 * meets) rather than an example the endpoint would refuse.
 */
export function exampleBody(schema: unknown, validate: RecordValidator): Json | undefined {
  if (!isObject(schema)) return undefined;
  const full = samplePayload(schema);
  if (!isObject(full)) return undefined;
  if (validate(full)) return full;
  const required = new Set(Array.isArray(schema.required) ? schema.required : []);
  const base: Json = Object.fromEntries(Object.entries(full).filter(([name]) => required.has(name)));
  if (!validate(base)) return undefined;
  // In the schema's order, as the full sample has them.
  const kept: Json = {};
  for (const [name, value] of Object.entries(full)) {
    if (required.has(name) || validate({ ...base, [name]: value })) kept[name] = value;
  }
  return validate(kept) ? kept : base;
}
