import type { EndpointRuntime, SchemaVersion } from '../endpoints/endpoint-service.ts';
import { ApiError, invalid, orList, parseLimit } from '../errors.ts';
import { hmac, safeEqual } from '../infra/crypto/hash.ts';
import type { Db } from '../infra/db/database.ts';
import { type DialectAdapter, FILTERABLE_FIELD, type JsonScalar } from '../infra/db/dialect.ts';
import { preparedReadFirst } from '../infra/db/prepared.ts';
import { withoutTrailingZeros } from '../infra/json/exact-json.ts';
import type { Environment } from '../keys/key-service.ts';
import { type RecordRow, recordJson } from './record-json.ts';

export type FilterValue = string | number | boolean | null;

export interface ListQuery {
  limit: number;
  order: 'asc' | 'desc';
  after: string | undefined;
  /** Each filter: the field is one of these JSON values. */
  filters: Array<[field: string, values: JsonScalar[]]>;
}

const ALLOWED = new Set(['limit', 'order', 'after']);

/** What parseListQuery takes, for a management route that lists records (the console). */
export const LIST_QUERY = {
  limit: 'Page size, 1 to 100 (default 25)',
  order: 'desc (newest first, the default) or asc',
  after: 'The next_cursor of the previous page',
  'filter[field]': 'Only records whose top-level field has this value (`filter[paid]=true`)',
} as const;

/** The JSON types a filter's text can equal; the schema's other two are array and object. */
const SCALAR_TYPES = new Set(['string', 'number', 'integer', 'boolean', 'null']);

/**
 * Whether a filter can match a field of these declared types: not when every type is array or
 * object, as a filter's text is compared with a scalar. An undeclared field may hold anything.
 */
export function filterableTypes(types: readonly string[] | undefined): boolean {
  return types === undefined || types.length === 0 || types.some((type) => SCALAR_TYPES.has(type));
}

const JSON_NUMBER = /^-?(0|[1-9]\d*)(\.\d+)?([eE][+-]?\d+)?$/;
/** More than 15 digits in a row (a decimal point between them counts as none), as json-body.ts counts them. */
const LONG_DIGITS = /\d{16}/;

/**
 * The JSON texts under which a record may hold the number a filter spells, or undefined if it
 * spells none. Records hold `JSON.stringify` of their body, which writes 5.0 and 50e-1 as 5 and
 * 1e2 as 100, except bodies with a number of more than 15 digits, kept as sent. So a number
 * matches JavaScript's spelling of it and its own, digit for digit; JavaScript's only while it
 * is exactly the same number (9007199254740993 would be read as …992, and must not match it).
 */
export function numberTexts(raw: string): string[] | undefined {
  const text = raw.trim();
  const value = Number(text);
  const spelled = text !== '' && Number.isFinite(value) ? JSON.stringify(value) : undefined;
  if (!JSON_NUMBER.test(text)) {
    // Other spellings Number() reads (+5, .5, 0x10), as before, but none that it would round.
    const exact = Math.abs(value) <= Number.MAX_SAFE_INTEGER && !LONG_DIGITS.test(text.replace('.', ''));
    return spelled !== undefined && exact ? [spelled] : undefined;
  }
  return spelled !== undefined && spelled !== text && decimalKey(spelled) === decimalKey(text)
    ? [spelled, text]
    : [text];
}

/** A JSON number's text as significant digits and exponent: the same for the same value. */
function decimalKey(text: string): string {
  const [, sign = '', whole = '', fraction = '', exponent = '0'] =
    /^(-?)(\d+)(?:\.(\d+))?(?:[eE]([+-]?\d+))?$/.exec(text) ?? [];
  const digits = (whole + fraction).replace(/^0+/, '');
  if (digits === '') return '0';
  const significant = withoutTrailingZeros(digits);
  const power = BigInt(exponent) - BigInt(fraction.length) + BigInt(digits.length - significant.length);
  return `${sign}${significant}e${power}`;
}

/**
 * Types a filter's text by the schema's declared type for that field. An undeclared field has no
 * type to go by: its text matches the string and whatever number, boolean or null it spells.
 */
