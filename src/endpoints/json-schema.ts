import { Ajv2020, type ErrorObject, type ValidateFunction } from 'ajv/dist/2020.js';
import formatsPlugin from 'ajv-formats';
import { ApiError, type ErrorDetail, orList } from '../errors.ts';
import { roundedInteger } from '../http/json-body.ts';
import { roundedNumberMessage } from '../infra/json/exact-json.ts';
import { compilingStored, linearRegExp, patternProblems } from './linear-pattern.ts';
import { capitalize, metaSchemaErrors, SCHEMA_HOLDERS, toFieldPath } from './meta-schema-errors.ts';
import { BLANK_MESSAGE, NOT_BLANK_PATTERN } from './not-blank.ts';
import { admittedTypes, reachableSchemas, typesOf } from './schema-refs.ts';
import { SUBSCHEMA_LISTS, SUBSCHEMA_MAPS, SUBSCHEMAS } from './subschema-keywords.ts';
import { isUrl } from './url-format.ts';

/**
 * JSON Schema (draft 2020-12) compilation and error reporting. Data is validated exactly as
 * sent: no defaults filled in, no types coerced, no properties removed.
 */

// ajv-formats is CommonJS; under NodeNext its default import is the module object.
type FormatsPlugin = (ajv: Ajv2020) => Ajv2020;
const addFormats = ((formatsPlugin as unknown as { default?: FormatsPlugin }).default ??
  formatsPlugin) as unknown as FormatsPlugin;

/**
 * Ajv adds the errors of a schema it calls (a `$ref` it did not inline: one that holds a `$ref`
 * itself, or a recursive one) with `vErrors = vErrors.concat(…)`, a copy of every error so far on
 * each call: an array whose items fail through such a `$ref` cost O(N²) (20 000 of them, a 40 KB
 * body, held the event loop 36 s). Each copy becomes an append in place: O(N) in all. The array
 * appended to is only ever this call's (a callee makes a new one on each call), so nothing else
 * sees it change. test/validation-details.test.ts checks the compiled code has no copy left.
 */
const COPIED_ERRORS = /vErrors = vErrors === null \? ([\w$]+)\.errors : vErrors\.concat\(\1\.errors\);/g;

export function appendErrorsInPlace(code: string): string {
  return code.replace(
    COPIED_ERRORS,
    (_, callee: string) =>
      `if (vErrors === null) vErrors = ${callee}.errors; else { var added$ = ${callee}.errors; ` +
      'for (var at$ = 0; at$ < added$.length; at$++) vErrors.push(added$[at$]); }',
  );
}

/**
 * Ajv writes a property's name into an error's `instancePath` escaped (`~` as `~0`, `/` as `~1`)
 * anew for every error below it: a copy of the name per error, so one long name over many failing
 * items cost O(name × errors) in time and memory (a 16 KB body, an 8 000-character name over
 * 4 000 items under additionalProperties, held the event loop 9 s and 1.7 GB; 32 KB ran the
 * process out of memory). Each name is now escaped once per loop over it: the errors below it
 * share that one string. Each escaping site keeps the name it last escaped in a variable of its
 * own, of the validating call. A name is written at most NAME_CHARS characters long, then `…`:
 * the 100 details of a refusal could otherwise each repeat a name as long as the body (a 5 MiB
 * body answered with 100 times its size).
 */
export const NAME_CHARS = 100;
/** A detail's field is at most this long, then `…` (a name nested in a hundred long names). */
export const FIELD_CHARS = 1000;

const ESCAPED_NAME = /([\w$]+)\.replace\(\/~\/g, "~0"\)\.replace\(\/\\\/\/g, "~1"\)/g;

export function escapeNamesOnce(code: string): string {
  const names = new Set<string>();
  const out = code.replace(ESCAPED_NAME, (_, name: string) => {
    names.add(name);
    return (
      `(${name} === escapedName$${name} ? escaped$${name} : (escaped$${name} = ` +
      `(escapedName$${name} = ${name}).slice(0, ${NAME_CHARS}).replace(/~/g, "~0").replace(/\\//g, "~1") + ` +
      `(${name}.length > ${NAME_CHARS} ? "…" : "")))`
    );
  });
  if (names.size === 0) return code;
  const declared = [...names].map((name) => `escapedName$${name}, escaped$${name}`).join(', ');
  return out.replaceAll('let vErrors = null;', `let vErrors = null;var ${declared};`);
}

