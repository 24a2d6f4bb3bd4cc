/** A plausible payload for a JSON Schema: enums' first value, bounds respected, every property present. */

import randexp from 'randexp';
import { resolveRef } from './schema-refs.ts';

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

/** A string's length as JSON Schema counts it: in code points (an emoji is one). */
const codePoints = (value: string) => [...value].length;

/** How many strings randexp is asked for before the sample gives up on meeting every keyword. */
const TRIES = 200;

/**
 * What one sample may hold: a string's code points, an array's items, and values in all. A schema
 * may ask for more (`minLength: 1000000000`, arrays of `minItems: 1000` inside one another); the
 * sample then stops there and names the place as unmet. Unbounded, one such schema held the event
 * loop for minutes or ran the process out of memory when the public /docs document was made, and
 * hung the dashboard's test page.
 */
export const SAMPLE_CHARS = 1000;
export const SAMPLE_ITEMS = 100;
export const SAMPLE_VALUES = 10_000;

/** A small seeded generator (mulberry32): the same sample every time. */
function seeded(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4_294_967_296;
  };
}

/**
 * Strings made of `regex` by randexp, most plausible first: the shortest (the least of every
 * choice), the longest with repeats up to `reps`, then seeded random ones with repeats up to
 * 3…`reps` (so a minLength the shortest falls short of, and a maxLength the longest passes, are
 * both met when a string of the pattern can meet them).
 */
function* patternStrings(regex: RegExp, reps: number): Generator<string> {
  const made = (max: number, pick: (low: number, high: number) => number) => {
    const generator = new RandExp(regex);
    generator.max = max;
    generator.randInt = pick;
    return generator.gen();
  };
  yield made(3, (low) => low);
  yield made(reps, (_low, high) => high);
  for (let i = 0; i < TRIES; i++) {
    const random = seeded(i + 1);
    const max = 3 + Math.floor(random() * (reps - 2));
    yield made(max, (low, high) => low + Math.floor(random() * (high - low + 1)));
  }
}

/**
 * A string meeting the field's format, length and pattern; `met: false` when none was found (a
 * pattern whose strings are all shorter than minLength, say): the value is then the closest.
 * `variant` n asks for the n-th such string (items of a `uniqueItems` array differ).
 */
function stringSample(schema: Json, name: string, variant: number): { value: string; met: boolean } {
  const min = typeof schema.minLength === 'number' ? schema.minLength : 0;
  const max = typeof schema.maxLength === 'number' ? schema.maxLength : Number.POSITIVE_INFINITY;
  let regex: RegExp | null = null;
  if (typeof schema.pattern === 'string') {
    try {
      // As Ajv reads it: unicode.
      regex = new RegExp(schema.pattern, 'u');
    } catch {
      regex = null;
    }
  }
  const lengthOk = (value: string) => codePoints(value) >= min && codePoints(value) <= max;
  const fits = (value: string) => lengthOk(value) && (regex === null || regex.test(value));

  const format = typeof schema.format === 'string' ? FORMAT_SAMPLES[schema.format] : undefined;
  if (format) return { value: format, met: fits(format) };
  let value = name === '' ? `example${variant === 0 ? '' : `-${variant + 1}`}` : `${name}-${variant + 1}`;
  if (min > SAMPLE_CHARS) return { value, met: false };
  value += 'x'.repeat(Math.max(0, min - codePoints(value)));
  value = [...value].slice(0, Math.max(max, min)).join('');
  if (fits(value) || regex === null) return { value, met: fits(value) };
  let closest: string | null = null;
  try {
    const reps = Math.max(3, Math.min(min, 1000), Number.isFinite(max) ? Math.min(max, 1000) : 0);
    const found = new Set<string>();
    for (const made of patternStrings(regex, reps)) {
      if (!regex.test(made)) continue;
      closest ??= made;
      if (!lengthOk(made) || found.has(made)) continue;
      found.add(made);
      closest = made;
      if (found.size > variant) return { value: made, met: true };
    }
  } catch {
    // randexp cannot read every pattern (lookbehinds, say): the sample says it is unmet.
  }
  return { value: closest ?? value, met: false };
}

/** Whether `value` meets the schema's numeric keywords (bounds, `multipleOf`, integer). */
function numberFits(schema: Json, integer: boolean, value: number): boolean {
  const bound = (key: string, none: number) =>
    typeof schema[key] === 'number' ? (schema[key] as number) : none;
  const step = bound('multipleOf', 0);
  return (
    Number.isFinite(value) &&
    (!integer || Number.isInteger(value)) &&
    // As Ajv checks it (no tolerance: 0.3 is not a multiple of 0.1 there).
    (step <= 0 || (value / step) % 1 === 0) &&
    value <= bound('maximum', Number.POSITIVE_INFINITY) &&
    value < bound('exclusiveMaximum', Number.POSITIVE_INFINITY) &&
    value >= bound('minimum', Number.NEGATIVE_INFINITY) &&
    value > bound('exclusiveMinimum', Number.NEGATIVE_INFINITY)
  );
}

/**
 * `variant` n: the n-th value up from the first (by `multipleOf`, else by 1), or down when that
 * passes the top; the first again when neither fits (the array then says its items repeat).
 */
