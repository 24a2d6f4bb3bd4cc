import { closeSync, mkdirSync, openSync } from 'node:fs';
import { dirname } from 'node:path';
import BetterSqlite3 from 'better-sqlite3';
import {
  type CompiledQuery,
  type DatabaseConnection,
  type Dialect,
  type Driver,
  PostgresDialect,
  type RawBuilder,
  type SqlBool,
  type SqliteDatabase,
  SqliteDialect,
  type SqliteStatement,
  sql,
} from 'kysely';
import pg from 'pg';
import type { DatabaseConfig } from '../../config.ts';

/** Everything that differs between SQLite and PostgreSQL lives in this file. */

export type DialectName = 'sqlite' | 'postgres';

/**
 * A JSON value that a field is compared with. A number comes as the JSON texts it may be stored
 * as (`numberTexts`, records/record-reader.ts): records keep their numbers' text, and only text
 * compares exactly on both databases (SQLite reads a number as a 64-bit integer or float).
 */
export type JsonScalar =
  | { type: 'string'; value: string }
  | { type: 'number'; texts: readonly string[] }
  | { type: 'boolean'; value: boolean }
  | { type: 'null' };

export type JsonTypeName = 'null' | 'number' | 'string' | 'boolean' | 'array' | 'object';

export type JsonRangeOp = '<' | '<=' | '>' | '>=';

/** An ORDER BY term; `reversed` ones sort against the requested direction. */
export interface JsonSortKey {
  key: RawBuilder<unknown>;
  reversed?: boolean;
}

export interface DialectAdapter {
  name: DialectName;
  kysely: Dialect;
  /**
   * True where a top-level field of a JSON text column is one of `values`, of the same JSON type
   * (5 ≠ "5" ≠ true; null is JSON null, not a missing field). Strings compare by value, numbers
   * by their stored text, which must be one of `texts` (see JsonScalar).
   */
  jsonEquals(column: string, field: string, values: readonly JsonScalar[]): RawBuilder<SqlBool>;
  /**
   * True where the field has the bound's JSON type and compares with it so: numbers by value,
   * strings by code point, false before true. Other types never match.
   */
  jsonCompare(
    column: string,
    field: string,
    op: JsonRangeOp,
    bound: string | number | boolean,
  ): RawBuilder<SqlBool>;
  /** The field's JSON type: null, number, string, boolean, array or object; SQL NULL when it is missing. */
  jsonType(column: string, field: string): RawBuilder<JsonTypeName | null>;
  /**
   * Sort keys that order values of one JSON type alike on both databases: numbers by value,
   * strings by code point, false before true; arrays and objects all tie. Values of different
   * types are ordered by `jsonType` first (record-find.ts).
   */
  jsonSortKeys(column: string, field: string): JsonSortKey[];
  isUniqueViolation(error: unknown): boolean;
  /** The database itself is unreachable or refusing work (as opposed to a bad query). */
  isUnavailable(error: unknown): boolean;
  /** Several workers may claim rows at once (`FOR UPDATE SKIP LOCKED`); SQLite has one writer anyway. */
  claimsWithSkipLocked: boolean;
  /** The disk under the database is full. */
  isStorageFull(error: unknown): boolean;
  /**
   * Runs a read-only query compiled by Kysely outside Kysely's connection queue: on SQLite on a
   * second, read-only connection (WAL gives it the last committed snapshot, never a write in
   * progress), on PostgreSQL straight on the pool. Used by hot-path reads: the first row, or
   * undefined; synchronous on SQLite (no promise for a 4 µs read).
   */
  readFirst<R>(sqlText: string, parameters: readonly unknown[]): R | undefined | Promise<R | undefined>;
  /**
   * SQLite only: a number that changes whenever a record may have changed since the last call
   * (what was read under one value is still current while it stays the same). Shared file (the
   * default): `PRAGMA data_version` on the reader connection, which moves on every other
   * connection's commit, this process's and other processes', whatever it wrote. Sole writer
   * (`claimSoleWriter`): a count of this process's committed changes to `records`, without a
   * system call.
   */
  dataVersion?: () => number;
  /**
   * SQLite only: this process is the only one that writes to the file (it holds the instance
   * lock, infra/db/instance-lock.ts), so `dataVersion` may count its own changes to records
   * instead of asking SQLite. Those made through Kysely's connection are counted there; the
   * record writer's batches (records/record-writer.ts) report theirs with `noteRecordsChanged`.
   */
  claimSoleWriter?: () => void;
  /**
   * SQLite only: records were changed (replaced or deleted) outside Kysely's connection, by the
   * record writer's batches: `dataVersion` moves. Called once their commit is known.
   */
  noteRecordsChanged?: () => void;
  /**
   * SQLite only: the writer connection itself, for the record writer's group commit of plain
   * creates while its write thread is not up (records/record-writer.ts).
   */
  sqliteConnection?: BetterSqlite3.Database;
  /** SQLite only: the database file (undefined in memory), for the record writer's write thread. */
  sqlitePath?: string;
  /** SQLite only: how many callers are waiting for Kysely's (single) connection right now. */
  sqliteWaiters?: () => number;
  close(): Promise<void>;
}

