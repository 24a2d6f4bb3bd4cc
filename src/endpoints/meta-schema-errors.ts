import { SUBSCHEMA_LISTS, SUBSCHEMA_MAPS } from './subschema-keywords.ts';

/**
 * The 2020-12 meta-schema's complaints about a schema, in words: shared by the server's refusals
 * (json-schema.ts) and the dashboard's schema editor (web/src/schema/validate.ts), so that the
 * editor says what a save would be told, once per problem.
 */

/** What this needs of an Ajv error (the server's, or the dashboard's build-time compiled one). */
export interface MetaSchemaError {
  instancePath: string;
  schemaPath: string;
  message?: string;
  data?: unknown;
}

export interface MetaSchemaProblem {
  field: string;
  error: string;
}

/** Keywords whose value holds schemas under names or indexes. */
export const SCHEMA_HOLDERS: ReadonlySet<string> = new Set([...SUBSCHEMA_MAPS, ...SUBSCHEMA_LISTS]);

const JSON_TYPES = 'string, number, integer, boolean, object, array or null';

/**
 * The meta-schema's complaints, one per place: a bad `type` is said once, with the types there
 * are (the meta-schema's anyOf otherwise gives three lines: not one of the values, not an array,
 * no branch matched). `field` is where the schema is (`schema`; '' for the schema itself).
 */
export function metaSchemaErrors(errors: readonly MetaSchemaError[], field: string): MetaSchemaProblem[] {
  const out: MetaSchemaProblem[] = [];
  const said = new Set<string>();
  for (const e of errors) {
    const inner = toFieldPath(e.instancePath);
    const path = field === '' ? inner : inner === '' ? field : `${field}.${inner}`;
    // The `type` keyword's value (not a property that happens to be called `type`), said at
    // `type` even when one entry of a list of types is wrong.
    const badType = /\/properties\/type\/|simpleTypes/.test(e.schemaPath);
    const at = badType ? path.replace(/(^|\.)(type)\[\d+\]$/, '$1$2') : path;
    const error = badType
      ? `Must be one of ${JSON_TYPES}, or a list of them`
      : e.message === 'must be object,boolean'
        ? Array.isArray(e.data) && endsAtItemsKeyword(e.instancePath)
          ? 'Must be a schema (an object, or true or false): a list of schemas is the tuple form of draft-07; in draft 2020-12 it is prefixItems (and additionalItems is items)'
          : 'Must be a schema (an object, or true or false)'
        : capitalize(e.message ?? 'is invalid');
    // Said once per place: the meta-schema repeats itself (one line per vocabulary it checks).
    if (said.has(`${at}\n${error}`)) continue;
    said.add(`${at}\n${error}`);
    out.push({ field: at, error });
  }
  return out.slice(0, 20);
}

/** Whether a pointer into a schema ends at the keyword `items` (not at a property called items). */
function endsAtItemsKeyword(pointer: string): boolean {
  const parts = pointer.split('/').slice(1);
  let keyword = true;
  for (const part of parts.slice(0, -1)) keyword = keyword ? !SCHEMA_HOLDERS.has(part) : true;
  return keyword && parts.at(-1) === 'items';
}

/** `/items/0/name` → `items[0].name`. */
export function toFieldPath(pointer: string): string {
  let out = '';
  for (const raw of pointer.split('/').slice(1)) {
    const part = raw.replace(/~1/g, '/').replace(/~0/g, '~');
    out += /^\d+$/.test(part) ? `[${part}]` : out === '' ? part : `.${part}`;
  }
  return out;
}

export function capitalize(message: string): string {
  return message.charAt(0).toUpperCase() + message.slice(1);
}