function numberSample(schema: Json, integer: boolean, variant: number): number {
  const first = firstNumber(schema, integer);
  if (variant === 0) return first;
  const step = typeof schema.multipleOf === 'number' && schema.multipleOf > 0 ? schema.multipleOf : 1;
  const up = first + variant * step;
  if (numberFits(schema, integer, up)) return up;
  const down = first - variant * step;
  return numberFits(schema, integer, down) ? down : first;
}

function firstNumber(schema: Json, integer: boolean): number {
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

export interface Sample {
  value: unknown;
  /** Where the sample could not meet every keyword (`sku`, `lines[].code`): it fails there. */
  unmet: string[];
}

/** A sample for the schema, and the places where it does not meet it (none, nearly always). */
export function sampleFor(schema: unknown): Sample {
  const walk: Walk = { root: schema, unmet: [], left: SAMPLE_VALUES };
  return { value: sampleAt(schema, '', 0, '', walk, 0), unmet: walk.unmet };
}

/** What a sample is made in: the whole schema (for its `$ref`s), and the places found unmet. */
interface Walk {
  root: unknown;
  unmet: string[];
  /** How many more values it may make (SAMPLE_VALUES in all). */
  left: number;
}

/** A sample for the schema (see sampleFor for whether it meets every keyword). */
export function samplePayload(schema: unknown): unknown {
  return sampleFor(schema).value;
}

/**
 * `variant` n > 0 asks for a value other than the first where the schema allows one (the n-th
 * enum value, the next number up, `name-(n+1)`): the items of a `uniqueItems` array differ.
 */
function sampleAt(
  schema: unknown,
  name: string,
  depth: number,
  path: string,
  walk: Walk,
  variant: number,
): unknown {
  if (!isObject(schema)) return null;
  // Deeper than this (a schema that refers to itself), or past what a sample may hold: left for
  // the user to fill in.
  if (depth > 8 || walk.left-- <= 0) {
    if (!walk.unmet.includes(path)) walk.unmet.push(path);
    return null;
  }
  // A reference (`#/$defs/money`): a sample of the schema it names, with the keywords beside it.
  if (typeof schema.$ref === 'string') {
    const { $ref, ...beside } = schema;
    const target = resolveRef(walk.root, $ref);
    return sampleAt(
      isObject(target) ? { ...target, ...beside } : beside,
      name,
      depth + 1,
      path,
      walk,
      variant,
    );
  }
  const { unmet } = walk;
  if ('const' in schema) return schema.const;
  if (Array.isArray(schema.enum) && schema.enum.length > 0) return schema.enum[variant % schema.enum.length];
  if (variant === 0 && 'default' in schema) return schema.default;
  if (Array.isArray(schema.examples) && schema.examples.length > variant) return schema.examples[variant];
  for (const key of ['oneOf', 'anyOf'] as const) {
    const options = schema[key];
    if (Array.isArray(options) && options.length > 0)
      return sampleAt(options[0], name, depth + 1, path, walk, variant);
  }
  let type = schema.type;
  if (Array.isArray(type)) type = type.find((t) => t !== 'null') ?? type[0];
  if (type === undefined && isObject(schema.properties)) type = 'object';
  switch (type) {
    case 'string': {
      const made = stringSample(schema, name, variant);
      if (!made.met && !unmet.includes(path)) unmet.push(path);
      return made.value;
    }
    case 'integer':
    case 'number': {
      const integer = type === 'integer';
      const value = numberSample(schema, integer, variant);
      // No number meets them all (`minimum: 1, exclusiveMaximum: 2, multipleOf: 5`): said so.
      if (!numberFits(schema, integer, value) && !unmet.includes(path)) unmet.push(path);
      return value;
    }
    case 'boolean':
      return variant % 2 === 0;
    case 'null':
      return null;
    case 'array': {
      const asked = Math.max(1, typeof schema.minItems === 'number' ? schema.minItems : 1);
      if (asked > SAMPLE_ITEMS && !unmet.includes(path)) unmet.push(path);
      const count = Math.min(asked, SAMPLE_ITEMS);
      const unique = schema.uniqueItems === true;
      // Items of a uniqueItems array are asked to differ; the array says so where they cannot.
      const items = Array.from({ length: count }, (_, i) =>
        sampleAt(
          schema.items ?? {},
          name,
          depth + 1,
          `${path}[]`,
          walk,
          unique ? variant * count + i : variant,
        ),
      );
      const kept = typeof schema.maxItems === 'number' ? items.slice(0, schema.maxItems) : items;
      if (
        unique &&
        new Set(kept.map((item) => JSON.stringify(item))).size < kept.length &&
        !unmet.includes(path)
      )
        unmet.push(path);
      return kept;
    }
    case 'object': {
      const out: Json = {};
      const properties = isObject(schema.properties) ? schema.properties : {};
      for (const [key, sub] of Object.entries(properties))
        out[key] = sampleAt(sub, key, depth + 1, path === '' ? key : `${path}.${key}`, walk, variant);
      return out;
    }
    default:
      return null;
  }
}
