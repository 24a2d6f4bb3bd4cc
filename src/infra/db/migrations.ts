import {
  type Kysely,
  type Migration,
  type MigrationProvider,
  type MigrationResultSet,
  Migrator,
  sql,
} from 'kysely';
import { ConfigError } from '../../config.ts';
import type { DialectName } from './dialect.ts';
import { coreMigration } from './migrations/0001-core.ts';
import { webhooksMigration } from './migrations/0002-webhooks.ts';
import { limitsMigration } from './migrations/0003-limits.ts';
import { dashboardMigration } from './migrations/0004-dashboard.ts';
import { appsMigration } from './migrations/0005-apps.ts';
import { callbackTargetsMigration } from './migrations/0006-callback-targets.ts';
import { testRequestCredentialsMigration } from './migrations/0007-test-request-credentials.ts';
import { sqliteOutboxIndexMigration } from './migrations/0008-sqlite-outbox-index.ts';
import { requestRecordDataMigration } from './migrations/0009-request-record-data.ts';
import { auditTargetIndexMigration } from './migrations/0010-audit-target-index.ts';
import { usageStatusMigration } from './migrations/0012-usage-status.ts';
import { webhookDeliveryCountsMigration } from './migrations/0013-webhook-delivery-counts.ts';
import { webhookDeliveryCountsTruncateMigration } from './migrations/0014-webhook-delivery-counts-truncate.ts';
import { keyCallbackSecretRotationMigration } from './migrations/0015-key-callback-secret-rotation.ts';
import { auditClientMigration } from './migrations/0016-audit-client.ts';
import { onePendingInviteMigration } from './migrations/0017-one-pending-invite.ts';
import { oneOwnerMigration } from './migrations/0018-one-owner.ts';

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
    '0008_sqlite_outbox_index': sqliteOutboxIndexMigration(dialect),
    '0009_request_record_data': requestRecordDataMigration(),
    '0010_audit_target_index': auditTargetIndexMigration(),
    '0012_usage_status': usageStatusMigration(dialect),
    '0013_webhook_delivery_counts': webhookDeliveryCountsMigration(dialect),
    '0014_webhook_delivery_counts_truncate': webhookDeliveryCountsTruncateMigration(dialect),
    '0015_key_callback_secret_rotation': keyCallbackSecretRotationMigration(),
    '0016_audit_client': auditClientMigration(),
    '0017_one_pending_invite': onePendingInviteMigration(),
    '0018_one_owner': oneOwnerMigration(),
  };
}

/** The names of this release's migrations (the same on either database). */
export function knownMigrations(): ReadonlySet<string> {
  return new Set(Object.keys(migrations('sqlite')));
}

class CodeMigrations implements MigrationProvider {
  constructor(private readonly dialect: DialectName) {}
  async getMigrations(): Promise<Record<string, Migration>> {
    return migrations(this.dialect);
  }
}

/** PostgreSQL's SQLSTATE for "permission denied". */
const INSUFFICIENT_PRIVILEGE = '42501';

/** How long a process waits for another that holds a SQLite file's write lock, before it gives up. */
const MIGRATION_WAIT_MS = 10 * 60_000;

export async function migrateToLatest(
  db: Kysely<unknown>,
  dialect: DialectName,
  waitMs = MIGRATION_WAIT_MS,
): Promise<void> {
  // Migrations are independent files; one added later with a lower number still runs.
  const migratorOf = (on: Kysely<unknown>) =>
    new Migrator({ db: on, provider: new CodeMigrations(dialect), allowUnorderedMigrations: true });
  const { error, results } =
    dialect === 'sqlite'
      ? await migrateSqlite(db, migratorOf, waitMs)
      : await migratorOf(db).migrateToLatest();
  const failed = results?.find((r) => r.status === 'Error');
  const unreachable = unreachableReason(error);
  if (unreachable) {
    throw new ConfigError(
      `Cannot reach the database: ${unreachable}. Check DATABASE_URL, and that the database server is running`,
      'database_unreachable',
    );
  }
  if ((error as { code?: string } | undefined)?.code === INSUFFICIENT_PRIVILEGE) {
    // PostgreSQL 15 lets only the database's owner create tables in its public schema: a
    // database made without `createdb -O <role>` refused the first migration.
    throw new ConfigError(
      `Cannot create Gatehouse's tables: ${(error as Error).message}. The role in DATABASE_URL must own the database ` +
        '(createdb -O <role> <database>, or ALTER DATABASE <database> OWNER TO <role>) or be granted CREATE on its schema',
    );
  }
  const newer = /previously executed migration (\S+) is missing/.exec(String(error))?.[1];
  if (newer !== undefined) {
    // A rollback to an older release without restoring the backup (DEPLOY.md, Upgrading).
    throw new ConfigError(
      `This database was migrated by a newer Gatehouse release (migration ${newer}, unknown to this one), and migrations are not reversed: ` +
        'run that release, or restore the backup taken before the upgrade (docs/DEPLOY.md, Upgrading)',
    );
  }
  if (error || failed) {
    // The cause kept: a full disk or a damaged SQLite file is then said as such (cli/server-commands.ts).
    throw new Error(`Database migration ${failed?.migrationName ?? ''} failed: ${String(error)}`, {
      cause: error,
    });
  }
}

