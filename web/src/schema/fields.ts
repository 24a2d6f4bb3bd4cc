import { stringifyJson } from '../api/exact-json.ts';
/**
 * The field builder's model and its two-way mapping to JSON Schema. The JSON text is the source
 * of truth: a schema the builder cannot show (oneOf, $ref, patterns…) is edited as text only.
 */

export const FIELD_TYPES = ['string', 'integer', 'number', 'boolean', 'object', 'array'] as const;
export type FieldType = (typeof FIELD_TYPES)[number];
export type ItemType = Exclude<FieldType, 'array'>;

export interface Field {
  uid: string;
  name: string;
  type: FieldType;
  required: boolean;
  /** Comma-separated allowed values (strings, integers and numbers). */
  enumText: string;
  min: string;
  max: string;
  format: string;
  description: string;
  /** Array element type. */
  itemType: ItemType;
  /** Properties of an object, or of an array's object items. */
  children: Field[];
}

/**
 * The formats the builder offers a string field: those the server's Ajv (ajv-formats, with its
 * own linear `url`) checks a string against. Not int32, int64, float and double (they check
 * numbers only) nor password and binary (any string passes them).
 */
export const STRING_FORMATS = [
  'email',
  'uri',
  'url',
  'uri-reference',
  'uri-template',
  'hostname',
  'ipv4',
  'ipv6',
  'uuid',
  'date',
  'time',
  'date-time',
  'iso-time',
  'iso-date-time',
  'duration',
  'regex',
  'byte',
  'json-pointer',
  'json-pointer-uri-fragment',
  'relative-json-pointer',
] as const;

type Json = Record<string, unknown>;

let counter = 0;
export function newField(partial: Partial<Field> = {}): Field {
  counter += 1;
  return {
    uid: `f${counter}`,
    name: '',
    type: 'string',
    required: false,
    enumText: '',
    min: '',
    max: '',
    format: '',
    description: '',
    itemType: 'string',
    children: [],
    ...partial,
  };
}

