import type { Command } from 'commander';
import type { Config } from '../config.ts';
import type { EndpointJson, EndpointVersionJson } from '../endpoints/endpoint-service.ts';
import { oldestFirst, rebaseRefs, typeNames } from '../endpoints/type-names.ts';
import { action, endpointPath, show, withCommon } from './data-commands.ts';
import { environmentOption } from './environment-option.ts';
import { CliFailure } from './output.ts';

/** Keywords whose values are data, not schemas: never rewritten. */
const LITERALS = new Set(['enum', 'const', 'default', 'examples']);
/** Keywords whose values map names to schemas (a property may be called `default`). */
const SCHEMA_MAPS = new Set(['properties', 'patternProperties', '$defs', 'definitions', 'dependentSchemas']);
/** A JSON type's TypeScript, where it is a primitive (a number may be a bigint: see below). */
const PRIMITIVE_TS: Record<string, string> = {
  integer: 'number | bigint',
  number: 'number | bigint',
  string: 'string',
  boolean: 'boolean',
  null: 'null',
};

function bounded(node: Record<string, unknown>): boolean {
  const low = [node.minimum, node.exclusiveMinimum].find((v) => typeof v === 'number') as number | undefined;
  const high = [node.maximum, node.exclusiveMaximum].find((v) => typeof v === 'number') as number | undefined;
  return (
    low !== undefined &&
    high !== undefined &&
    low >= -Number.MAX_SAFE_INTEGER &&
    high <= Number.MAX_SAFE_INTEGER
  );
}

/**
 * A copy of `schema` as json-schema-to-typescript needs it:
 * - each number field that may hold an integer a double cannot (no `minimum` and `maximum`
 *   within ±(2^53 − 1)) is typed `number | bigint`: Gatehouse keeps such integers digit for
 *   digit, and @gatehouse/client reads them as exact `bigint`s;
 * - a 2020-12 tuple (`prefixItems`, the rest in `items`) is written as the draft-07 tuple the
 *   compiler reads (`items` as a list, the rest in `additionalItems`);
 * - a nested `title` that would become another endpoint's type name (`reserved`) is dropped, so
 *   that name stays that endpoint's (the nested type is written inline instead); so is one that
 *   only spells it otherwise (`"orders data"` is named `OrdersData` too), and a `$defs` entry
 *   without a title, which is named after its key, gets a title of its own (`OrdersDataDef`).
 */
export function withExactIntegers(schema: unknown, reserved: ReadonlySet<string> = new Set()): unknown {
  return forCompiler(schema, new Set([...reserved].map(nameKey)), true);
}

/**
 * A title or `$defs` key as the compiler may turn it into a type name, loosely: it drops what an
 * identifier cannot hold and leading digits, and capitalises (`"orders data"`, `orders_data` and
 * `OrdersData` all become `OrdersData`). Loose on purpose: a false match only inlines a type.
 */
function nameKey(name: string): string {
  return name
    .normalize('NFKD')
    .replace(/[^A-Za-z0-9]/g, '')
    .replace(/^\d+/, '')
    .toLowerCase();
}

const DEFINITIONS = new Set(['$defs', 'definitions']);

/**
 * The members TypeScript finds on every object type (lib.es5's `Object`): `{}` has a `toString`
 * that is a function, so it does not fit `{ toString?: string }`. An optional field named so is
 * typed `T | {}["toString"]` instead: what reading it gives when the record has no such field
 * (the inherited member), and what lets a record without it type-check.
 */
const OBJECT_MEMBERS = new Set([
  'constructor',
  'toString',
  'toLocaleString',
  'valueOf',
  'hasOwnProperty',
  'isPrototypeOf',
  'propertyIsEnumerable',
]);
/**
 * A key named `hasOwnProperty` anywhere in the schema (a field, a `$defs` entry, a pattern, a key
 * in a `const` object) is compiled under this name, then renamed back in the output:
 * json-schema-to-typescript calls `node.hasOwnProperty(…)` on the objects it walks, which such a
 * key shadows.
 */
const HAS_OWN_PROPERTY = '__gatehouse_hasOwnProperty__';

/**
 * A copy of `node` with every key `hasOwnProperty` renamed HAS_OWN_PROPERTY, and so every
 * `required` entry and `$ref` path segment that names one.
 */
