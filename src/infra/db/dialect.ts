import { mkdirSync } from 'node:fs';
import { dirname } from 'node:path';
import BetterSqlite3 from 'better-sqlite3';
import {
  type Dialect,
  PostgresDialect,
  type RawBuilder,
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
   * SQLite only: a number that changes whenever anything may have been committed since the last
   * call. What was read under one value is still current while it stays the same. Shared file
   * (the default): `PRAGMA data_version` on the reader connection, which sees every other
   * connection's commits, this process's and other processes'. Sole writer (`claimSoleWriter`):
   * a count of this process's own writes, without a system call.
   */
  dataVersion?: () => number;
  /**
   * SQLite only: this process is the only one that writes to the file (it holds the instance
   * lock, infra/db/instance-lock.ts), so `dataVersion` may count its own writes instead of asking
   * SQLite. Every write of this process must then be reported: Kysely's are counted here, the
   * record writer's own connection and write thread call `noteWrite`.
   */
  claimSoleWriter?: () => void;
  /** SQLite only: a write outside Kysely (the record writer's batches) was committed. */
  noteWrite?: () => void;
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
function cachedStatements(db: BetterSqlite3.Database, onWrite: () => void): SqliteDatabase {
  const cache = new Map<string, SqliteStatement>();
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
        statement = counted(db.prepare(text), /^\s*select\b/i.test(text) ? undefined : onWrite);
        if (cache.size < 1000) cache.set(text, statement);
      }
      return statement;
    },
  };
}

/**
 * Kysely runs a statement with `all` (one that returns rows, `RETURNING` included) or `run`;
 * anything but a SELECT counts as a write once it has run, failed or not (a failed one costs a
 * needless cache refresh at most). Kysely's BEGIN and COMMIT are statements too.
 */
function counted(statement: BetterSqlite3.Statement, onWrite: (() => void) | undefined): SqliteStatement {
  if (!onWrite) return statement;
  return {
    reader: statement.reader,
    all(parameters) {
      try {
        return statement.all(parameters);
      } finally {
        onWrite();
      }
    },
    run(parameters) {
      try {
        return statement.run(parameters);
      } finally {
        onWrite();
      }
    },
    iterate(parameters) {
      onWrite();
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
  if (path !== ':memory:') mkdirSync(dirname(path), { recursive: true });
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
  let ownWrites = 0;
  const noteWrite = () => {
    ownWrites++;
  };
  const kysely = new SqliteDialect({ database: cachedStatements(db, noteWrite) });
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
      if (sole) return -1 - ownWrites;
      dataVersion ??= readerStatement('pragma data_version').pluck();
      return dataVersion.get() as number;
    },
    claimSoleWriter: () => {
      sole = true;
    },
    noteWrite,
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
