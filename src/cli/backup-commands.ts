import { existsSync } from 'node:fs';
import type { Command } from 'commander';
import type { Config } from '../config.ts';
import { BackupError, backupSqlite, restoreSqlite } from '../infra/db/sqlite-backup.ts';
import { secretFileOf } from '../infra/secret-file.ts';
import { CliFailure, printFields, printJson, reportFailure } from './output.ts';

/** The SQLite file the installation runs on; PostgreSQL installations back up with their own tools. */
function sqlitePath(config: Config): string {
  if (config.database.kind !== 'sqlite' || config.database.path === ':memory:') {
    throw new CliFailure({
      success: false,
      error:
        'backup and restore work on a SQLite database file; back up PostgreSQL with pg_dump and restore with pg_restore (docs/DEPLOY.md)',
      code: 'not_sqlite',
    });
  }
  return config.database.path;
}

function run<T extends Record<string, unknown>>(
  json: boolean,
  failed: 'backup_failed' | 'restore_failed',
  task: () => T,
  done: (result: T) => string,
): void {
  try {
    const result = task();
    if (json) printJson({ success: true, data: result });
    else {
      printFields(result);
      process.stdout.write(`\n${done(result)}\n`);
    }
  } catch (error) {
    if (error instanceof BackupError) {
      reportFailure(new CliFailure({ success: false, error: error.message, code: failed }), json);
    }
    reportFailure(error, json);
  }
}

/** A path as a POSIX shell reads it back, for a command printed to be pasted: quoted when it needs to be. */
export function shellQuoted(path: string): string {
  return /^[\w@%+=:,./-]+$/.test(path) ? path : `'${path.replace(/'/g, `'\\''`)}'`;
}

/** `gatehouse backup <file>` and `gatehouse restore <file>` for the SQLite database (DATABASE_URL). */
export function registerBackupCommands(program: Command, config: Config): void {
  program
    .command('backup')
    .description('copy the SQLite database to a new file, consistently, while the server runs')
    .argument('<file>', 'the backup file to create (must not exist)')
    .option('--json', 'print JSON')
    .action((file: string, options: { json?: boolean }) => {
      run(
        Boolean(options.json),
        'backup_failed',
        () => {
          const source = sqlitePath(config);
          return { database: source, ...backupSqlite(source, file) };
        },
        ({ holds_installation_secret }) =>
          `Restore it with: gatehouse restore ${shellQuoted(file)} (with the server stopped). ` +
          (holds_installation_secret
            ? 'It holds the installation secret (this database has not been started by this release yet, which moves it out): guard it as you would the secret.'
            : `It does not hold the installation secret: keep ${config.secret ? 'GATEHOUSE_SECRET' : secretFileOf(sqlitePath(config))} safe, apart from it: the backup needs it.`),
      );
    });

  program
    .command('restore')
    .description('replace the SQLite database with a backup (stop the server first)')
    .argument('<file>', 'a file made by gatehouse backup')
    .option('--json', 'print JSON')
    .action(async (file: string, options: { json?: boolean }) => {
      // Loaded here only: the migrations (and Kysely) take about a second to load, which every
      // other command would pay for.
      const known = (await import('../infra/db/migrations.ts')).knownMigrations();
      run(
        Boolean(options.json),
        'restore_failed',
        () => {
          const target = sqlitePath(config);
          const restored = restoreSqlite(file, target, known);
          return { database: target, ...restored, file };
        },
        ({ previous, database, holds_installation_secret }) => {
          const said = previous
            ? `Restored; the database it replaced is kept at ${previous}. Start the server again.`
            : 'Restored. Start the server.';
          // Backups never hold the installation secret: without it, the server will say so.
          const secret = secretFileOf(database);
          // An earlier release's backup holds it itself: its first start moves it to the file.
          return config.secret || holds_installation_secret || existsSync(secret)
            ? said
            : `${said}\nThe installation secret is not in backups: put the file ${secret} it was made with in place (or set GATEHOUSE_SECRET) first.`;
        },
      );
    });
}
