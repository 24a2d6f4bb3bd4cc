import { type Dialect, Kysely, sql, type Transaction } from 'kysely';
import type { DatabaseConfig } from '../../config.ts';
import { createDialect, type DialectAdapter, type DialectName, withDriver } from './dialect.ts';
import { migrateToLatest } from './migrations.ts';
import { createOutageLog, type OutageLog } from './outage-log.ts';
import type { Database } from './schema.ts';

export type Db = Kysely<Database>;

export interface DatabaseHandle {
  db: Db;
  dialect: DialectAdapter;
  /** The database being down or full, said once every 10 s by whatever in this process meets it. */
  outage: OutageLog;
  close(): Promise<void>;
}

/** Opens the database named by the config and brings its schema up to date. */
export async function openDatabase(config: DatabaseConfig): Promise<DatabaseHandle> {
  const dialect = createDialect(config);
  const outage = createOutageLog(dialect);
  const db = new Kysely<Database>({ dialect: toldOfCommits(dialect.kysely, outage) });
  try {
    await migrateToLatest(db as Kysely<unknown>, dialect.name);
  } catch (error) {
    await db.destroy();
    throw error;
  }
  return {
    db,
    dialect,
    outage,
    close: async () => {
      await db.destroy();
      await dialect.close();
    },
  };
}

/**
 * Tells the outage log of every transaction Kysely commits: on SQLite it began IMMEDIATE (it held
 * the write lock), on PostgreSQL it had a connection, so the database answers again. A boolean
 * test per transaction, not per query; the record writer tells of its own batches (they may
 * bypass Kysely).
 */
function toldOfCommits(dialect: Dialect, outage: OutageLog): Dialect {
  return withDriver(dialect, (driver) => {
    const commit = driver.commitTransaction.bind(driver);
    // Without an outage said, Kysely gets the commit's own promise: no extra step per transaction.
    driver.commitTransaction = (connection) =>
      outage.down ? commit(connection).then(() => outage.answered()) : commit(connection);
  });
}

/**
 * Locks the row of `table` whose `column` is `value` until the transaction ends, by an UPDATE
 * that changes nothing: on PostgreSQL a concurrent read-modify-write of the same row (a draft's
 * revision, the next version number) waits for this one to commit, then reads its result.
 * SQLite has one writer at a time already. A missing row locks nothing: the answer says whether
 * the row is there.
 */
export async function lockRow(
  trx: Transaction<Database>,
  table: 'endpoints' | 'apps' | 'owners',
  column: 'slug' | 'id',
  value: string,
): Promise<boolean> {
  const result =
    await sql`update ${sql.table(table)} set ${sql.ref(column)} = ${sql.ref(column)} where ${sql.ref(column)} = ${value}`.execute(
      trx,
    );
  return Number(result.numAffectedRows ?? 0) > 0;
}

/**
 * Holds the name (`space`, `name`) until the transaction ends: transactions holding the same one
 * run one after another, even where no row exists yet to lock (a first invite to an email). On
 * PostgreSQL a transaction-scoped advisory lock, taken before the transaction locks any row so
 * that it cannot deadlock with them. SQLite has one writer at a time already: the transaction's
 * first write waits for the others (make it its first statement).
 */
export async function lockName(
  trx: Transaction<Database>,
  dialect: DialectName,
  space: number,
  name: string,
): Promise<void> {
  if (dialect === 'postgres')
    await sql`select pg_advisory_xact_lock(${space}, hashtext(${name}))`.execute(trx);
}
