import { validate as validateMeta } from 'virtual:json-schema-meta-validator';
import { metaSchemaErrors } from '../../../src/endpoints/meta-schema-errors.ts';
import { SUBSCHEMA_LISTS, SUBSCHEMA_MAPS, SUBSCHEMAS } from '../../../src/endpoints/subschema-keywords.ts';
import { firstRoundedNumber, roundedNumberMessage } from '../api/exact-json.ts';
import { STRING_FORMATS } from './fields.ts';

/**
 * Validate-as-you-type for the schema editor, mirroring the server's checks (src/endpoints/json-schema.ts):
 * JSON syntax, the 2020-12 meta-schema (compiled at build time: the page's CSP forbids eval, so
 * Ajv cannot compile here), a record schema of type "object", no $id, no unknown keywords or formats.
 * The server still has the last word when the draft is saved.
 */

export interface SchemaProblem {
  path: string;
  message: string;
}

export type SchemaCheck =
  | { ok: true; schema: Record<string, unknown> }
  | { ok: false; problems: SchemaProblem[] };

const KEYWORDS = new Set([
  '$schema',
  '$id',
  '$ref',
  '$defs',
  '$anchor',
  '$dynamicRef',
  '$dynamicAnchor',
  '$comment',
  '$vocabulary',
  'definitions',
  'type',
  'enum',
  'const',
  'title',
  'description',
  'default',
  'examples',
  'deprecated',
  'readOnly',
  'writeOnly',
  'format',
  'minLength',
  'maxLength',
  'pattern',
  'minimum',
  'maximum',
  'exclusiveMinimum',
  'exclusiveMaximum',
  'multipleOf',
  'items',
  'prefixItems',
  'contains',
  'minContains',
  'maxContains',
  'minItems',
  'maxItems',
  'uniqueItems',
  'unevaluatedItems',
  'properties',
  'patternProperties',
  'additionalProperties',
  'required',
  'propertyNames',
  'minProperties',
  'maxProperties',
  'dependentRequired',
  'dependentSchemas',
  'unevaluatedProperties',
  'allOf',
  'anyOf',
  'oneOf',
  'not',
  'if',
  'then',
  'else',
  'contentEncoding',
  'contentMediaType',
  'contentSchema',
]);

/** Every format the server knows: a string's, and those that check numbers or nothing. */
const FORMATS = new Set<string>([
  ...STRING_FORMATS,
  'int32',
  'int64',
  'float',
  'double',
  'password',
  'binary',
]);

function isObject(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

function walk(schema: unknown, path: string, problems: SchemaProblem[]): void {
  if (!isObject(schema)) return;
  for (const key of Object.keys(schema)) {
    if (!KEYWORDS.has(key)) problems.push({ path, message: `Unknown keyword "${key}"` });
  }
  if (typeof schema.format === 'string' && !FORMATS.has(schema.format)) {
    problems.push({ path, message: `Unknown format "${schema.format}"` });
  }
  if (typeof schema.pattern === 'string') {
    try {
      new RegExp(schema.pattern, 'u');
    } catch {
      problems.push({ path, message: `Invalid pattern "${schema.pattern}"` });
    }
  }
  for (const key of SUBSCHEMA_MAPS) {
    const map = schema[key];
    if (isObject(map)) for (const [name, sub] of Object.entries(map)) walk(sub, join(path, name), problems);
  }
  for (const key of SUBSCHEMA_LISTS) {
    const list = schema[key];
    if (Array.isArray(list)) {
      list.forEach((sub, i) => {
        walk(sub, `${path}${key}[${i}]`, problems);
      });
    }
  }
  for (const key of SUBSCHEMAS) walk(schema[key], key === 'items' ? `${path}[]` : join(path, key), problems);
}

function join(path: string, name: string): string {
  return path === '' ? name : `${path}.${name}`;
}

export function checkSchemaText(text: string): SchemaCheck {
  let parsed: unknown;
  try {
    parsed = JSON.parse(text);
  } catch (error) {
    return { ok: false, problems: [{ path: '', message: `Not valid JSON: ${(error as Error).message}` }] };
  }
  if (!isObject(parsed))
    return { ok: false, problems: [{ path: '', message: 'Must be a JSON Schema object' }] };
  const problems: SchemaProblem[] = [];
  const rounded = firstRoundedNumber(text);
  if (rounded !== undefined) {
    problems.push({
      path: '',
      message: roundedNumberMessage(rounded),
    });
  }
  if (parsed.type !== undefined && parsed.type !== 'object') {
    problems.push({ path: 'type', message: 'A record schema must describe an object (type "object")' });
  }
  if ('$id' in parsed) problems.push({ path: '$id', message: '$id is not supported' });
  if (!validateMeta(parsed)) {
    // Said as the server says them on save: a bad `type` once, with the types there are.
    for (const e of metaSchemaErrors(validateMeta.errors ?? [], '').slice(0, 10)) {
      problems.push({ path: e.field, message: e.error });
    }
  }
  walk(parsed, '', problems);
  return problems.length === 0 ? { ok: true, schema: parsed } : { ok: false, problems };
}