function createAjv(own: { meta: boolean } = { meta: true }): Ajv2020 {
  const ajv = new Ajv2020({
    // One that compiles a single record schema, already checked against the meta-schema by the
    // shared one, needs neither the meta-schemas nor to check them again.
    meta: own.meta,
    validateSchema: own.meta,
    allErrors: true,
    // Errors carry the schema and the value they are about: an anyOf's branches are told apart
    // by the value's type (withoutBranchNoise).
    verbose: true,
    strictSchema: true,
    strictNumbers: true,
    strictTypes: false,
    strictTuples: false,
    strictRequired: false,
    validateFormats: true,
    // A field named like an Object method (constructor, toString) is present only if sent.
    ownProperties: true,
    // Every pattern on RE2, in linear time (linear-pattern.ts).
    code: {
      optimize: true,
      regExp: linearRegExp,
      process: (code) => escapeNamesOnce(appendErrorsInPlace(code)),
    },
  });
  addFormats(ajv);
  // ajv-formats' `url` backtracks over every split of its text (O(N²): 100 KB took 5.6 s).
  ajv.addFormat('url', isUrl);
  // Ajv compares every pair of items (O(N²): 8 000 objects took 0.8 s, a 5 MiB body minutes)
  // unless they are of one scalar type; this one keys each item once.
  ajv.removeKeyword('uniqueItems');
  ajv.addKeyword({
    keyword: 'uniqueItems',
    type: 'array',
    schemaType: 'boolean',
    errors: true,
    validate: uniqueItems,
  });
  return ajv;
}

/** An item as a string equal for equal JSON values (numbers by value, objects whatever their key order). */
function itemKey(value: unknown): string {
  if (value === null || typeof value !== 'object') return JSON.stringify(value) ?? 'undefined';
  if (Array.isArray(value)) return `[${value.map(itemKey).join(',')}]`;
  const object = value as Record<string, unknown>;
  const keys = Object.keys(object).sort();
  return `{${keys.map((k) => `${JSON.stringify(k)}:${itemKey(object[k])}`).join(',')}}`;
}

/**
 * `uniqueItems` in linear time. It names the same pair as Ajv's own: the last item that repeats
 * an earlier one (i), and the nearest earlier one it repeats (j).
 */
function uniqueItems(schema: boolean, data: unknown[]): boolean {
  if (!schema || data.length < 2) return true;
  const seen = new Map<string, number>();
  let pair: { i: number; j: number } | undefined;
  for (let i = 0; i < data.length; i++) {
    const key = itemKey(data[i]);
    const j = seen.get(key);
    if (j !== undefined) pair = { i, j };
    seen.set(key, i);
  }
  if (!pair) return true;
  uniqueItems.errors = [
    {
      keyword: 'uniqueItems',
      params: pair,
      message: `must NOT have duplicate items (items ## ${pair.j} and ${pair.i} are identical)`,
    },
  ];
  return false;
}
uniqueItems.errors = undefined as Partial<ErrorObject>[] | undefined;

const ajv = createAjv();

export type RecordValidator = ValidateFunction;

/**
 * Refuses a body whose schema was sent with an integer a double does not hold
 * (`"enum": [1152921504606846977]`): Ajv compares numbers as doubles, so the schema would be
 * stored, shown and applied as another number (…847000), and an `enum` or `const` of it would
 * let its neighbours through. `body` is the parsed request body (its path names the number).
 */
export function refuseRoundedIntegers(body: unknown): void {
  const found = roundedInteger(body);
  if (!found) return;
  throw new ApiError('invalid_schema', {
    details: [
      {
        field: found.at,
        error: roundedNumberMessage(found.sent),
      },
    ],
  });
}

/**
 * The most JSON a schema being saved may hold. Compiling takes about 0.3 ms per property here, on
 * the event loop (40 000 properties held every request up for 11 s); a schema of this size
 * (some 5 000 plain properties) compiles in about 1.5 s, and real ones are far smaller.
 */
export const MAX_SCHEMA_BYTES = 256 * 1024;

function refuseLargeSchema(schema: object, field: string): void {
  const bytes = Buffer.byteLength(JSON.stringify(schema));
  if (bytes <= MAX_SCHEMA_BYTES) return;
  throw new ApiError('invalid_schema', {
    details: [
      {
        field,
        error: `Too large: ${Math.ceil(bytes / 1024)} KiB of JSON, at most ${MAX_SCHEMA_BYTES / 1024} KiB`,
      },
    ],
  });
}