/**
 * better-sqlite3 compiles a statement on every `prepare`; Kysely prepares per query.
 * Statements are reused by SQL text (Kysely runs one query at a time on this connection).
 */
function cachedStatements(db: BetterSqlite3.Database, onRecordsChange: () => void): SqliteDatabase {
  const cache = new Map<string, SqliteStatement>();
  // A statement that wrote to records, in a transaction not yet ended.
  let pending = false;
  const ran = (touchesRecords: boolean) => {
    if (touchesRecords) pending = true;
    // Counted once committed (or rolled back: a needless refresh at most), never before: a read
    // between the UPDATE and the COMMIT sees, and may keep, the row as it was.
    if (pending && !db.inTransaction) {
      pending = false;
      onRecordsChange();
    }
  };
  return {
    close: () => db.close(),
    prepare(sqlText: string) {
      let text = sqlText;
      // SQLite rolls a transaction back by itself on some errors (SQLITE_FULL, SQLITE_IOERR…);
      // Kysely's ROLLBACK would then fail and hide the real error, so it becomes a no-op.
      if (text === 'rollback' && !db.inTransaction) {
        return { reader: false, run: () => ({ changes: 0, lastInsertRowid: 0 }) } as unknown as ReturnType<
          SqliteDatabase['prepare']
        >;
      }
      // Transactions take the write lock up front: a deferred one that reads, then writes, fails
      // at once with SQLITE_BUSY when another process committed in between (busy_timeout cannot
      // help it); an immediate one waits for the lock instead.
      if (text === 'begin') text = 'begin immediate';
      let statement = cache.get(text);
      if (!statement) {
        const prepared = db.prepare(text);
        statement = /^\s*select\b/i.test(text) ? prepared : counted(prepared, changesRecords(text), ran);
        if (cache.size < 1000) cache.set(text, statement);
      }
      return statement;
    },
  };
}

