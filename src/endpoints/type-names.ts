/**
 * Type names for endpoints, shared by the OpenAPI documents (docs/openapi-data.ts) and
 * `gatehouse types` (cli/types-command.ts), so that both name an endpoint's records alike.
 */

/** PascalCase of a slug, in the form json-schema-to-typescript keeps as it is: `line-items` → `LineItems`, `9lives` → `Endpoint9Lives`. */
function baseName(slug: string): string {
  const name = slug
    .split('-')
    .filter((part) => part.length > 0)
    .map((part) => part.charAt(0).toUpperCase() + part.slice(1))
    .join('')
    .replace(/(\d)([a-z])/g, (_m, digit: string, letter: string) => digit + letter.toUpperCase());
  return /^[A-Za-z]/.test(name) ? name : `Endpoint${name}`;
}

/**
 * A name per slug: a valid identifier and OpenAPI component name, unique among `slugs`. Slugs
 * that would share one (`v2` and `v-2`, `line-items` and `line--items`) are told apart by a
 * suffix (`V2`, `V2_2`), given in the order of `slugs`: with endpoints listed oldest first, an
 * endpoint keeps its name when newer ones arrive. Slugs have no `_`, so a suffixed name cannot
 * be another slug's.
 */
export function typeNames(slugs: readonly string[]): Map<string, string> {
  const names = new Map<string, string>();
  const taken = new Set<string>();
  for (const slug of slugs) {
    const base = baseName(slug);
    let name = base;
    for (let n = 2; taken.has(name); n++) name = `${base}_${n}`;
    taken.add(name);
    names.set(slug, name);
  }
  return names;
}

/** Endpoints oldest first (ids sort by creation time), the order `typeNames` takes them in. */
export function oldestFirst<T extends { id: string }>(endpoints: readonly T[]): T[] {
  return [...endpoints].sort((a, b) => (a.id < b.id ? -1 : a.id > b.id ? 1 : 0));
}

/** Keywords whose values are data, not schemas: a `$ref` inside them is not a reference. */
const DATA_KEYWORDS = new Set(['const', 'enum', 'default', 'examples', 'example']);
/** Keywords whose values map names (not keywords) to schemas. */
const SCHEMA_MAPS = new Set(['properties', 'patternProperties', '$defs', 'definitions', 'dependentSchemas']);

/**
 * A copy of a JSON Schema whose local references (`#/$defs/point`, `#`) point into the schema
 * at its new place in a larger document (`base`, a JSON pointer fragment such as
 * `#/components/schemas/OrdersData`).
 */
export function rebaseRefs(schema: unknown, base: string): unknown {
  if (Array.isArray(schema)) return schema.map((item) => rebaseRefs(item, base));
  if (schema === null || typeof schema !== 'object') return schema;
  const out: Record<string, unknown> = {};
  for (const [key, value] of Object.entries(schema)) {
    if (key === '$ref' && typeof value === 'string' && value.startsWith('#')) {
      out[key] = base + value.slice(1);
    } else if (DATA_KEYWORDS.has(key)) out[key] = value;
    else if (SCHEMA_MAPS.has(key) && value !== null && typeof value === 'object' && !Array.isArray(value)) {
      out[key] = Object.fromEntries(
        Object.entries(value).map(([name, child]) => [name, rebaseRefs(child, base)]),
      );
    } else out[key] = rebaseRefs(value, base);
  }
  return out;
}