/**
 * On PostgreSQL Kysely's migrator runs every pending migration in one transaction under an
 * advisory lock. On SQLite it takes no lock (it counts on having the file's only connection,
 * not on other processes) and runs each migration on its own, so two processes starting at once
 * on a new file would both apply them, and one killed midway would leave one half applied. Here the
 * migrator runs in one `BEGIN IMMEDIATE` transaction: the first process holds SQLite's write lock
 * until it has applied and recorded them all; another waits for the lock (busy_timeout, then
 * again, up to `waitMs`), then finds them applied. A process that dies midway, even by SIGKILL,
 * leaves nothing applied (it never committed) and no lock (the operating system drops it).
 */
async function migrateSqlite(
  db: Kysely<unknown>,
  migratorOf: (on: Kysely<unknown>) => Migrator,
  waitMs: number,
): Promise<MigrationResultSet> {
  try {
    if (await appliedOnSqlite(db)) return { results: [] };
  } catch (error) {
    return { error };
  }
  const started = Date.now();
  for (;;) {
    try {
      return await db.connection().execute(async (connection) => {
        await sql`begin immediate`.execute(connection);
        try {
          const outcome = await migratorOf(connection).migrateToLatest();
          await sql.raw(outcome.error ? 'rollback' : 'commit').execute(connection);
          return outcome;
        } catch (error) {
          await sql`rollback`.execute(connection);
          throw error;
        }
      });
    } catch (error) {
      if (!isBusy(error)) return { error };
      const waited = Date.now() - started;
      if (waited >= waitMs) {
        throw new ConfigError(
          `The database stayed locked by another process for ${Math.round(waited / 1000)} s while this one waited to migrate it ` +
            '(another Gatehouse process migrating a large database, or one suspended while it held the lock). ' +
            'Start this one again once that process is done, or stop it',
          'database_unreachable',
        );
      }
    }
  }
}

/**
 * Every migration is recorded already, and none this release does not know: nothing to do, and
 * no need to wait for the write lock. One recorded by a later release goes to the migrator, which
 * refuses the file ("previously executed migration … is missing"), as it does on PostgreSQL.
 */
async function appliedOnSqlite(db: Kysely<unknown>): Promise<boolean> {
  const table =
    await sql`select 1 from sqlite_master where type = 'table' and name = 'kysely_migration'`.execute(db);
  if (table.rows.length === 0) return false;
  const rows = await sql<{ name: string }>`select name from kysely_migration`.execute(db);
  const known = knownMigrations();
  const applied = new Set(rows.rows.map((r) => r.name));
  return applied.size === known.size && [...known].every((name) => applied.has(name));
}

function isBusy(error: unknown): boolean {
  return String((error as { code?: unknown } | undefined)?.code ?? '').startsWith('SQLITE_BUSY');
}

const UNTRUSTED_CERTIFICATE =
  "the server's TLS certificate is not trusted (give its CA as sslrootcert=<file> in DATABASE_URL)";

/** Connection-level failures (nothing to migrate yet): the database is not there to talk to. */
const UNREACHABLE_CODES: Record<string, string> = {
  ECONNREFUSED: 'connection refused',
  ENOTFOUND: 'host not found',
  EAI_AGAIN: 'host not found',
  ETIMEDOUT: 'connection timed out',
  EHOSTUNREACH: 'host unreachable',
  ENETUNREACH: 'network unreachable',
  ECONNRESET: 'connection reset',
  '3D000': 'no such database',
  '28P01': 'password authentication failed',
  '28000': 'not allowed to connect',
  '57P03': 'the server is starting up',
  // TLS (sslmode in DATABASE_URL, which pg verifies as verify-full): the certificate pg refused.
  DEPTH_ZERO_SELF_SIGNED_CERT: UNTRUSTED_CERTIFICATE,
  SELF_SIGNED_CERT_IN_CHAIN: UNTRUSTED_CERTIFICATE,
  UNABLE_TO_VERIFY_LEAF_SIGNATURE: UNTRUSTED_CERTIFICATE,
  UNABLE_TO_GET_ISSUER_CERT_LOCALLY: UNTRUSTED_CERTIFICATE,
  CERT_HAS_EXPIRED: "the server's TLS certificate has expired",
  ERR_TLS_CERT_ALTNAME_INVALID: "the server's TLS certificate is for another host name than DATABASE_URL's",
  SQLITE_CANTOPEN: 'the file cannot be opened',
};

/**
 * pg's own errors for a socket that closed before PostgreSQL spoke (they carry no code): a port
 * where something else listens (Redis, a proxy with no backend) accepts and hangs up.
 */
const UNREACHABLE_MESSAGES: Array<[RegExp, string]> = [
  [
    /^Connection terminated unexpectedly$/,
    'the server closed the connection (is PostgreSQL listening on that port?)',
  ],
  [/^Connection terminated due to connection timeout$/, 'connection timed out'],
  [
    /^The server does not support SSL connections$/,
    'DATABASE_URL asks for TLS (sslmode) but the server does not offer it',
  ],
];

function unreachableReason(error: unknown): string | undefined {
  const { code, message } = (error ?? {}) as { code?: string; message?: string };
  // pg reports some of these as an AggregateError of each address tried.
  const inner = (error as { errors?: Array<{ code?: string }> } | undefined)?.errors?.[0]?.code;
  const known =
    (code && UNREACHABLE_CODES[code]) ||
    (inner && UNREACHABLE_CODES[inner]) ||
    (!code && UNREACHABLE_MESSAGES.find(([pattern]) => pattern.test(message ?? ''))?.[1]);
  return known ? `${known}${message ? ` (${message})` : ''}` : undefined;
}