function withoutHasOwnProperty(node: unknown, key?: string): unknown {
  if (Array.isArray(node)) {
    return node.map((item) =>
      key === 'required' && item === 'hasOwnProperty' ? HAS_OWN_PROPERTY : withoutHasOwnProperty(item),
    );
  }
  if (key === '$ref' && typeof node === 'string') {
    return node
      .split('/')
      .map((segment) => (segment === 'hasOwnProperty' ? HAS_OWN_PROPERTY : segment))
      .join('/');
  }
  if (!node || typeof node !== 'object') return node;
  const out: Record<string, unknown> = {};
  for (const [name, value] of Object.entries(node)) {
    let renamed = withoutHasOwnProperty(value, name);
    // An untitled definition is named after its key: `HasOwnProperty`, as it would be.
    if (
      name === 'hasOwnProperty' &&
      key !== undefined &&
      DEFINITIONS.has(key) &&
      renamed &&
      typeof renamed === 'object' &&
      !Array.isArray(renamed) &&
      typeof (renamed as Record<string, unknown>).title !== 'string'
    ) {
      renamed = { ...(renamed as Record<string, unknown>), title: 'HasOwnProperty' };
    }
    // defineProperty: a key such as `__proto__` stays a key.
    Object.defineProperty(out, name === 'hasOwnProperty' ? HAS_OWN_PROPERTY : name, {
      value: renamed,
      enumerable: true,
      writable: true,
      configurable: true,
    });
  }
  return out;
}

/** Keywords whose value is a schema, or a list of schemas. */
const SUBSCHEMAS = new Set([
  'items',
  'prefixItems',
  'additionalItems',
  'additionalProperties',
  'unevaluatedItems',
  'unevaluatedProperties',
  'contains',
  'propertyNames',
  'not',
  'if',
  'then',
  'else',
  'allOf',
  'anyOf',
  'oneOf',
]);
/**
 * Keywords that make the compiler type a schema, or that only an object can satisfy: a schema
 * with none of them (`{ "description": "…" }`, `{ "minLength": 2 }`, `{ "not": … }`) takes any
 * JSON value, though the compiler would type it an object.
 */
const TYPING = new Set([
  'type',
  'enum',
  'const',
  '$ref',
  'tsType',
  'default',
  'allOf',
  'anyOf',
  'oneOf',
  'items',
  'prefixItems',
  'additionalItems',
  'properties',
  'patternProperties',
  'additionalProperties',
  'unevaluatedProperties',
  'propertyNames',
  'required',
  'minProperties',
  'maxProperties',
  'dependentRequired',
  'dependentSchemas',
]);

function forCompiler(
  schema: unknown,
  reserved: ReadonlySet<string>,
  root: boolean,
  isSchema = true,
): unknown {
  if (Array.isArray(schema)) return schema.map((item) => forCompiler(item, reserved, false, isSchema));
  if (!schema || typeof schema !== 'object') return schema;
  const node = schema as Record<string, unknown>;
  const out: Record<string, unknown> = {};
  for (const [key, value] of Object.entries(node)) {
    if (LITERALS.has(key)) out[key] = value;
    else if (key === 'title' && !root && typeof value === 'string' && reserved.has(nameKey(value))) continue;
    else if (SCHEMA_MAPS.has(key) && value && typeof value === 'object' && !Array.isArray(value)) {
      out[key] = Object.fromEntries(
        Object.entries(value as Record<string, unknown>).map(([name, sub]) => {
          const compiled = forCompiler(sub, reserved, false);
          // An untitled definition is named after its key: one that would take an endpoint's name is renamed.
          const untitled =
            DEFINITIONS.has(key) &&
            reserved.has(nameKey(name)) &&
            compiled !== null &&
            typeof compiled === 'object' &&
            !Array.isArray(compiled) &&
            typeof (compiled as Record<string, unknown>).title !== 'string';
          return [
            name,
            untitled ? { ...(compiled as Record<string, unknown>), title: `${name}Def` } : compiled,
          ];
        }),
      );
    } else out[key] = forCompiler(value, reserved, false, SUBSCHEMAS.has(key));
  }
  // Any value, as the schema has it (an empty schema the compiler already types `unknown`).
  if (!root && isSchema && Object.keys(node).length > 0 && !Object.keys(node).some((k) => TYPING.has(k))) {
    out.tsType = 'unknown';
  }
  if (out.properties && typeof out.properties === 'object' && !Array.isArray(out.properties)) {
    withObjectMembers(out, Array.isArray(node.required) ? node.required : []);
  }
  if (Array.isArray(out.prefixItems)) {
    const rest = out.items;
    out.items = out.prefixItems;
    delete out.prefixItems;
    out.additionalItems = rest === undefined ? true : rest;
  }
  const types = typeof node.type === 'string' ? [node.type] : node.type;
  if (
    Array.isArray(types) &&
    types.some((t) => t === 'integer' || t === 'number') &&
    types.every((t) => typeof t === 'string' && t in PRIMITIVE_TS) &&
    !('enum' in node) &&
    !('const' in node) &&
    !('tsType' in node) &&
    !bounded(node)
  ) {
    // `["integer", "string"]` too: its integers may be past 2^53 as well. In parentheses: the
    // compiler writes the type where it stands (`(number | bigint)[]`, not `number | bigint[]`).
    out.tsType = `(${[...new Set(types.map((t) => PRIMITIVE_TS[t as string]))].join(' | ')})`;
  }
  return out;
}

