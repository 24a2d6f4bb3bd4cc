import { type Kysely, type Migration, type MigrationProvider, Migrator } from 'kysely';
import type { DialectName } from './dialect.ts';
import { coreMigration } from './migrations/0001-core.ts';

/**
 * Migrations live in code so that they ship with the package and run on every start.
 * One file per migration in ./migrations; add new ones at the end of this list.
 */
function migrations(dialect: DialectName): Record<string, Migration> {
  return {
    '0001_core': coreMigration(dialect),
  };
}

class CodeMigrations implements MigrationProvider {
  constructor(private readonly dialect: DialectName) {}
  async getMigrations(): Promise<Record<string, Migration>> {
    return migrations(this.dialect);
  }
}

export async function migrateToLatest(db: Kysely<unknown>, dialect: DialectName): Promise<void> {
  const migrator = new Migrator({ db, provider: new CodeMigrations(dialect) });
  const { error, results } = await migrator.migrateToLatest();
  const failed = results?.find((r) => r.status === 'Error');
  if (error || failed) {
    throw new Error(`Database migration ${failed?.migrationName ?? ''} failed: ${String(error)}`);
  }
}
