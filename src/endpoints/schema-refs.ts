/**
 * A record schema read through its local references (`#/$defs/money`, `#/definitions/money`,
 * `#`, `#money` for a `$dynamicAnchor`): what a subschema reached by `$ref` is, which schemas a branch
 * of an `anyOf` evaluates, and which JSON types a subschema admits. Schemas have no `$id`
 * (compileSchema refuses one), so every reference is into the same document.
 */

type Json = Record<string, unknown>;

function isObject(value: unknown): value is Json {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

/** Keywords whose value is a schema (draft 7's `items` may be a list of them). */
const SCHEMA_VALUES = [
  'not',
  'if',
  'then',
  'else',
  'propertyNames',
  'contains',
  'items',
  'additionalItems',
  'additionalProperties',
  'unevaluatedItems',
  'unevaluatedProperties',
];
const SCHEMA_LISTS = ['allOf', 'anyOf', 'oneOf', 'prefixItems'];
const SCHEMA_MAPS = ['properties', 'patternProperties', 'dependentSchemas', '$defs', 'definitions'];
/** Of those, the ones applied to the value itself rather than to its items or properties. */
const ON_THE_VALUE = new Set([
  'not',
  'if',
  'then',
  'else',
  'propertyNames',
  'allOf',
  'anyOf',
  'oneOf',
  'dependentSchemas',
]);

/** A schema's own subschemas, not those its references lead to (`onTheValue`: see ON_THE_VALUE). */
function subschemas(node: Json, onTheValue: boolean): Json[] {
  const out: unknown[] = [];
  for (const key of [...SCHEMA_VALUES, ...SCHEMA_LISTS, ...SCHEMA_MAPS]) {
    if (onTheValue && !ON_THE_VALUE.has(key)) continue;
    const value = node[key];
    if (Array.isArray(value)) out.push(...value);
    else if (SCHEMA_MAPS.includes(key)) out.push(...(isObject(value) ? Object.values(value) : []));
    else out.push(value);
  }
  return out.filter(isObject);
}

/** The subschema a local reference names in `root`, or undefined (another document, a missing place). */
export function resolveRef(root: unknown, ref: unknown): unknown {
  if (typeof ref !== 'string' || !ref.startsWith('#')) return undefined;
  let fragment: string;
  try {
    fragment = decodeURIComponent(ref.slice(1));
  } catch {
    return undefined;
  }
  if (fragment === '') return root;
  if (!fragment.startsWith('/')) return withAnchor(root, fragment);
  let target: unknown = root;
  for (const part of fragment.split('/').slice(1)) {
    const name = part.replace(/~1/g, '/').replace(/~0/g, '~');
    if (Array.isArray(target)) target = /^\d+$/.test(name) ? target[Number(name)] : undefined;
    else target = isObject(target) && Object.hasOwn(target, name) ? target[name] : undefined;
  }
  return target;
}

/** The schema in `root` with that `$dynamicAnchor` (or `$anchor`, which Ajv refuses here). */
function withAnchor(root: unknown, anchor: string): Json | undefined {
  const pending = isObject(root) ? [root] : [];
  for (let node = pending.pop(); node !== undefined; node = pending.pop()) {
    if (node.$anchor === anchor || node.$dynamicAnchor === anchor) return node;
    pending.push(...subschemas(node, false));
  }
  return undefined;
}

/**
 * Every schema object `schema` may evaluate (`onTheValue`: on the value itself, not on its items
 * or properties), its subschemas and those its references lead to. Ajv's errors name the schema
 * object they come from (`parentSchema`), whereas their `schemaPath` inside a referenced schema
 * starts at `#/$defs/…`, or at `#` when the reference is compiled apart: this set is how an
 * error is told to come from a branch.
 */
export function reachableSchemas(schema: unknown, root: unknown, onTheValue = false): Set<object> {
  const found = new Set<object>();
  const pending = isObject(schema) ? [schema] : [];
  for (let node = pending.pop(); node !== undefined; node = pending.pop()) {
    if (found.has(node)) continue;
    found.add(node);
    pending.push(...subschemas(node, onTheValue));
    for (const ref of [node.$ref, node.$dynamicRef]) {
      const target = resolveRef(root, ref);
      if (isObject(target)) pending.push(target);
    }
  }
  return found;
}

/** A `type` keyword's value (or Ajv's `"integer,null"` for a list) as a list of type names. */
export function typesOf(type: unknown): string[] {
  return Array.isArray(type) ? type.map(String) : String(type).split(',');
}

/** A JSON value's type name, as `type` spells it: a whole number is an integer. */
function typeOfValue(value: unknown): string {
  if (value === null) return 'null';
  if (Array.isArray(value)) return 'array';
  if (typeof value === 'number') return Number.isInteger(value) ? 'integer' : 'number';
  return typeof value;
}

/** The types of `a` that `b` also admits (an integer is a number); undefined is every type. */
function bothAdmit(a: string[] | undefined, b: string[] | undefined): string[] | undefined {
  if (a === undefined) return b;
  if (b === undefined) return a;
  return a.flatMap((type) => {
    if (b.includes(type)) return [type];
    if (type === 'number' && b.includes('integer')) return ['integer'];
    if (type === 'integer' && b.includes('number')) return ['integer'];
    return [];
  });
}

/**
 * The JSON types a schema admits, as its `type`, its `$ref` and its `anyOf`/`oneOf`/`allOf` say
 * (`{anyOf: [{$ref: money}, {type: null}]}` with money an object: object and null), and its
 * `const` and `enum` (`{const: "none"}`: a string); undefined when it admits any type, as far as
 * those keywords tell (none of them, or a reference back to a schema being read).
 */
export function admittedTypes(schema: unknown, root: unknown): string[] | undefined {
  // Each schema read once: a reference back into one being read says nothing more.
  const known = new Map<object, string[] | undefined>();
  const read = (node: unknown): string[] | undefined => {
    if (node === false) return [];
    if (!isObject(node)) return undefined;
    if (known.has(node)) return known.get(node);
    known.set(node, undefined);
    let types = node.type === undefined ? undefined : typesOf(node.type);
    if ('const' in node) types = bothAdmit(types, [typeOfValue(node.const)]);
    if (Array.isArray(node.enum)) types = bothAdmit(types, [...new Set(node.enum.map(typeOfValue))]);
    for (const key of ['$ref', '$dynamicRef']) {
      if (key in node) types = bothAdmit(types, read(resolveRef(root, node[key])));
    }
    for (const key of ['anyOf', 'oneOf']) {
      const branches = node[key];
      if (!Array.isArray(branches)) continue;
      const each = branches.map(read);
      if (!each.includes(undefined)) types = bothAdmit(types, [...new Set(each.flatMap((t) => t ?? []))]);
    }
    if (Array.isArray(node.allOf)) for (const part of node.allOf) types = bothAdmit(types, read(part));
    known.set(node, types);
    return types;
  };
  return read(schema);
}