/** Types the fields of `node` named like Object.prototype members (see OBJECT_MEMBERS, HAS_OWN_PROPERTY). */
function withObjectMembers(node: Record<string, unknown>, required: unknown[]): void {
  const properties: Record<string, unknown> = {};
  for (const [name, schema] of Object.entries(node.properties as Record<string, unknown>)) {
    const member = OBJECT_MEMBERS.has(name) && !required.includes(name);
    const typed = member ? { anyOf: [schema, { tsType: `{}[${JSON.stringify(name)}]` }] } : schema;
    // A field's description stays on the field.
    if (member && schema && typeof schema === 'object' && 'description' in schema) {
      (typed as Record<string, unknown>).description = (schema as Record<string, unknown>).description;
    }
    Object.defineProperty(properties, name, {
      value: typed,
      enumerable: true,
      writable: true,
      configurable: true,
    });
  }
  node.properties = properties;
}

const isMap = (value: unknown): value is Record<string, unknown> =>
  value !== null && typeof value === 'object' && !Array.isArray(value);

/** `out[key] = value`, a key such as `__proto__` included. */
function setOwn(out: Record<string, unknown>, key: string, value: unknown): void {
  Object.defineProperty(out, key, { value, enumerable: true, writable: true, configurable: true });
}

const pointerSegment = (key: string) => key.replaceAll('~', '~0').replaceAll('/', '~1');

/**
 * A copy of `schema` where `definitions` beside `$defs` (the server takes both; the compiler
 * refuses a schema with both) are moved into that `$defs` (renamed where a `$defs` entry has
 * the name), and every local reference to one follows it.
 */
export function oneDefinitionsMap(schema: unknown): unknown {
  const moved: Array<[from: string, to: string]> = [];
  const fold = (node: unknown, pointer: string): unknown => {
    if (Array.isArray(node)) return node.map((item, i) => fold(item, `${pointer}/${i}`));
    if (!isMap(node)) return node;
    const out: Record<string, unknown> = {};
    for (const [key, value] of Object.entries(node)) {
      setOwn(out, key, LITERALS.has(key) ? value : fold(value, `${pointer}/${pointerSegment(key)}`));
    }
    const { $defs: defs, definitions } = out;
    if (!isMap(defs) || !isMap(definitions)) return out;
    const merged: Record<string, unknown> = { ...defs };
    for (const [name, sub] of Object.entries(definitions)) {
      let target = name;
      while (Object.hasOwn(merged, target)) target = `${target}Definition`;
      setOwn(merged, target, sub);
      moved.push([
        `${pointer}/definitions/${pointerSegment(name)}`,
        `${pointer}/$defs/${pointerSegment(target)}`,
      ]);
    }
    out.$defs = merged;
    delete out.definitions;
    return out;
  };
  const folded = fold(schema, '');
  if (moved.length === 0) return folded;
  // Inner moves were recorded first: each reference is carried through them in that order.
  const follow = (node: unknown, key?: string): unknown => {
    if (key === '$ref' && typeof node === 'string' && node.startsWith('#')) {
      let pointer = node.slice(1);
      try {
        pointer = decodeURIComponent(pointer);
      } catch {
        return node;
      }
      const before = pointer;
      for (const [from, to] of moved) {
        if (pointer === from || pointer.startsWith(`${from}/`)) pointer = to + pointer.slice(from.length);
      }
      return pointer === before ? node : `#${pointer}`;
    }
    if (Array.isArray(node)) return node.map((item) => follow(item));
    if (!isMap(node)) return node;
    const out: Record<string, unknown> = {};
    for (const [name, value] of Object.entries(node))
      setOwn(out, name, LITERALS.has(name) ? value : follow(value, name));
    return out;
  };
  return follow(folded);
}

/**
 * TypeScript for each endpoint's records, plus an `Endpoints` map for `new Gatehouse<Endpoints>()`.
 * One compile for all of them, so that every interface name is unique (json-schema-to-typescript
 * numbers repeats: two endpoints' nested `"title": "Address"` become `Address` and `Address1`),
 * and each endpoint is named as in the OpenAPI document (endpoints/type-names.ts). `schemas` come
 * oldest first, so that an endpoint keeps its name when newer ones arrive.
 */
