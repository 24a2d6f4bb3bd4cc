import { existsSync, readFileSync } from 'node:fs';
import type { Command } from 'commander';
import type { Config } from '../config.ts';
import {
  BackupError,
  backupSqlite,
  type OlderBackup,
  restoreSqlite,
  secretOpens,
  storedSecretOf,
} from '../infra/db/sqlite-backup.ts';
import { secretFileOf } from '../infra/secret-file.ts';
import { confirmIrreversible, withYes } from './confirm.ts';
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

async function run<T extends Record<string, unknown>>(
  json: boolean,
  failed: 'backup_failed' | 'restore_failed',
  task: () => T | Promise<T>,
  done: (result: T) => string,
): Promise<void> {
  try {
    const result = await task();
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
    .action(async (file: string, options: { json?: boolean }) => {
      await run(
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

  withYes(
    program
      .command('restore')
      .description('replace the SQLite database with a backup (stop the server first)')
      .argument('<file>', 'a file made by gatehouse backup')
      .option('--json', 'print JSON'),
  ).action(async (file: string, options: { json?: boolean; yes?: boolean }) => {
    // Loaded here only: the migrations (and Kysely) take about a second to load, which every
    // other command would pay for.
    const known = (await import('../infra/db/migrations.ts')).knownMigrations();
    const json = Boolean(options.json);
    let note: string | undefined;
    await run(
      json,
      'restore_failed',
      async () => {
        const target = sqlitePath(config);
        const restored = await restoreSqlite(file, target, known, {
          approveOlder: async (older) => {
            const warning = olderWarning(file, older);
            // Said even when --yes answers for it: a restore that loses data is not silent.
            if (options.yes) process.stderr.write(`Warning: ${warning}\n`);
            await confirmIrreversible(options, warning);
          },
        });
        // People read it after the summary; --json keeps stdout for the result.
        note = secretNote(config, target, restored.holds_installation_secret, restored.previous);
        if (json && note) process.stderr.write(`Warning: ${note}\n`);
        return { database: target, ...restored, file };
      },
      ({ previous }) => {
        const said = previous
          ? `Restored; the database it replaced is kept at ${previous}. Start the server again.`
          : 'Restored. Start the server.';
        return note ? `${said}\n${note}` : said;
      },
    );
  });
}

/**
 * What the restored database still needs before a server starts on it: the installation secret
 * it was made with (backups never hold it), when it is missing or another one is in its place
 * (a new machine's first start made its own; a `secret rotate` since the backup replaced it).
 * An earlier release's backup holds its own: then what is in the way of it, if anything.
 */
function secretNote(
  config: Config,
  database: string,
  holdsSecret: boolean,
  previous: string | null,
): string | undefined {
  const file = secretFileOf(database);
  if (holdsSecret) return ownSecretNote(config, database, file, previous);
  let secret = config.secret;
  if (secret === undefined) {
    if (!existsSync(file))
      return `The installation secret is not in backups: put the file ${file} it was made with in place (or set GATEHOUSE_SECRET) first.`;
    secret = readSecretQuietly(file);
    if (secret === undefined) return undefined; // the server says what is wrong with the file when it starts
  }
  if (secretOpens(database, secret)) return undefined;
  const which = config.secret ? 'GATEHOUSE_SECRET' : `The installation secret in ${file}`;
  return (
    `${which} is not the one this backup was made with (another installation's, or replaced by a \`gatehouse secret rotate\` since): ` +
    `its stored secrets do not open with it, and the server will not start. Put the secret file the backup was made with in place (or set that GATEHOUSE_SECRET) first.`
  );
}

function readSecretQuietly(file: string): string | undefined {
  try {
    return readFileSync(file, 'utf8').trim();
  } catch {
    return undefined;
  }
}

/**
 * A backup made by a release that kept the installation secret in the database: its first start
 * moves it to `<database>.secret`, unless another secret is in the way there (the replaced
 * database's, left beside it; another installation's) or in GATEHOUSE_SECRET, which the server
 * would take (and refuse, since it opens nothing the backup sealed).
 */
function ownSecretNote(
  config: Config,
  database: string,
  file: string,
  previous: string | null,
): string | undefined {
  const own = storedSecretOf(database);
  const opens = (secret: string) => secret === own || secretOpens(database, secret);
  const intro =
    'This backup holds its own installation secret (it was made by a release that kept it in the database)';
  if (config.secret !== undefined) {
    if (opens(config.secret)) return undefined;
    return `${intro}, but GATEHOUSE_SECRET is set to another one, which does not open it: the server will not start. Unset GATEHOUSE_SECRET for the first start (it then moves the backup's own secret to ${file}), or set it to that secret.`;
  }
  if (!existsSync(file)) return undefined; // its first start moves it to the file
  const there = readSecretQuietly(file);
  if (there === undefined || opens(there)) return undefined;
  const aside = previous ? `${previous}.secret` : `${file}.other`;
  const whose = previous
    ? `the database this restore replaced, kept at ${previous}, was made with it`
    : 'left by another installation';
  return (
    `${intro}, but ${file} beside it holds another one (${whose}), which does not open it: the server would refuse to start. ` +
    `Move that file aside first: mv ${shellQuoted(file)} ${shellQuoted(aside)}${previous ? ' (beside the database it belongs to)' : ''}. The first start then moves the backup's own secret to ${file}.`
  );
}

/** What restoring a backup older than the database loses, said before it is done. */
function olderWarning(file: string, older: OlderBackup): string {
  const { backup_changed_at: backup, database_changed_at: database } = older;
  const when = backup
    ? `its last change is from ${backup.toISOString()}, ${timeSpan(database.getTime() - backup.getTime())} before the database's last (${database.toISOString()})`
    : `it records no change at all (no endpoint, key, record or request), and the database's last is from ${database.toISOString()}`;
  return (
    `${file} is older than the database it replaces: ${when}. ` +
    'What was written since will be lost from the restored database (the one replaced is kept aside).'
  );
}

/** A length of time in its two largest units: `3 days 4 hours`, `2 minutes 5 seconds`, `1 second`. */
function timeSpan(ms: number): string {
  const units: Array<[string, number]> = [
    ['day', 86_400_000],
    ['hour', 3_600_000],
    ['minute', 60_000],
    ['second', 1_000],
  ];
  const parts: string[] = [];
  let left = ms;
  for (const [name, size] of units) {
    const n = Math.floor(left / size);
    left -= n * size;
    if (n > 0 || parts.length > 0) parts.push(`${n} ${name}${n === 1 ? '' : 's'}`);
    if (parts.length === 2) break;
  }
  const said = parts.filter((part) => !part.startsWith('0 '));
  return said.length > 0 ? said.join(' ') : 'less than a second';
}