/**
 * Compiles a user's schema, or throws a 400 `invalid_schema` that says what is wrong with it.
 * `stored`: a schema saved earlier, being loaded (not one being saved now): its patterns that
 * cannot run in linear time are taken as they were then.
 */
export function compileSchema(schema: unknown, field = 'schema', stored = false): RecordValidator {
  if (typeof schema !== 'object' || schema === null || Array.isArray(schema)) {
    throw new ApiError('invalid_schema', { details: [{ field, error: 'Must be a JSON Schema object' }] });
  }
  if (!stored) refuseLargeSchema(schema, field);
  const declared = (schema as { type?: unknown }).type;
  if (declared !== undefined && declared !== 'object') {
    throw new ApiError('invalid_schema', {
      details: [{ field: `${field}.type`, error: 'A record schema must describe an object (type "object")' }],
    });
  }
  if ('$id' in schema) {
    throw new ApiError('invalid_schema', {
      details: [{ field: `${field}.$id`, error: '$id is not supported' }],
    });
  }
  refuseOtherDialect(schema, field);
  if (!stored) refuseNullable(schema, field);
  if (!ajv.validateSchema(schema)) {
    throw new ApiError('invalid_schema', { details: metaSchemaErrors(ajv.errors ?? [], field) });
  }
  if (!stored) {
    const problems = patternProblems(schema, field);
    if (problems.length > 0) throw new ApiError('invalid_schema', { details: problems });
  }
  try {
    return stored ? compilingStored(() => compileAlone(schema)) : compileAlone(schema);
  } catch (error) {
    const message =
      error instanceof RangeError
        ? 'The schema refers to itself without end (a $ref that only leads back to itself)'
        : error instanceof Error
          ? error.message
          : String(error);
    throw new ApiError('invalid_schema', {
      details: [compileProblem(schema, message.split('\n')[0] ?? message, field)],
    });
  }
}

/**
 * Compiles `schema` on an Ajv of its own, which goes with the validator: an Ajv holds every schema
 * it compiled, and the values its code uses, in caches of its own for ever (`removeSchema` frees
 * the first, not the second). Every save of a schema and every load of a validator (the runtime
 * cache's entries expire) compiles a new object: on the one shared Ajv, some 0.5 MB stayed held
 * per save of a 500-property schema, never freed, until the process ran out of memory. About
 * 2 ms more per compile (not on the data API's path: validators are compiled once and cached).
 */
function compileAlone(schema: object): RecordValidator {
  return createAjv({ meta: false }).compile(schema);
}

const UNKNOWN_KEYWORD = /^strict mode: unknown keyword: "(.*)"$/;
const SCHEMA_KEYWORDS: ReadonlySet<string> = new Set(SUBSCHEMAS);

/**
 * Where a schema first uses `keyword` as a keyword (Ajv's strict mode names the keyword, not the
 * place): the subschema's field path, or undefined when it is not found.
 */
function keywordPlace(node: unknown, keyword: string, at: string): string | undefined {
  if (typeof node !== 'object' || node === null || Array.isArray(node)) return undefined;
  if (Object.hasOwn(node, keyword)) return at;
  for (const [key, value] of Object.entries(node)) {
    const children: Array<[unknown, string]> = SCHEMA_KEYWORDS.has(key)
      ? [[value, `${at}.${key}`]]
      : SCHEMA_HOLDERS.has(key) && typeof value === 'object' && value !== null
        ? Object.entries(value).map(([name, child]) =>
            Array.isArray(value) ? [child, `${at}.${key}[${name}]`] : [child, `${at}.${key}.${name}`],
          )
        : [];
    for (const [child, path] of children) {
      const found = keywordPlace(child, keyword, path);
      if (found !== undefined) return found;
    }
  }
  return undefined;
}

const UNKNOWN_FORMAT = /^unknown format "(.*)" ignored in schema at path "#(.*)"$/;

/**
 * What Ajv's compiler refused, said where it is: an unknown keyword at its place; an unknown
 * `format` is refused (Ajv's own words, "ignored", say the opposite), at the keyword, with the
 * formats there are.
 */
function compileProblem(schema: object, message: string, field: string): ErrorDetail {
  const keyword = UNKNOWN_KEYWORD.exec(message)?.[1];
  const place = keyword === undefined ? undefined : keywordPlace(schema, keyword, field);
  if (place !== undefined) return { field: `${place}.${keyword}`, error: `Unknown keyword "${keyword}"` };
  const format = UNKNOWN_FORMAT.exec(message);
  if (!format) return { field, error: message };
  const at = toFieldPath(format[2] ?? '');
  return {
    field: `${field}${at ? `.${at}` : ''}.format`,
    error: `Unknown format "${format[1]}": the formats are ${orList(Object.keys(ajv.formats).sort())}`,
  };
}

