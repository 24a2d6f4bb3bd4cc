/**
 * Where a JSON Schema (draft 2020-12) holds other schemas: the server's refusals and the
 * dashboard's schema checks (web/src/schema/validate.ts) walk a schema by these.
 */

/** Keywords whose value maps names to schemas. */
export const SUBSCHEMA_MAPS = ['properties', 'patternProperties', '$defs', 'definitions', 'dependentSchemas'];
/** Keywords whose value is a list of schemas. */
export const SUBSCHEMA_LISTS = ['allOf', 'anyOf', 'oneOf', 'prefixItems'];
/** Keywords whose value is one schema. */
export const SUBSCHEMAS = [
  'items',
  'contains',
  'additionalProperties',
  'propertyNames',
  'not',
  'if',
  'then',
  'else',
  'unevaluatedItems',
  'unevaluatedProperties',
  'contentSchema',
];
