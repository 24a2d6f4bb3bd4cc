import { type Kysely, type Migration, type MigrationProvider, Migrator } from 'kysely';
import type { DialectName } from './dialect.ts';
import { coreMigration } from './migrations/0001-core.ts';
import { webhooksMigration } from './migrations/0002-webhooks.ts';
import { limitsMigration } from './migrations/0003-limits.ts';
import { dashboardMigration } from './migrations/0004-dashboard.ts';
import { appsMigration } from './migrations/0005-apps.ts';
import { callbackTargetsMigration } from './migrations/0006-callback-targets.ts';
import { testRequestCredentialsMigration } from './migrations/0007-test-request-credentials.ts';

/**
 * Migrations live in code so that they ship with the package and run on every start.
 * One file per migration in ./migrations; add new ones at the end of this list.
 */
function migrations(dialect: DialectName): Record<string, Migration> {
  return {
    '0001_core': coreMigration(dialect),
    '0002_webhooks': webhooksMigration(dialect),
    '0003_limits': limitsMigration(),
    '0004_dashboard': dashboardMigration(),
    '0005_apps': appsMigration(),
    '0006_callback_targets': callbackTargetsMigration(),
    '0007_test_request_credentials': testRequestCredentialsMigration(),
  };
}

class CodeMigrations implements MigrationProvider {
  constructor(private readonly dialect: DialectName) {}
  async getMigrations(): Promise<Record<string, Migration>> {
    return migrations(this.dialect);
  }
}

export async function migrateToLatest(db: Kysely<unknown>, dialect: DialectName): Promise<void> {
  // Migrations are independent files; one added later with a lower number still runs.
  const migrator = new Migrator({
    db,
    provider: new CodeMigrations(dialect),
    allowUnorderedMigrations: true,
  });
  const { error, results } = await migrator.migrateToLatest();
  const failed = results?.find((r) => r.status === 'Error');
  if (error || failed) {
    throw new Error(`Database migration ${failed?.migrationName ?? ''} failed: ${String(error)}`);
  }
}