function filterValues(raw: string, types: readonly string[] | undefined): JsonScalar[] {
  const string: JsonScalar = { type: 'string', value: raw };
  if (!types) {
    if (JSON_NUMBER.test(raw)) {
      const texts = numberTexts(raw);
      return texts ? [string, { type: 'number', texts }] : [string];
    }
    if (raw === 'true' || raw === 'false') return [string, { type: 'boolean', value: raw === 'true' }];
    return raw === 'null' ? [string, { type: 'null' }] : [string];
  }
  // `null` on a field that may be null finds JSON null (not the string "null").
  if (types.includes('null') && raw === 'null') return [{ type: 'null' }];
  // Each declared type the text spells, and the text itself where strings are allowed: a field of
  // ["integer", "string"] may hold 5 or "5", and filter[f]=5 finds both.
  const out: JsonScalar[] = [];
  if (types.includes('integer') || types.includes('number')) {
    const texts = numberTexts(raw);
    if (texts) out.push({ type: 'number', texts });
  }
  if (types.includes('boolean') && (raw === 'true' || raw === 'false'))
    out.push({ type: 'boolean', value: raw === 'true' });
  if (out.length === 0 || types.includes('string')) out.push(string);
  return out;
}

/**
 * Whether a filter's text can equal a value of one of these declared types: a string field takes
 * any text, a number field a number, an integer field a number of integer value (as Ajv counts
 * it: `1.0` is one, `1.5` is not), a boolean field `true` or `false`, a null one `null`.
 */
function canMatch(raw: string, types: readonly string[]): boolean {
  if (types.length === 0 || types.includes('string')) return true;
  if (raw === 'null' && types.includes('null')) return true;
  if ((raw === 'true' || raw === 'false') && types.includes('boolean')) return true;
  if (types.includes('number') || types.includes('integer')) {
    // Any number Number() reads (+5, 0x10) or JSON spells (1e400, past a double's range, which no
    // record holds, as before matches nothing), not just those numberTexts can match exactly.
    const text = raw.trim();
    const value = Number(text);
    if (!JSON_NUMBER.test(text) && (text === '' || !Number.isFinite(value))) return false;
    return types.includes('number') || !Number.isFinite(value) || Number.isInteger(value);
  }
  return false;
}

/** What a filter on a field of each scalar type other than string must spell. */
const TYPE_TAKES: Record<string, string[]> = {
  integer: ['an integer'],
  number: ['a number'],
  boolean: ['true', 'false'],
  null: ['null'],
};

/** Why a filter's text matches none of a field's declared types (string not among them): what it takes. */
function typedFilterError(types: readonly string[]): string {
  // A number takes in every integer: a field of both is a number field.
  const shown = types.filter(
    (type) => TYPE_TAKES[type] !== undefined && !(type === 'integer' && types.includes('number')),
  );
  const give = orList(shown.flatMap((type) => TYPE_TAKES[type] ?? []));
  return `Cannot match a${/^[aeiou]/.test(shown[0] ?? '') ? 'n' : ''} ${shown.join(' or ')} field: give ${give}`;
}

/** Parses `limit`, `order`, `after` and `filter[field]=value`; anything else is a 400 that names it. */
export function parseListQuery(query: Record<string, unknown>, version: SchemaVersion): ListQuery {
  const out: ListQuery = { limit: 25, order: 'desc', after: undefined, filters: [] };
  for (const [name, rawValue] of Object.entries(query)) {
    if (Array.isArray(rawValue)) throw invalid(name, 'May be given only once');
    const value = String(rawValue);
    // No stored text holds U+0000 (bodies that do are refused), and PostgreSQL cannot compare with it.
    if (value.includes('\0') || name.includes('\0')) throw invalid(name, 'Cannot hold U+0000');
    if (name.startsWith('filter[') && name.endsWith(']')) {
      const field = name.slice(7, -1);
      if (!FILTERABLE_FIELD.test(field))
        throw invalid(
          name,
          'Filters apply to top-level field names of 1 to 64 characters, without ", \\ or control characters',
        );
      const types = version.fieldTypes.get(field);
      if (!filterableTypes(types))
        throw invalid(
          name,
          `Cannot filter on an ${types?.join(' or ')} field: filters match strings, numbers, booleans and null`,
        );
      if (types && !canMatch(value, types)) throw invalid(name, typedFilterError(types));
      if (out.filters.length >= 10) throw invalid(name, 'At most 10 filters');
      out.filters.push([field, filterValues(value, types)]);
      continue;
    }
    if (!ALLOWED.has(name))
      throw invalid(name, 'Unknown query parameter (use limit, order, after or filter[field])');
    if (name === 'limit') {
      out.limit = parseLimit(value, 100, out.limit);
    } else if (name === 'order') {
      if (value !== 'asc' && value !== 'desc') throw invalid('order', 'Must be asc or desc');
      out.order = value;
    } else {
      out.after = value;
    }
  }
  out.filters.sort((a, b) => (a[0] < b[0] ? -1 : a[0] > b[0] ? 1 : 0));
  return out;
}