function isObject(value: unknown): value is Json {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

/** Which keywords hold a field's min and max, by type. */
export function boundKeywords(type: FieldType): [string, string] | null {
  if (type === 'string') return ['minLength', 'maxLength'];
  if (type === 'integer' || type === 'number') return ['minimum', 'maximum'];
  if (type === 'array') return ['minItems', 'maxItems'];
  return null;
}

function enumParts(text: string): string[] {
  return text
    .split(',')
    .map((s) => s.trim())
    .filter((s) => s !== '');
}

/**
 * Why a field's allowed values cannot go into the schema as typed (a word, or 1.5 for an
 * integer), or null. The schema keeps only the numbers, so saving it would drop the others.
 */
export function enumProblem(field: Pick<Field, 'type' | 'enumText'>): string | null {
  if (field.type !== 'integer' && field.type !== 'number') return null;
  for (const part of enumParts(field.enumText)) {
    const value = Number(part);
    if (!Number.isFinite(value)) return `"${part}" is not a number`;
    if (field.type === 'integer' && !Number.isInteger(value)) return `${part} is not an integer`;
  }
  return null;
}

/** Why a min or max input is left out of the schema (it is not a number), or null. */
export function boundProblem(text: string): string | null {
  return text.trim() !== '' && !Number.isFinite(Number(text)) ? 'A number' : null;
}

/**
 * The first field, at any depth, with an input the schema would silently leave out, said as
 * `field: why`; null when the schema holds every input as typed.
 */
export function fieldInputProblem(fields: Field[], parent = ''): string | null {
  for (const field of fields) {
    const name = `${parent}${field.name.trim() || 'unnamed field'}`;
    const labels = boundKeywords(field.type);
    const why =
      enumProblem(field) ??
      (labels && boundProblem(field.min) ? `${labels[0]} is not a number` : null) ??
      (labels && boundProblem(field.max) ? `${labels[1]} is not a number` : null);
    if (why) return `${name}: ${why}`;
    const nested = fieldInputProblem(field.children, `${name}.`);
    if (nested) return nested;
  }
  return null;
}

function parseEnum(text: string, type: FieldType): unknown[] | undefined {
  const parts = enumParts(text);
  if (parts.length === 0) return undefined;
  if (type === 'integer' || type === 'number') {
    const numbers = parts.map(Number).filter((n) => Number.isFinite(n));
    return numbers.length > 0 ? numbers : undefined;
  }
  return parts;
}

function objectSchema(fields: Field[]): Json {
  const properties: Json = {};
  const required: string[] = [];
  for (const field of fields) {
    const name = field.name.trim();
    if (name === '') continue;
    properties[name] = fieldSchema(field);
    if (field.required) required.push(name);
  }
  const out: Json = { type: 'object', properties };
  if (required.length > 0) out.required = required;
  return out;
}

function scalarSchema(type: ItemType, field: Field): Json {
  if (type === 'object') return objectSchema(field.children);
  const out: Json = { type };
  if (type === 'string' && field.format.trim() !== '') out.format = field.format.trim();
  return out;
}

function fieldSchema(field: Field): Json {
  let out: Json;
  if (field.type === 'array') {
    out = { type: 'array', items: scalarSchema(field.itemType, field) };
  } else {
    out = scalarSchema(field.type, field);
  }
  if (field.description.trim() !== '') out.description = field.description.trim();
  if (field.type !== 'object' && field.type !== 'boolean' && field.type !== 'array') {
    const values = parseEnum(field.enumText, field.type);
    if (values) out.enum = values;
  }
  const bounds = boundKeywords(field.type);
  if (bounds) {
    const [minKey, maxKey] = bounds;
    const min = field.min.trim() === '' ? Number.NaN : Number(field.min);
    const max = field.max.trim() === '' ? Number.NaN : Number(field.max);
    if (Number.isFinite(min)) out[minKey] = min;
    if (Number.isFinite(max)) out[maxKey] = max;
  }
  return out;
}

/** The record schema for the builder's fields; `base` keeps root keywords such as additionalProperties. */
export function schemaFromFields(fields: Field[], base: Json = {}): Json {
  const { properties: _p, required: _r, type: _t, ...rest } = base;
  return { ...rest, ...objectSchema(fields) };
}

const ROOT_KEYS = new Set([
  'type',
  'properties',
  'required',
  'additionalProperties',
  '$schema',
  'title',
  'description',
]);
const FIELD_KEYS = new Set([
  'type',
  'enum',
  'minLength',
  'maxLength',
  'minimum',
  'maximum',
  'minItems',
  'maxItems',
  'format',
  'description',
  'items',
  'properties',
  'required',
]);

export type FieldsResult = { ok: true; fields: Field[] } | { ok: false; reason: string };

function fieldsOf(schema: Json, path: string): FieldsResult {
  const properties = schema.properties ?? {};
  if (!isObject(properties)) return { ok: false, reason: `${path}properties is not an object` };
  const required = Array.isArray(schema.required) ? schema.required : [];
  const fields: Field[] = [];
  for (const [name, raw] of Object.entries(properties)) {
    const parsed = fieldFrom(name, raw, `${path}${name}.`);
    if (!parsed.ok) return parsed;
    parsed.field.required = required.includes(name);
    fields.push(parsed.field);
  }
  return { ok: true, fields };
}

function fieldFrom(
  name: string,
  raw: unknown,
  path: string,
): { ok: true; field: Field } | { ok: false; reason: string } {
  const where = path.slice(0, -1);
  if (!isObject(raw)) return { ok: false, reason: `${where} is not a schema object` };
  for (const key of Object.keys(raw)) {
    if (!FIELD_KEYS.has(key)) return { ok: false, reason: `${where} uses "${key}"` };
  }
  const type = raw.type;
  if (typeof type !== 'string' || !(FIELD_TYPES as readonly string[]).includes(type)) {
    return { ok: false, reason: `${where} has no single type the builder knows` };
  }
  const field = newField({
    name,
    type: type as FieldType,
    description: typeof raw.description === 'string' ? raw.description : '',
    format: typeof raw.format === 'string' ? raw.format : '',
    enumText: Array.isArray(raw.enum) ? raw.enum.map(String).join(', ') : '',
  });
  const bounds = boundKeywords(field.type);
  if (bounds) {
    const [minKey, maxKey] = bounds;
    if (typeof raw[minKey] === 'number') field.min = String(raw[minKey]);
    if (typeof raw[maxKey] === 'number') field.max = String(raw[maxKey]);
  }
  if (field.type === 'object') {
    const nested = fieldsOf(raw, path);
    if (!nested.ok) return nested;
    field.children = nested.fields;
  } else if (field.type === 'array') {
    const items = raw.items ?? { type: 'string' };
    if (!isObject(items)) return { ok: false, reason: `${where}.items is not a schema object` };
    const itemType = items.type;
    if (
      typeof itemType !== 'string' ||
      itemType === 'array' ||
      !(FIELD_TYPES as readonly string[]).includes(itemType)
    ) {
      return { ok: false, reason: `${where}.items has no type the builder knows` };
    }
    field.itemType = itemType as ItemType;
    if (itemType === 'object') {
      const nested = fieldsOf(items, `${path}items.`);
      if (!nested.ok) return nested;
      field.children = nested.fields;
    } else {
      for (const key of Object.keys(items)) {
        if (key !== 'type' && key !== 'format') return { ok: false, reason: `${where}.items uses "${key}"` };
      }
      if (typeof items.format === 'string') field.format = items.format;
    }
  } else if (raw.items !== undefined || raw.properties !== undefined) {
    return { ok: false, reason: `${where} mixes "${field.type}" with object or array keywords` };
  }
  return { ok: true, field };
}

/** A schema's JSON with object keys sorted and `required` lists as sets: equal when it means the same. */
function canonical(value: unknown, key = ''): unknown {
  if (Array.isArray(value)) {
    const items = value.map((item) => canonical(item));
    return key === 'required' ? [...items].sort() : items;
  }
  if (!isObject(value)) return value;
  return Object.fromEntries(
    Object.keys(value)
      // No `required` and `required: []`, no `properties` and `properties: {}`, mean the same.
      .filter((name) => !(name === 'required' && Array.isArray(value[name]) && value[name].length === 0))
      .filter(
        (name) => !(name === 'properties' && isObject(value[name]) && Object.keys(value[name]).length === 0),
      )
      .sort()
      .map((name) => [name, canonical(value[name], name)]),
  );
}

const same = (a: unknown, b: unknown) => stringifyJson(canonical(a)) === stringifyJson(canonical(b));

/**
 * The builder's view of a record schema, or why it cannot show it. Only a schema the builder
 * writes back exactly as it is: one it would change (an enum value holding a comma, an enum on a
 * boolean, a format on a number, an array without `items`) stays JSON, so that editing a field
 * cannot silently loosen another.
 */
export function fieldsFromSchema(schema: unknown): FieldsResult {
  if (!isObject(schema)) return { ok: false, reason: 'The schema is not an object' };
  for (const key of Object.keys(schema)) {
    if (!ROOT_KEYS.has(key)) return { ok: false, reason: `The schema uses "${key}" at the top level` };
  }
  const parsed = fieldsOf(schema, '');
  if (!parsed.ok) return parsed;
  const rebuilt = schemaFromFields(parsed.fields, schema);
  // A record schema without `type` describes an object all the same (the builder writes it out).
  if (same({ type: 'object', ...schema }, rebuilt)) return parsed;
  const before = isObject(schema.properties) ? schema.properties : {};
  const after = isObject(rebuilt.properties) ? rebuilt.properties : {};
  const changed = Object.keys(before).find((name) => !same(before[name], after[name]));
  return {
    ok: false,
    reason:
      changed === undefined
        ? 'The builder would change this schema'
        : `The builder would change "${changed}" (it cannot show all of its keywords as they are)`,
  };
}

/** Names used by more than one field of the same object, at any depth (the schema keeps only one). */
export function duplicateNames(fields: Field[]): Set<string> {
  const out = new Set<string>();
  const seen = new Set<string>();
  for (const field of fields) {
    const name = field.name.trim();
    if (name !== '' && seen.has(name)) out.add(name);
    seen.add(name);
  }
  return out;
}

/** True when some object, at any depth, has two fields of one name. */
export function hasDuplicateNames(fields: Field[]): boolean {
  return duplicateNames(fields).size > 0 || fields.some((f) => hasDuplicateNames(f.children));
}
