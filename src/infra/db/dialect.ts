import { closeSync, mkdirSync, openSync } from 'node:fs';
import { dirname } from 'node:path';
import BetterSqlite3 from 'better-sqlite3';
import {
  type Dialect,
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

export interface DialectAdapter {
  name: DialectName;
  kysely: Dialect;
  /** A top-level field of a JSON text column, comparable with `jsonValue(value)`. */
  jsonField(column: string, field: string): RawBuilder<unknown>;
  jsonValue(value: string | number | boolean | null): RawBuilder<unknown>;
  /** True where a top-level field of a JSON text column is one of `values`, compared as JSON (5 ≠ "5" ≠ true). */
  jsonIn(
    column: string,
    field: string,
    values: ReadonlyArray<string | number | boolean | null>,
  ): RawBuilder<SqlBool>;
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
   * instead of asking SQLite. They all go through Kysely's connection, where they are counted,
   * except plain creates (the record writer's batches), which add records and change none.
   */
  claimSoleWriter?: () => void;
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
    kysely: {
      createAdapter: () => kysely.createAdapter(),
      createIntrospector: (database) => kysely.createIntrospector(database),
      createQueryCompiler: () => kysely.createQueryCompiler(),
      createDriver() {
        const driver = kysely.createDriver();
        const acquire = driver.acquireConnection.bind(driver);
        driver.acquireConnection = async () => {
          waiters++;
          try {
            return await acquire();
          } finally {
            waiters--;
          }
        };
        return driver;
      },
    },
    jsonField: (column, field) => sql`json_extract(${sql.ref(column)}, ${`$."${field}"`})`,
    jsonValue: (value) => (typeof value === 'boolean' ? sql`${value ? 1 : 0}` : sql`${value}`),
    // `->` gives the field as JSON text, so its type takes part in the comparison.
    jsonIn: (column, field, jsonTexts) =>
      sql<SqlBool>`(${sql.ref(column)} -> ${`$."${field}"`}) in (${sql.join(jsonTexts.map((t) => sql`${t}`))})`,
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
    close: async () => {
      if (reader && reader !== db) reader.close();
    },
  };
}

function openReader(path: string): BetterSqlite3.Database {
  const reader = new BetterSqlite3(path, { readonly: true });
  reader.pragma('busy_timeout = 5000');
  reader.pragma('cache_size = -65536');
  return reader;
}

// int8 (bigserial, count) as number: our sequences stay far below 2^53.
pg.types.setTypeParser(20, (v) => Number(v));

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
    jsonField: (column, field) => sql`(${sql.ref(column)}::jsonb -> ${field})`,
    jsonValue: (value) => sql`${JSON.stringify(value)}::jsonb`,
    jsonIn: (column, field, jsonTexts) =>
      sql<SqlBool>`(${sql.ref(column)}::jsonb -> ${field}) in (${sql.join(jsonTexts.map((t) => sql`${t}::jsonb`))})`,
    isUniqueViolation: (error) => error instanceof Error && 'code' in error && error.code === '23505',
    isUnavailable: (error) =>
      error instanceof Error &&
      (('code' in error &&
        typeof error.code === 'string' &&
        (/^(08|53|57P)/.test(error.code) ||
          ['ECONNREFUSED', 'ECONNRESET', 'ETIMEDOUT'].includes(error.code))) ||
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
