import { Kysely } from 'kysely';
import type { DatabaseConfig } from '../../config.ts';
import { createDialect, type DialectAdapter } from './dialect.ts';
import { migrateToLatest } from './migrations.ts';
import type { Database } from './schema.ts';

export type Db = Kysely<Database>;

export interface DatabaseHandle {
  db: Db;
  dialect: DialectAdapter;
  close(): Promise<void>;
}

/** Opens the database named by the config and brings its schema up to date. */
export async function openDatabase(config: DatabaseConfig): Promise<DatabaseHandle> {
  const dialect = createDialect(config);
  const db = new Kysely<Database>({ dialect: dialect.kysely });
  try {
    await migrateToLatest(db as Kysely<unknown>, dialect.name);
  } catch (error) {
    await db.destroy();
    throw error;
  }
  return {
    db,
    dialect,
    close: async () => {
      await db.destroy();
      await dialect.close();
    },
  };
}