export type RecordReader = ReturnType<typeof createRecordReader>;

const BATCH_IDS = 500;

/** Collects the keys asked for in one turn of the event loop and loads them together. */
function batched<K, V>(loadMany: (keys: K[]) => Promise<V[]>): (key: K) => Promise<V> {
  type Waiter = { resolve: (value: V) => void; reject: (error: unknown) => void };
  let pending: Map<K, Waiter[]> | null = null;

  function flush(): void {
    const batch = pending as Map<K, Waiter[]>;
    pending = null;
    const keys = [...batch.keys()];
    for (let i = 0; i < keys.length; i += BATCH_IDS) {
      const chunk = keys.slice(i, i + BATCH_IDS);
      loadMany(chunk).then(
        (values) => {
          for (const [n, key] of chunk.entries()) {
            for (const waiter of batch.get(key) ?? []) waiter.resolve(values[n] as V);
          }
        },
        (error: unknown) => {
          for (const key of chunk) for (const waiter of batch.get(key) ?? []) waiter.reject(error);
        },
      );
    }
  }

  return (key) =>
    new Promise<V>((resolve, reject) => {
      if (!pending) {
        pending = new Map();
        setImmediate(flush);
      }
      const waiters = pending.get(key);
      if (waiters) waiters.push({ resolve, reject });
      else pending.set(key, [{ resolve, reject }]);
    });
}

/** What the cache of recent records may hold: entries, characters in all, characters in one. */
const RECENT_ENTRIES = 10_000;
const RECENT_CHARS = 16 * 1024 * 1024;
const RECENT_ONE_CHARS = 16 * 1024;

/**
 * SQLite: the JSON of records read recently, kept while the database is unchanged. Every get
 * first asks the dialect whether anything was committed since (`dataVersion`) and empties the
 * cache if so: a server alone on its file (the instance lock) counts its own changes to records
 * (creates change none, so a stream of them leaves the cache alone), one that
 * shares the file (a cluster's workers, or with Redis) asks SQLite (`PRAGMA data_version`, a
 * read transaction with its file locks: as much as a read by id). A read by id is a B-tree walk
 * plus a row of strings turned into a JavaScript object, which a hit skips. Not on PostgreSQL:
 * it has no such cheap question, and its reads are batched.
 */
function recentRecords(dataVersion: () => number) {
  const entries = new Map<
    string,
    { endpointId: string; environment: Environment; slug: string; json: string }
  >();
  let chars = 0;
  let version = -1;

  function current(): void {
    const now = dataVersion();
    if (now === version) return;
    version = now;
    entries.clear();
    chars = 0;
  }

  return {
    get(id: string, endpoint: EndpointRuntime, environment: Environment): string | undefined {
      current();
      const entry = entries.get(id);
      if (!entry || entry.endpointId !== endpoint.id || entry.environment !== environment) return undefined;
      // The endpoint's slug is part of the JSON: renamed since, the entry is simply not used.
      return entry.slug === endpoint.slug ? entry.json : undefined;
    },
    /** Keeps a record just read, under the version `get` checked just before. */
    set(id: string, endpoint: EndpointRuntime, environment: Environment, json: string): void {
      if (json.length > RECENT_ONE_CHARS) return;
      const old = entries.get(id);
      if (old) chars -= old.json.length;
      entries.set(id, { endpointId: endpoint.id, environment, slug: endpoint.slug, json });
      chars += json.length;
      // Oldest first (a Map iterates in insertion order).
      for (const [oldest, entry] of entries) {
        if (entries.size <= RECENT_ENTRIES && chars <= RECENT_CHARS) break;
        entries.delete(oldest);
        chars -= entry.json.length;
      }
    },
  };
}