const DRAFT_2020_12 = 'https://json-schema.org/draft/2020-12/schema';

/**
 * A `$schema` naming another draft (draft-07's) or no known one: Ajv would look it up among its
 * meta-schemas, find none and throw a plain Error, answered as a 500.
 */
function refuseOtherDialect(schema: object, field: string): void {
  const dialect = (schema as { $schema?: unknown }).$schema;
  if (dialect === undefined) return;
  if (typeof dialect === 'string' && dialect.replace(/#$/, '') === DRAFT_2020_12) return;
  throw new ApiError('invalid_schema', {
    details: [
      {
        field: `${field}.$schema`,
        error: `Only JSON Schema draft 2020-12 is supported: set $schema to "${DRAFT_2020_12}" or leave it out`,
      },
    ],
  });
}

/**
 * `nullable` is OpenAPI 3.0's, not JSON Schema's: Ajv honours it, but list filters, the OpenAPI
 * 3.1 document and `gatehouse types` read `type` alone, and would say null is not allowed. A
 * schema being saved says it the draft 2020-12 way; one saved earlier with it still loads.
 */
function refuseNullable(schema: object, field: string): void {
  const found: string[] = [];
  const walk = (node: unknown, at: string): void => {
    if (typeof node !== 'object' || node === null || Array.isArray(node) || found.length >= 20) return;
    const keywords = node as Record<string, unknown>;
    if ('nullable' in keywords) found.push(`${at}.nullable`);
    for (const key of SUBSCHEMAS) walk(keywords[key], `${at}.${key}`);
    for (const key of SUBSCHEMA_LISTS) {
      const list = keywords[key];
      if (Array.isArray(list)) for (const [i, item] of list.entries()) walk(item, `${at}.${key}[${i}]`);
    }
    for (const key of SUBSCHEMA_MAPS) {
      const map = keywords[key];
      if (typeof map === 'object' && map !== null && !Array.isArray(map))
        for (const [name, item] of Object.entries(map)) walk(item, `${at}.${key}.${name}`);
    }
  };
  walk(schema, field);
  if (found.length === 0) return;
  throw new ApiError('invalid_schema', {
    details: found.map((at) => ({
      field: at,
      error:
        'nullable is OpenAPI 3.0, not JSON Schema: add "null" to the type instead (type: ["integer", "null"])',
    })),
  });
}

function join(path: string, child: string): string {
  return path === '' ? child : `${path}.${child}`;
}

/** Our own inputs' patterns (slugs, scopes), said in words rather than as the regular expression. */
const patternWords = new Map<string, string>();

/** Registers how a pattern of our own inputs is described in errors; returns the pattern. */
export function describedPattern(pattern: string, words: string): string {
  patternWords.set(pattern, words);
  return pattern;
}

/** A name with something to read in it (not only spaces): the dashboard refuses a blank one too. */
export const NOT_BLANK = describedPattern(NOT_BLANK_PATTERN, BLANK_MESSAGE);

function describe(error: ErrorObject): { field: string; error: string } {
  const path = toFieldPath(error.instancePath);
  const params = error.params as Record<string, unknown>;
  // A field's name that `propertyNames` refuses: that field is named (withNamedFields).
  if (error.keyword === 'propertyNames' && typeof params.propertyName === 'string')
    return {
      field: join(path, params.propertyName),
      error: `Field name ${error.message ?? 'is not allowed'}`,
    };
  switch (error.keyword) {
    case 'required':
      return { field: join(path, String(params.missingProperty)), error: 'Required field is missing' };
    case 'additionalProperties':
      return { field: join(path, String(params.additionalProperty)), error: 'Unknown field' };
    // Said of the object, as "(body)" for a top-level field: the field itself is named instead.
    case 'unevaluatedProperties':
      return { field: join(path, String(params.unevaluatedProperty)), error: 'Unknown field' };
    case 'dependentRequired':
      return {
        field: join(path, String(params.missingProperty)),
        error: `Required field is missing (required when ${String(params.property)} is present)`,
      };
    case 'type':
      return { field: path, error: `Must be of type ${typeList(typesOf(params.type))}` };
    case 'enum':
      return {
        field: path,
        error: `Must be one of: ${((params.allowedValues as unknown[]) ?? []).map((v) => JSON.stringify(v)).join(', ')}`,
      };
    case 'format':
      return { field: path, error: `Must be a valid ${String(params.format)}` };
    case 'const':
      return { field: path, error: `Must be ${JSON.stringify(params.allowedValue)}` };
    case 'uniqueItems':
      return {
        field: path,
        error: `Must NOT have duplicate items (items ${params.j} and ${params.i} are identical)`,
      };
    case 'anyOf':
    case 'oneOf': {
      const count = Array.isArray(error.schema) ? error.schema.length : 0;
      // A oneOf that several branches took (two `$ref`s to an integer and a number, given 5).
      // Ajv stops at the second: [first, second].
      const passing = params.passingSchemas;
      if (Array.isArray(passing))
        return {
          field: path,
          error: `Must match exactly one of ${count} alternatives: it matches alternatives ${passing.map((i) => Number(i) + 1).join(' and ')}`,
        };
      return {
        field: path,
        error:
          error.keyword === 'anyOf'
            ? `Must match at least one of ${count} alternatives: fixing what one of them lacks is enough`
            : `Must match exactly one of ${count} alternatives: fixing what one of them lacks is enough`,
      };
    }
    case 'pattern':
      return {
        field: path,
        error: patternWords.get(String(params.pattern)) ?? capitalize(error.message ?? ''),
      };
    default:
      return { field: path, error: capitalize(error.message ?? 'is invalid') };
  }
}

/** `integer`, `integer or null`, `string, integer or null`. */
function typeList(types: string[]): string {
  return orList([...new Set(types)]);
}

/** Whether a value's JSON type is one of `types` (undefined: any type). */
function hasType(value: unknown, types: string[] | undefined): boolean {
  if (types === undefined) return true;
  return types.some((type) => {
    if (type === 'null') return value === null;
    if (type === 'array') return Array.isArray(value);
    if (type === 'object') return typeof value === 'object' && value !== null && !Array.isArray(value);
    if (type === 'integer') return Number.isInteger(value);
    return typeof value === type;
  });
}

/**
 * Which branches of a failed `anyOf`/`oneOf` an error may come from: those whose schemas (through
 * their `$ref`s) hold the schema object the error names, on the same value or below it. In a
 * recursive schema (a tree's node) a branch reaches the other branches too, but only below.
 * null: one of them, which is not known (a `false` schema's error names no object).
 */
function branchesOfErrors(combinator: ErrorObject, root: unknown): (e: ErrorObject) => number[] | null {
  const branches = combinator.schema as unknown[];
  const { onTheValue, below } = branchesRead(branches, root);
  // Of this value: the same anyOf under `items` fails once per item, each with its own branches.
  const where = combinator.instancePath;
  return (e) => {
    const reached = e.instancePath === where ? onTheValue : below;
    if (reached === below && !e.instancePath.startsWith(`${where}/`)) return [];
    const from: unknown = e.parentSchema;
    const known = typeof from === 'object' && from !== null;
    const of = branches
      .map((_, i) => i)
      .filter((i) =>
        known ? reached[i]?.has(from) : e.schemaPath.startsWith(`${combinator.schemaPath}/${i}/`),
      );
    return of.length === 0 && !known ? null : of;
  };
}

interface Branches {
  root: unknown;
  /** The JSON types each admits (undefined: any). */
  admitted: (string[] | undefined)[];
  /** The schema objects each evaluates on the value itself, and on its items and properties. */
  onTheValue: Set<object>[];
  below: Set<object>[];
}

/** Kept per list of branches: the same anyOf under `items` fails once per item. */
const branchCache = new WeakMap<object, Branches>();

function branchesRead(branches: unknown[], root: unknown): Branches {
  const cached = branchCache.get(branches);
  if (cached && cached.root === root) return cached;
  const read = {
    root,
    admitted: branches.map((branch) => admittedTypes(branch, root)),
    onTheValue: branches.map((branch) => reachableSchemas(branch, root, true)),
    below: branches.map((branch) => reachableSchemas(branch, root)),
  };
  branchCache.set(branches, read);
  return read;
}

/**
 * What a failed `anyOf`/`oneOf` and its branches' errors are reported as. When no branch admits
 * the value's type, one type error names all of theirs; when one does, only its errors are
 * reported; when several do, theirs and the combinator's own detail, which says one of them is
 * enough. A branch's types are read through its `$ref`s (`anyOf: [{$ref: "#/$defs/money"},
 * {type: null}]` takes an object or null).
 */
function reportedAs(
  combinator: ErrorObject,
  branchErrors: ErrorObject[],
  branchesOf: (e: ErrorObject) => number[] | null,
  root: unknown,
): ErrorObject[] {
  // A oneOf that several branches took says so itself; the others' errors are beside the point.
  if ((combinator.params as { passingSchemas?: unknown }).passingSchemas) return [combinator];
  const { admitted } = branchesRead(combinator.schema as unknown[], root);
  const fitting = admitted.map((types) => hasType(combinator.data, types));
  const kept = branchErrors.filter((e) => branchesOf(e)?.some((i) => fitting[i]) ?? true);
  const fits = fitting.filter(Boolean).length;
  // Several branches admit the value (`anyOf` of `required: [email]` and `required: [phone]`):
  // their errors are alternatives, and the combinator's own detail says that one is enough.
  if (fits > 1) return [...kept, combinator];
  if (fits === 1) return kept;
  const types = admitted.flatMap((t) => t ?? []);
  if (types.length === 0) return [...kept, combinator];
  return [...kept, { ...combinator, keyword: 'type', params: { type: types } }];
}

/**
 * Ajv reports every branch of a failed `anyOf`/`oneOf`: a nullable object (`anyOf: [{object…},
 * {type: null}]`) sent without a field it requires was also told "Must be of type null", and a
 * value of none of the branches' types heard only of the first branch's type. Each combinator,
 * innermost first, is reported as reportedAs says. `root`: the schema validated against.
 */
function withoutBranchNoise(errors: ErrorObject[], root: unknown): ErrorObject[] {
  const out: ErrorObject[] = [];
  for (const e of errors) {
    // Ajv reports a combinator just after its branches' errors, so inner ones come first.
    if ((e.keyword !== 'anyOf' && e.keyword !== 'oneOf') || !Array.isArray(e.schema)) {
      out.push(e);
      continue;
    }
    const branchesOf = branchesOfErrors(e, root);
    let start = out.length;
    while (start > 0 && branchesOf(out[start - 1] as ErrorObject)?.length !== 0) start--;
    out.push(...reportedAs(e, out.splice(start), branchesOf, root));
  }
  // `contains` reports every item that is not the one sought; none of them is wrong by itself.
  const contains = new Set(errors.filter((e) => e.keyword === 'contains').map((e) => `${e.schemaPath}/`));
  if (contains.size === 0) return out;
  return out.filter((e) => ![...contains].some((path) => e.schemaPath.startsWith(path)));
}

/**
 * Ajv reports a field name that `propertyNames` refuses as its subschema's errors, which name only
 * the object ("Must match pattern …" of `meta`), then one that names the field but not why
 * ("property name must be valid"): one error now, naming the field, with the first one's words.
 */
function withNamedFields(errors: ErrorObject[]): ErrorObject[] {
  const out: ErrorObject[] = [];
  for (const e of errors) {
    if (e.keyword === 'propertyNames' && typeof e.params.propertyName === 'string') {
      let message: string | undefined;
      for (let last = out.at(-1); last?.schemaPath.startsWith(`${e.schemaPath}/`); last = out.at(-1)) {
        message = out.pop()?.message;
      }
      out.push({ ...e, message: message ?? 'is not allowed' });
    } else out.push(e);
  }
  return out;
}

/**
 * One detail per field of what `validate` last refused, the first error found for it; the body
 * root is called `(body)`.
 */
export function validationDetails(validate: ValidateFunction): ErrorDetail[] {
  const seen = new Map<string, ErrorDetail>();
  for (const e of withNamedFields(withoutBranchNoise(validate.errors ?? [], validate.schema))) {
    const d = describe(e);
    const field =
      d.field === ''
        ? '(body)'
        : d.field.length > FIELD_CHARS
          ? `${d.field.slice(0, FIELD_CHARS)}…`
          : d.field;
    if (!seen.has(field)) seen.set(field, { field, error: d.error });
    if (seen.size >= 100) break;
  }
  return [...seen.values()];
}

/** Validates management-API input against our own schema, answering 400 `invalid_request`. */
export function inputValidator<T>(schema: object): (value: unknown) => T {
  const validate = ajv.compile(schema);
  return (value) => {
    if (!validate(value)) throw new ApiError('invalid_request', { details: validationDetails(validate) });
    return value as T;
  };
}