export async function typesFor(
  schemas: Array<{ slug: string; schema: unknown }>,
  /** Every endpoint's slug, oldest first, when `schemas` are some of them (names depend on all). */
  allSlugs: readonly string[] = schemas.map((s) => s.slug),
): Promise<string> {
  const names = typeNames(allSlugs);
  const reserved = new Set(['Endpoints', ...[...names.values()].map((name) => `${name}Data`)]);
  const properties: Record<string, unknown> = {};
  for (const { slug, schema } of schemas) {
    const {
      $schema: _s,
      $id: _i,
      ...clean
    } = (oneDefinitionsMap(withExactIntegers(schema, reserved)) ?? {}) as Record<string, unknown>;
    // Each schema now sits at #/properties/{slug}: its own references follow it there.
    properties[slug] = {
      ...(rebaseRefs(clean, `#/properties/${slug}`) as Record<string, unknown>),
      title: `${names.get(slug)}Data`,
      additionalProperties: clean.additionalProperties ?? true,
    };
  }
  // Loaded here: the other commands start without it.
  const { compile } = await import('json-schema-to-typescript');
  const ts = await compile(
    withoutHasOwnProperty({
      title: 'Endpoints',
      type: 'object',
      properties,
      required: Object.keys(properties),
      additionalProperties: false,
    }) as never,
    'Endpoints',
    {
      bannerComment: [
        '// Generated by `gatehouse types`. Do not edit.',
        '// A number field without `minimum` and `maximum` within ±(2^53 − 1) is `number | bigint`:',
        '// integers past that range come back from @gatehouse/client as exact bigints.',
      ].join('\n'),
      // `maxItems: 5` is an array of up to five, not a union of five tuples.
      maxItems: -1,
      additionalProperties: true,
      strictIndexSignatures: false,
      // Indented as people write TypeScript (prettier, a dependency of the compiler): ~0.5 s.
      format: true,
      unreachableDefinitions: false,
    },
  );
  return `${ts.trim().replaceAll(HAS_OWN_PROPERTY, 'hasOwnProperty')}\n`;
}

export function registerTypesCommand(program: Command, config: Config): void {
  withCommon(
    program
      .command('types')
      .description("print TypeScript types for endpoints' records (for @gatehouse/client)"),
  )
    .option('--endpoint <slug>', 'only this endpoint')
    .addOption(environmentOption('test (draft schemas) or live (deployed versions)').default('test'))
    .action(
      action(config, async (call, o: { endpoint?: string; env: string; json?: boolean }) => {
        // Oldest first, as the OpenAPI document names them.
        const all = oldestFirst(await call<EndpointJson[]>('GET', '/admin/v1/endpoints'));
        let endpoints = all;
        if (o.endpoint) endpoints = endpoints.filter((e) => e.slug === o.endpoint);
        if (o.endpoint && endpoints.length === 0) {
          throw new CliFailure({
            success: false,
            error: `No endpoint "${o.endpoint}"`,
            code: 'endpoint_not_found',
          });
        }
        if (o.endpoint && o.env === 'live' && endpoints[0]?.live_version === null) {
          throw new CliFailure({
            success: false,
            error: `Endpoint "${o.endpoint}" is not deployed to live: run "gatehouse endpoints deploy ${o.endpoint}"`,
            code: 'endpoint_not_deployed',
          });
        }
        const schemas: Array<{ slug: string; schema: unknown }> = [];
        const undeployed: string[] = [];
        for (const endpoint of endpoints) {
          if (o.env === 'live') {
            if (endpoint.live_version === null) {
              undeployed.push(endpoint.slug);
              continue;
            }
            const versions = await call<EndpointVersionJson[]>(
              'GET',
              endpointPath(endpoint.slug, '/versions'),
            );
            schemas.push({ slug: endpoint.slug, schema: versions[0]?.schema });
          } else schemas.push({ slug: endpoint.slug, schema: endpoint.schema });
        }
        const types = await typesFor(
          schemas,
          all.map((e) => e.slug),
        );
        show(o.json, { types, endpoints: schemas.map((e) => e.slug) }, () => process.stdout.write(types));
        // Else records('orders') fails to compile against the types, with nothing said about why.
        if (undeployed.length > 0)
          process.stderr.write(
            `Not deployed to live, so not in these types: ${undeployed.join(', ')} (gatehouse endpoints deploy <slug>)\n`,
          );
      }),
    );
}