export function createRecordReader({
  db,
  dialect,
  secret,
}: {
  db: Db;
  dialect: DialectAdapter;
  secret: string;
}) {
  /** Cursors are signed and bound to one list (endpoint, environment, order, filters): forged or moved ones fail. */
  function cursorScope(endpoint: EndpointRuntime, environment: Environment, query: ListQuery): string {
    return `${endpoint.id}|${environment}|${query.order}|${JSON.stringify(query.filters)}`;
  }

  function encodeCursor(seq: number, scope: string): string {
    const mac = hmac(secret, `${scope}|${seq}`).slice(0, 22);
    return Buffer.from(`${seq}.${mac}`).toString('base64url');
  }

  function decodeCursor(cursor: string, scope: string): number {
    const text = Buffer.from(cursor, 'base64url').toString();
    const match = /^(\d{1,15})\.([A-Za-z0-9_-]{22})$/.exec(text);
    if (!match?.[1] || !match[2])
      throw new ApiError('invalid_cursor', { details: [{ field: 'after', error: 'Malformed cursor' }] });
    const seq = Number(match[1]);
    if (!safeEqual(match[2], hmac(secret, `${scope}|${seq}`).slice(0, 22))) {
      throw new ApiError('invalid_cursor', {
        details: [{ field: 'after', error: 'Cursor does not belong to this list' }],
      });
    }
    return seq;
  }

  const selectById = preparedReadFirst<RecordRow & { endpoint_id: string }, [id: string]>(
    dialect,
    db
      .selectFrom('records')
      .select(['id', 'data', 'version', 'created_at', 'updated_at', 'environment', 'endpoint_id'])
      .where('id', '=', ''),
  );

  type ByIdRow = RecordRow & { endpoint_id: string };
  /**
   * PostgreSQL: reads by id made in one turn of the event loop share one query (`id IN (…)`):
   * there every query is a round trip, and under load many arrive together. SQLite reads are
   * synchronous microseconds and are not batched.
   */
  const lookUp =
    dialect.name === 'postgres'
      ? batched<string, ByIdRow | undefined>(async (ids) => {
          if (ids.length === 1) return [await selectById(ids[0] as string)];
          const rows = (await db
            .selectFrom('records')
            .select(['id', 'data', 'version', 'created_at', 'updated_at', 'environment', 'endpoint_id'])
            .where('id', 'in', ids)
            .execute()) as ByIdRow[];
          const byId = new Map(rows.map((row) => [row.id, row]));
          return ids.map((id) => byId.get(id));
        })
      : selectById;

  function found(
    row: (RecordRow & { endpoint_id: string }) | undefined,
    endpoint: EndpointRuntime,
    environment: Environment,
  ): string {
    // Another endpoint's or environment's record is simply not found here.
    if (!row || row.endpoint_id !== endpoint.id || row.environment !== environment) {
      throw new ApiError('record_not_found');
    }
    return recordJson(row, endpoint.slug);
  }

  const recent = dialect.dataVersion && recentRecords(dialect.dataVersion);

  return {
    /** The record as the JSON text of the contract, or a 404; synchronous on SQLite. */
    get(endpoint: EndpointRuntime, environment: Environment, id: string): string | Promise<string> {
      if (recent) {
        const cached = recent.get(id, endpoint, environment);
        if (cached !== undefined) return cached;
        const json = found(selectById(id) as ByIdRow | undefined, endpoint, environment);
        recent.set(id, endpoint, environment, json);
        return json;
      }
      const row = lookUp(id);
      if (row instanceof Promise) return row.then((settled) => found(settled, endpoint, environment));
      return found(row, endpoint, environment);
    },

    /** One page as JSON text: `[records…]` and the cursor of the next page, if any. */
    async list(
      endpoint: EndpointRuntime,
      environment: Environment,
      query: ListQuery,
    ): Promise<{ items: string; nextCursor: string | null }> {
      const scope = cursorScope(endpoint, environment, query);
      let q = db
        .selectFrom('records')
        .select(['seq', 'id', 'data', 'version', 'created_at', 'updated_at', 'environment'])
        .where('endpoint_id', '=', endpoint.id)
        .where('environment', '=', environment);
      for (const [field, values] of query.filters) q = q.where(dialect.jsonEquals('data', field, values));
      if (query.after !== undefined) {
        const seq = decodeCursor(query.after, scope);
        q = q.where('seq', query.order === 'desc' ? '<' : '>', seq);
      }
      const rows = await q
        .orderBy('seq', query.order)
        .limit(query.limit + 1)
        .execute();
      const page = rows.slice(0, query.limit);
      const last = page[page.length - 1];
      return {
        items: `[${page.map((row) => recordJson(row, endpoint.slug)).join(',')}]`,
        nextCursor: rows.length > query.limit && last ? encodeCursor(last.seq, scope) : null,
      };
    },
  };
}