/** A statement that may change or remove a row of records: not a SELECT, not a plain INSERT (which only adds). */
function changesRecords(text: string): boolean {
  if (!/\brecords\b/i.test(text)) return false;
  return !/^\s*insert\s+into\s+"?records"?[\s(]/i.test(text) || /\bon\s+conflict\b/i.test(text);
}

/**
 * Kysely runs a statement with `all` (one that returns rows, `RETURNING` included) or `run`;
 * each statement but a SELECT reports that it ran (failed or not), and whether it may change
 * records, so that those changes are counted when their transaction ends.
 */
function counted(
  statement: BetterSqlite3.Statement,
  touchesRecords: boolean,
  ran: (touchesRecords: boolean) => void,
): SqliteStatement {
  return {
    reader: statement.reader,
    all(parameters) {
      try {
        return statement.all(parameters);
      } finally {
        ran(touchesRecords);
      }
    },
    run(parameters) {
      try {
        return statement.run(parameters);
      } finally {
        ran(touchesRecords);
      }
    },
    iterate(parameters) {
      ran(touchesRecords);
      return statement.iterate(parameters);
    },
  };
}

/**
 * Every connection that writes (Kysely's, and the record writer's write thread) is set up so.
 * FULL: a commit is on disk before the 202 goes out; group commit keeps this cheap.
 */
export const WRITER_PRAGMAS = [
  'journal_mode = WAL',
  'synchronous = FULL',
  'busy_timeout = 5000',
  'foreign_keys = ON',
] as const;

/**
 * The top-level field names a filter can name: 1 to 64 characters, none of them `"`, `\` or a
 * control character. They go into SQLite's JSON paths as `$."name"`, where a quote would end the
 * name and a backslash start an escape; PostgreSQL takes them as parameters.
 */
export const FILTERABLE_FIELD = /^[^"\\\p{Cc}]{1,64}$/u;

/** Field names go into JSON paths: callers accept only FILTERABLE_FIELD names. */
function checkedField(field: string): string {
  if (!FILTERABLE_FIELD.test(field)) throw new Error(`Not a filterable field name: ${field}`);
  return field;
}

/** SQLite's path to a top-level field. */
function jsonPath(field: string): string {
  return `$."${checkedField(field)}"`;
}

/** The only operators that reach SQL or jsonpath text, whatever a caller passes at run time. */
const RANGE_SQL: Record<JsonRangeOp, string> = { '<': '<', '<=': '<=', '>': '>', '>=': '>=' };

/**
 * SQLite: strings by json_extract (their value, escapes undone), numbers by their JSON text
 * (`->`, as stored: digit for digit), true, false and null by json_type.
 */
function sqliteJsonEquals(column: string, field: string, values: readonly JsonScalar[]): RawBuilder<SqlBool> {
  const path = jsonPath(field);
  const ref = sql.ref(column);
  const parts: Array<RawBuilder<SqlBool>> = [];
  const texts: string[] = [];
  const types: string[] = [];
  for (const value of values) {
    if (value.type === 'string') {
      // json_extract gives an array or object as its JSON text: only such a string could equal one.
      parts.push(
        /^[[{]/.test(value.value)
          ? sql<SqlBool>`(json_extract(${ref}, ${path}) = ${value.value} and json_type(${ref}, ${path}) = 'text')`
          : sql<SqlBool>`json_extract(${ref}, ${path}) = ${value.value}`,
      );
    } else if (value.type === 'number') texts.push(...value.texts);
    else types.push(value.type === 'null' ? 'null' : String(value.value));
  }
  if (texts.length > 0) parts.push(sql<SqlBool>`(${ref} -> ${path}) in (${sql.join(texts)})`);
  if (types.length > 0) parts.push(sql<SqlBool>`json_type(${ref}, ${path}) in (${sql.join(types)})`);
  return anyOf(parts);
}

/**
 * PostgreSQL, through the json type, which keeps each value's text as stored (and parses faster
 * than jsonb): numbers by that text, true, false and null by theirs, strings by value (`->>`
 * undoes escapes), then held to being strings, which only rows that pass pay for.
 */
function postgresJsonEquals(
  column: string,
  field: string,
  values: readonly JsonScalar[],
): RawBuilder<SqlBool> {
  const json = sql`(${sql.ref(column)}::json -> ${checkedField(field)})`;
  const parts: Array<RawBuilder<SqlBool>> = [];
  const texts: string[] = [];
  for (const value of values) {
    if (value.type === 'string') {
      parts.push(
        sql<SqlBool>`(case when (${sql.ref(column)}::json ->> ${field}) = ${value.value} then json_typeof(${json}) = 'string' else false end)`,
      );
    } else if (value.type === 'number') texts.push(...value.texts);
    else texts.push(value.type === 'null' ? 'null' : String(value.value));
  }
  if (texts.length > 0) parts.push(sql<SqlBool>`(${json}::text in (${sql.join(texts)}))`);
  return anyOf(parts);
}

/** True where any of the conditions is; false for none. */
function anyOf(parts: Array<RawBuilder<SqlBool>>): RawBuilder<SqlBool> {
  if (parts.length === 0) return sql<SqlBool>`false`;
  return parts.length === 1
    ? (parts[0] as RawBuilder<SqlBool>)
    : sql<SqlBool>`(${sql.join(parts, sql` or `)})`;
}

/**
 * SQLite reads a JSON integer past 64 bits (2^63 and beyond, as in 12345678901234567890) as a
 * float, and so would hold two such numbers equal: among those its text decides, by length,
 * then digit by digit. Integers within 64 bits are exact, and so are numbers of up to 15
 * significant digits as floats; a longer one with a decimal point or an exponent is not.
 */
const BIG_INTEGER = 2 ** 63;

function sqliteBigIntegerText(column: string, path: string, sign: '>=' | '<='): RawBuilder<unknown> {
  const ref = sql.ref(column);
  const limit = sql.raw(sign === '>=' ? '9223372036854775808.0' : '-9223372036854775808.0');
  const value = sql`json_extract(${ref}, ${path})`;
  // A float that far out is a whole number: `%.0f` writes it in digits (1e21 as 1 and 21 zeros),
  // exact for any written with up to 15 significant digits, so it sorts among the integers.
  const digits = sql`(case when json_type(${ref}, ${path}) = 'integer' then (${ref} -> ${path}) when json_type(${ref}, ${path}) = 'real' then printf('%.0f', ${value}) end)`;
  return sql`(case when ${value} ${sql.raw(sign)} ${limit} then printf('%06d', length(${digits})) || ${digits} end)`;
}

/**
 * json_extract gives numbers as SQLite numbers, strings as text compared byte by byte (UTF-8:
 * code point order), booleans as 1 and 0: hence the type test.
 */
function sqliteJsonCompare(
  column: string,
  field: string,
  op: JsonRangeOp,
  bound: string | number | boolean,
): RawBuilder<SqlBool> {
  const ref = sql.ref(column);
  const path = jsonPath(field);
  const compare = sql.raw(RANGE_SQL[op]);
  if (typeof bound !== 'number') {
    const types = typeof bound === 'string' ? ['text'] : ['true', 'false'];
    const value = typeof bound === 'boolean' ? Number(bound) : bound;
    return sql<SqlBool>`(json_type(${ref}, ${path}) in (${sql.join(types)}) and json_extract(${ref}, ${path}) ${compare} ${value})`;
  }
  const isNumber = sql`json_type(${ref}, ${path}) in ('integer', 'real')`;
  if (Math.abs(bound) < BIG_INTEGER) {
    // The bound means the number JSON.stringify writes, as on PostgreSQL: past 2^53 those are
    // other digits than the float's own (2^60 is written 1152921504606847000), and SQLite
    // compares 64-bit integers with an integer exactly.
    const value =
      Number.isInteger(bound) && !Number.isSafeInteger(bound) ? BigInt(JSON.stringify(bound)) : bound;
    return sql<SqlBool>`(${isNumber} and json_extract(${ref}, ${path}) ${compare} ${value})`;
  }
  // A big integer that SQLite holds equal to the bound is compared by its digits with the bound
  // as JSON.stringify writes it; a negative one the other way round.
  const digits = integerDigits(bound);
  const boundText = `${String(digits.length).padStart(6, '0')}${digits}`;
  const text = sqliteBigIntegerText(column, path, bound > 0 ? '>=' : '<=');
  const exact = bound > 0 ? sql`${text} ${compare} ${boundText}` : sql`${boundText} ${compare} ${text}`;
  return sql<SqlBool>`(${isNumber} and (case when json_type(${ref}, ${path}) = 'integer' and json_extract(${ref}, ${path}) = ${bound} then ${exact} else json_extract(${ref}, ${path}) ${compare} ${bound} end))`;
}

/** An integer-valued number as JSON.stringify writes it, in plain digits (1.5e+21 as 1500000000000000000000). */
function integerDigits(value: number): string {
  const [mantissa = '', exponent] = JSON.stringify(value).split('e');
  if (exponent === undefined) return mantissa;
  const [whole = '', fraction = ''] = mantissa.split('.');
  return whole + fraction.padEnd(Number(exponent), '0');
}

/**
 * Within one JSON type json_extract gives numbers, text (byte order) or 1/0 for booleans;
 * arrays and objects would give their JSON text, which PostgreSQL cannot order alike. Big
 * integers that SQLite holds equal then go by their digits (negative ones the other way).
 */
function sqliteJsonSortKeys(column: string, field: string): JsonSortKey[] {
  const ref = sql.ref(column);
  const path = jsonPath(field);
  return [
    {
      key: sql`(case when json_type(${ref}, ${path}) in ('array', 'object') then null else json_extract(${ref}, ${path}) end)`,
    },
    { key: sqliteBigIntegerText(column, path, '>=') },
    { key: sqliteBigIntegerText(column, path, '<='), reversed: true },
  ];
}

function sqlite(path: string): DialectAdapter {
  if (path !== ':memory:') {
    // It holds key hashes, encrypted secrets and everyone's data: a new database (and its -wal
    // and -shm, which SQLite creates with the database file's mode) is for its owner alone.
    mkdirSync(dirname(path), { recursive: true, mode: 0o700 });
    try {
      closeSync(openSync(path, 'wx', 0o600));
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code !== 'EEXIST') throw error;
    }
  }
  const db = new BetterSqlite3(path);
  for (const pragma of WRITER_PRAGMAS) db.pragma(pragma);
  // This connection runs on the event loop: SQLite's busy handler would sleep there, freezing
  // every request while another process holds the write lock. It waits briefly; Kysely's
  // queries wait on for the lock between tries (waitForLockOffTheLoop).
  db.pragma(`busy_timeout = ${LOOP_BUSY_TIMEOUT_MS}`);
  db.pragma('cache_size = -65536');
  let reader: BetterSqlite3.Database | undefined;
  let dataVersion: BetterSqlite3.Statement | undefined;
  const readStatements = new Map<string, BetterSqlite3.Statement>();
  function readerStatement(text: string): BetterSqlite3.Statement {
    let statement = readStatements.get(text);
    if (!statement) {
      // Opened on first use, after migrations have created the schema.
      reader ??= path === ':memory:' ? db : openReader(path);
      statement = reader.prepare(text);
      if (readStatements.size < 1000) readStatements.set(text, statement);
    }
    return statement;
  }
  // In memory nobody else can open the database: this process is the only writer from the start.
  let sole = path === ':memory:';
  let recordChanges = 0;
  const kysely = new SqliteDialect({
    database: cachedStatements(db, () => {
      recordChanges++;
    }),
  });
  let waiters = 0;
  return {
    name: 'sqlite',
    sqliteConnection: db,
    sqliteWaiters: () => waiters,
    sqlitePath: path === ':memory:' ? undefined : path,
    claimsWithSkipLocked: false,
    kysely: withDriver(kysely, (driver) => {
      const acquire = driver.acquireConnection.bind(driver);
      let wrapped: DatabaseConnection | undefined;
      driver.acquireConnection = async () => {
        waiters++;
        try {
          const connection = await acquire();
          if (wrapped !== connection) {
            wrapped = connection;
            waitForLockOffTheLoop(db, connection);
          }
          return connection;
        } finally {
          waiters--;
        }
      };
    }),
    jsonEquals: sqliteJsonEquals,
    jsonCompare: sqliteJsonCompare,
    jsonType: (column, field) =>
      sql<JsonTypeName | null>`(case json_type(${sql.ref(column)}, ${jsonPath(field)}) when 'integer' then 'number' when 'real' then 'number' when 'text' then 'string' when 'true' then 'boolean' when 'false' then 'boolean' when 'null' then 'null' when 'array' then 'array' when 'object' then 'object' end)`,
    jsonSortKeys: sqliteJsonSortKeys,
    isUniqueViolation: (error) =>
      error instanceof Error && 'code' in error && String(error.code).startsWith('SQLITE_CONSTRAINT'),
    isUnavailable: (error) =>
      error instanceof Error &&
      'code' in error &&
      ['SQLITE_BUSY', 'SQLITE_IOERR', 'SQLITE_CANTOPEN', 'SQLITE_READONLY'].some((c) =>
        String(error.code).startsWith(c),
      ),
    isStorageFull: (error) => error instanceof Error && 'code' in error && error.code === 'SQLITE_FULL',
    readFirst<R>(text: string, parameters: readonly unknown[]): R | undefined {
      return readerStatement(text).get(...parameters) as R | undefined;
    },
    dataVersion: () => {
      // Negative: never equal to a data_version (positive) read before the switch.
      if (sole) return -1 - recordChanges;
      dataVersion ??= readerStatement('pragma data_version').pluck();
      return dataVersion.get() as number;
    },
    claimSoleWriter: () => {
      sole = true;
    },
    noteRecordsChanged: () => {
      recordChanges++;
    },
    close: async () => {
      if (reader && reader !== db) reader.close();
    },
  };
}

/** `dialect` with its driver changed by `change` once made (Kysely makes one per instance). */
export function withDriver(dialect: Dialect, change: (driver: Driver) => void): Dialect {
  return {
    createAdapter: () => dialect.createAdapter(),
    createIntrospector: (db) => dialect.createIntrospector(db),
    createQueryCompiler: () => dialect.createQueryCompiler(),
    createDriver() {
      const driver = dialect.createDriver();
      change(driver);
      return driver;
    },
  };
}

/** How long a statement on the event loop's connection waits for SQLite's lock in one try. */
const LOOP_BUSY_TIMEOUT_MS = 10;
/** How long it waits in all, between tries: the busy timeout of the other connections. */
const LOCK_WAIT_MS = 5_000;
const RETRY_EVERY_MS = 25;

/**
 * Retries, off the event loop, a query that found the database locked by another connection
 * (another process's write transaction, say) outside a transaction of ours: `begin immediate`, or
 * a statement on its own. It did nothing, so it is run again, for up to LOCK_WAIT_MS in all, as
 * SQLite's busy handler would, but with the event loop serving requests meanwhile. Inside a
 * transaction (which holds the write lock already) nothing is retried.
 */
function waitForLockOffTheLoop(db: BetterSqlite3.Database, connection: DatabaseConnection): void {
  const execute = connection.executeQuery.bind(connection);
  connection.executeQuery = <R>(query: CompiledQuery) =>
    db.inTransaction ? execute<R>(query) : retryWhileLocked(() => execute<R>(query));
}

/**
 * Runs `task`, and again every RETRY_EVERY_MS for up to LOCK_WAIT_MS while it fails with
 * SQLITE_BUSY, between event-loop turns. Only for work that does nothing when it finds the lock
 * taken: a statement outside a transaction, or a better-sqlite3 `.immediate` transaction (its
 * BEGIN IMMEDIATE is what fails).
 */
export async function retryWhileLocked<T>(task: () => T | Promise<T>): Promise<T> {
  let deadline: number | undefined;
  for (;;) {
    try {
      return await task();
    } catch (error) {
      deadline ??= Date.now() + LOCK_WAIT_MS;
      if (!isBusy(error) || Date.now() >= deadline) throw error;
    }
    await new Promise((resolve) => setTimeout(resolve, RETRY_EVERY_MS));
  }
}

function isBusy(error: unknown): boolean {
  return String((error as { code?: unknown } | undefined)?.code ?? '').startsWith('SQLITE_BUSY');
}

function openReader(path: string): BetterSqlite3.Database {
  const reader = new BetterSqlite3(path, { readonly: true });
  reader.pragma('busy_timeout = 5000');
  reader.pragma('cache_size = -65536');
  return reader;
}

// int8 (bigserial, count) as number: our sequences stay far below 2^53.
pg.types.setTypeParser(20, (v) => Number(v));

/** Codes of a PostgreSQL that cannot be reached, or of a database that is not there. */
const POSTGRES_UNREACHABLE = [
  '3D000',
  'ECONNREFUSED',
  'ECONNRESET',
  'ETIMEDOUT',
  'EPIPE',
  'EHOSTUNREACH',
  'ENETUNREACH',
  'ENOTFOUND',
  'EAI_AGAIN',
];

function postgres(url: string): DialectAdapter {
  const pool = new pg.Pool({ connectionString: url, max: 16, connectionTimeoutMillis: 5000 });
  // A client that loses its connection (server restart, network) emits 'error'; the query in
  // flight rejects by itself and the pool replaces the client, so the event needs no handling,
  // but an unhandled one would crash the process.
  pool.on('error', () => {});
  pool.on('connect', (client) => client.on('error', () => {}));
  return {
    name: 'postgres',
    claimsWithSkipLocked: true,
    kysely: new PostgresDialect({ pool }),
    jsonEquals: postgresJsonEquals,
    // A strict jsonpath comparison is false across JSON types (bare jsonb compares them too:
    // every boolean above every number), compares numbers exactly and strings by code point
    // whatever the database's collation. Only the field's own text is parsed as jsonb.
    jsonCompare: (column, field, op, bound) =>
      sql<SqlBool>`jsonb_path_exists((${sql.ref(column)}::json -> ${checkedField(field)})::jsonb, ${`strict $ ? (@ ${RANGE_SQL[op]} $v)`}::jsonpath, ${JSON.stringify({ v: bound })}::jsonb, true)`,
    jsonType: (column, field) =>
      sql<JsonTypeName | null>`json_typeof(${sql.ref(column)}::json -> ${checkedField(field)})`,
    // Numbers as numeric (exact), false and true as 0 and 1; strings as text in "C" (byte, hence
    // code point, order), not in the database's collation.
    jsonSortKeys: (column, field) => {
      const json = sql`(${sql.ref(column)}::json -> ${checkedField(field)})`;
      const text = sql`(${sql.ref(column)}::json ->> ${field})`;
      return [
        {
          key: sql`(case json_typeof(${json}) when 'number' then ${text}::numeric when 'boolean' then (${text} = 'true')::int end)`,
        },
        { key: sql`(case when json_typeof(${json}) = 'string' then ${text} collate "C" end)` },
      ];
    },
    isUniqueViolation: (error) => error instanceof Error && 'code' in error && error.code === '23505',
    // Besides connection errors and an overloaded or stopping server: a new connection refused
    // because the database does not take connections now (ALLOW_CONNECTIONS false: 55000), is
    // gone (3D000) or refuses the role (28000, 28P01, e.g. a password rotated): each request
    // fails the same way until that is put right, so each is a 503, not a fault of its own.
    isUnavailable: (error) =>
      error instanceof Error &&
      (('code' in error &&
        typeof error.code === 'string' &&
        (/^(08|53|57P|28)/.test(error.code) ||
          POSTGRES_UNREACHABLE.includes(error.code) ||
          (error.code === '55000' && error.message.includes('not currently accepting connections')))) ||
        /timeout exceeded when trying to connect|Connection terminated|not queryable|Client was closed/.test(
          error.message,
        )),
    // 53100 disk_full
    isStorageFull: (error) => error instanceof Error && 'code' in error && error.code === '53100',
    readFirst: async <R>(text: string, parameters: readonly unknown[]) =>
      (await pool.query(text, parameters as unknown[])).rows[0] as R | undefined,
    close: async () => {},
  };
}

export function createDialect(config: DatabaseConfig): DialectAdapter {
  return config.kind === 'sqlite' ? sqlite(config.path) : postgres(config.url);
}
