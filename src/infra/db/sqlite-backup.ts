import {
  chmodSync,
  closeSync,
  copyFileSync,
  existsSync,
  fsyncSync,
  linkSync,
  mkdirSync,
  openSync,
  readSync,
  renameSync,
  rmSync,
  statSync,
} from 'node:fs';
import { dirname, resolve } from 'node:path';
import BetterSqlite3 from 'better-sqlite3';
import { opensWith } from '../crypto/encryption.ts';
import {
  claimSqliteInstance,
  describeHolder,
  InstanceLockedError,
  type LockHolder,
  resolvedPath,
} from './instance-lock.ts';

/** A backup or restore that cannot go ahead: the message tells the operator what to do. */
export class BackupError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'BackupError';
  }
}

export interface BackupSummary {
  file: string;
  bytes: number;
  records: number;
  /**
   * True when the copy holds the installation secret itself: a database not yet started by a
   * release that keeps it beside the file (its first start moves it out). Guard such a copy as
   * the secret.
   */
  holds_installation_secret: boolean;
}

/**
 * Opens a file that must already be a Gatehouse SQLite database; `pages`: also checked page by
 * page (PRAGMA quick_check: it reads the whole file, so a live source is not, its copy is).
 */
function openChecked(path: string, what: string, pages: boolean): BetterSqlite3.Database {
  if (!existsSync(path)) throw new BackupError(`No ${what} at ${path}`);
  // SQLite reads a folder as a "disk I/O error": said as what it is.
  if (statSync(path).isDirectory())
    throw new BackupError(`${path} is a folder: give the ${what} file itself`);
  // SQLite reads an empty file as an empty database.
  if (statSync(path).size === 0) throw new BackupError(`${path} is empty: not a ${what}`);
  let db: BetterSqlite3.Database | undefined;
  try {
    db = new BetterSqlite3(path, { readonly: true, fileMustExist: true });
    const check = pages ? db.pragma('quick_check', { simple: true }) : 'ok';
    if (check !== 'ok')
      throw new BackupError(`The ${what} at ${path} is damaged: ${String(check).replace(/\s*\n\s*/g, '; ')}`);
    const tables = db
      .prepare(
        "select count(*) as n from sqlite_master where type = 'table' and name in ('records', 'api_keys', 'kysely_migration')",
      )
      .get() as { n: number };
    if (tables.n !== 3) throw new BackupError(`${path} is not a Gatehouse database`);
    return db;
  } catch (error) {
    db?.close();
    if (error instanceof BackupError) throw error;
    // Another user's folder or a read-only one: SQLite writes the `-shm` beside a WAL database
    // even to read it. Not a damaged file, which the message below would say.
    if (/^SQLITE_(READONLY|CANTOPEN|PERM)/.test(String((error as { code?: unknown }).code)))
      throw new BackupError(
        `Could not open ${path} (${(error as Error).message}): SQLite writes beside the database even to read it, so run this as the user the server runs as`,
      );
    throw new BackupError(
      unreadable(path, what) ??
        `${path} is not a readable SQLite database (${(error as Error).message.replace(/\s*\n\s*/g, '; ')})`,
    );
  }
}

/**
 * Why SQLite could not read the file, when its first bytes tell: empty, not a SQLite file at all,
 * or cut short (fewer bytes than the pages its header counts: a copy or a download that did not
 * finish), which SQLite alone calls "database disk image is malformed".
 */
function unreadable(path: string, what: string): string | undefined {
  const again = what === 'backup' ? 'Use another backup, or copy it again' : 'Restore the latest backup';
  const header = Buffer.alloc(100);
  let read: number;
  try {
    const fd = openSync(path, 'r');
    try {
      read = readSync(fd, header, 0, 100, 0);
    } finally {
      closeSync(fd);
    }
  } catch {
    return undefined;
  }
  const size = statSync(path).size;
  if (read < 16 || header.toString('latin1', 0, 16) !== 'SQLite format 3\0')
    return `${path} is not a SQLite database (its first bytes are not a SQLite file's)${what === 'backup' ? ': not a file made by gatehouse backup' : ''}`;
  if (read < 100) return `${path} is cut short (${size} bytes): a copy that did not finish. ${again}`;
  const pageSize = header.readUInt16BE(16) === 1 ? 65_536 : header.readUInt16BE(16);
  const expected = pageSize * header.readUInt32BE(28);
  if (expected > size)
    return `${path} is cut short: ${size} bytes of the ${expected} its header counts (a copy or a download that did not finish). ${again}`;
  return undefined;
}

/** A backup file checked page by page, with its size and record count. */
function summary(file: string): BackupSummary {
  const db = openChecked(file, 'backup', true);
  try {
    const { n } = db.prepare('select count(*) as n from records').get() as { n: number };
    const secret = db.prepare("select 1 from settings where key = 'secret'").get();
    return { file, bytes: statSync(file).size, records: n, holds_installation_secret: secret !== undefined };
  } finally {
    db.close();
  }
}

/**
 * Whether `secret` opens what the Gatehouse database at `path` sealed with its installation
 * secret (the callback signing secret, made at its first start; true while there is none): a
 * server refuses to start on the database with a secret that does not.
 */
export function secretOpens(path: string, secret: string): boolean {
  const db = new BetterSqlite3(path, { readonly: true, fileMustExist: true });
  let sealed: { value: string } | undefined;
  try {
    sealed = db.prepare("select value from settings where key = 'callback_signing_secret'").get() as
      | { value: string }
      | undefined;
  } finally {
    db.close();
  }
  return sealed === undefined || opensWith(secret, sealed.value);
}

/**
 * The installation secret the Gatehouse database at `path` holds itself, if any: one made by a
 * release before the secret moved to `<database>.secret` (its first start by this one moves it out).
 */
export function storedSecretOf(path: string): string | undefined {
  const db = new BetterSqlite3(path, { readonly: true, fileMustExist: true });
  try {
    return (
      db.prepare("select value from settings where key = 'secret'").get() as { value: string } | undefined
    )?.value;
  } finally {
    db.close();
  }
}

/** The migrations a Gatehouse database file has applied, by name. */
function migrationsOf(file: string): string[] {
  const db = new BetterSqlite3(file, { readonly: true, fileMustExist: true });
  try {
    return (db.prepare('select name from kysely_migration').all() as Array<{ name: string }>).map(
      (r) => r.name,
    );
  } finally {
    db.close();
  }
}

/**
 * A consistent copy of a live database: `VACUUM INTO` reads one snapshot (a read transaction,
 * so a server keeps writing meanwhile and nothing it acknowledged after the snapshot is half in
 * the copy), writes it compacted to a new file, and the copy is checked before it is reported.
 * The file holds key hashes and encrypted secrets; not the installation secret, which lives in
 * GATEHOUSE_SECRET or beside the database (unless the database has not been started by this
 * release yet: the summary says so). It is created readable by its owner only.
 */
export function backupSqlite(source: string, target: string): BackupSummary {
  if (existsSync(target)) throw new BackupError(`${target} already exists: choose a new file name`);
  const db = openChecked(source, 'Gatehouse database', false);
  let created = false;
  try {
    mkdirSync(dirname(target), { recursive: true, mode: 0o700 });
    // Created empty and private first: VACUUM INTO then writes into it (and its journal takes the
    // same mode), so the copy is never readable by others, not even while it is written.
    closeSync(openSync(target, 'wx', 0o600));
    created = true;
    db.pragma('busy_timeout = 5000');
    db.prepare('VACUUM INTO ?').run(target);
  } catch (error) {
    if (created) removeQuietly(target, `${target}-journal`);
    throw new BackupError(`Could not write ${target}: ${(error as Error).message}`);
  } finally {
    db.close();
  }
  chmodSync(target, 0o600);
  return summary(target);
}

/** Removes what a failed step left; a failure here must not hide the one being reported. */
function removeQuietly(...paths: string[]): void {
  for (const path of paths) {
    try {
      rmSync(path, { force: true });
    } catch {
      // left for the operator; the error reported names the file
    }
  }
}

/** fsync of a file, or of a directory (`r`) so that a rename in it is on disk too. */
function flush(path: string, flags: 'r' | 'r+'): void {
  const fd = openSync(path, flags);
  try {
    fsyncSync(fd);
  } finally {
    closeSync(fd);
  }
}

/** Where a Gatehouse database records when it last changed: every data write is a request, and a management change is audited and dated on its row. */
const CHANGED_AT: ReadonlyArray<readonly [table: string, column: string]> = [
  ['requests', 'created_at'],
  ['records', 'updated_at'],
  ['audit_log', 'at'],
  ['endpoints', 'updated_at'],
  ['api_keys', 'updated_at'],
  ['webhook_subscriptions', 'updated_at'],
  ['apps', 'updated_at'],
];

/** When the Gatehouse database at `path` last changed, as its rows say; null when none says (empty, or not a Gatehouse database). */
function lastChangeOf(path: string): Date | null {
  let db: BetterSqlite3.Database;
  try {
    db = openChecked(path, 'database', false);
  } catch {
    return null;
  }
  try {
    let latest: number | undefined;
    for (const [table, column] of CHANGED_AT) {
      let at: unknown;
      try {
        at = (db.prepare(`select max(${column}) as at from ${table}`).get() as { at: unknown }).at;
      } catch {
        continue; // a table or column an earlier release's database does not have
      }
      const time = typeof at === 'string' ? Date.parse(at) : Number.NaN;
      if (!Number.isNaN(time) && (latest === undefined || time > latest)) latest = time;
    }
    return latest === undefined ? null : new Date(latest);
  } finally {
    db.close();
  }
}

/** A backup older than the database it would replace: what each last changed. */
export interface OlderBackup {
  /** null: the backup's rows date no change at all (taken before anything was made). */
  backup_changed_at: Date | null;
  database_changed_at: Date;
}

export interface RestoreSummary extends BackupSummary {
  /** Where the database it replaced was moved (null: there was none). */
  previous: string | null;
}

/**
 * Puts a backup in place of the database, with no server running on it (the one-server lock
 * says so; servers sharing the file through Redis must be stopped by the operator). The backup
 * is first copied beside the database and flushed to disk: if that fails (a full disk), nothing
 * has changed. Then the database it replaces is checkpointed (its WAL folded in), kept under a
 * dated name (a hard link: the database never stops existing), and the copy is renamed over it,
 * so a crash at any point leaves the old database or the new one in place, never a mix (and,
 * with hard links, never none: without them, a crash between the two renames leaves the old
 * database under its dated name and the copy as `.restoring`, which the operator renames).
 * A stale `-wal` or `-shm` left beside the old file would be replayed onto the restored one:
 * they go with the old database.
 */
export async function restoreSqlite(
  backup: string,
  given: string,
  known: ReadonlySet<string>,
  options: {
    /**
     * Called when the backup last changed before the database it replaces did (what was written
     * since would be gone), with the server's lock held and nothing changed yet: throwing refuses.
     */
    approveOlder?: (older: OlderBackup) => Promise<void>;
    now?: Date;
  } = {},
): Promise<RestoreSummary> {
  const { approveOlder, now = new Date() } = options;
  // A database reached through a symlink is restored where it is: the link stays a link.
  const target = resolvedPath(given);
  if (resolve(backup) === target || resolvedPath(backup) === target)
    throw new BackupError(`${backup} is the database itself, not a backup`);
  // A database in use (another installation's, a server's): the file alone lacks what its WAL
  // holds, which the check below reads, so the copy put in place would miss those writes.
  const wal = `${backup}-wal`;
  if (existsSync(wal) && statSync(wal).size > 0)
    throw new BackupError(
      `${backup} has writes that are not in the file yet (in ${wal} beside it): it is a database in use, not a backup. Back it up with gatehouse backup (DATABASE_URL=sqlite:${backup}) and restore that. Nothing was changed`,
    );
  // Checked once, before anything is replaced; the copy put in place is the same bytes.
  const checked = summary(backup);
  // A later release's backup would replace the database with one no process of this release
  // starts on (it refuses a migration it does not know): refused before anything is replaced.
  const newer = migrationsOf(backup).find((name) => !known.has(name));
  if (newer !== undefined)
    throw new BackupError(
      `${backup} was made by a newer Gatehouse release (migration ${newer}, unknown to this one): restore it with that release, or restore a backup made by this one or an earlier one. Nothing was changed`,
    );
  let lock: ReturnType<typeof claimSqliteInstance>;
  try {
    lock = claimSqliteInstance(target, 0, 'restore');
  } catch (error) {
    if (error instanceof InstanceLockedError) throw new BackupError(lockedFor(target, error.holder));
    // A read-only or another user's folder: said with the file, as the server says it.
    throw new BackupError(
      `Could not lock ${target} for the restore (${(error as Error).message}): its folder must be writable by this user (run as the server's user). Nothing was changed`,
    );
  }
  const temporary = `${target}.restoring`;
  try {
    const database_changed_at = existsSync(target) ? lastChangeOf(target) : null;
    if (database_changed_at) {
      // A backup that dates no change (taken before anything was made) is older than any change.
      const backup_changed_at = lastChangeOf(backup);
      if (backup_changed_at === null || backup_changed_at < database_changed_at)
        await approveOlder?.({ backup_changed_at, database_changed_at });
    }
    try {
      copyFileSync(backup, temporary);
      chmodSync(temporary, 0o600);
      flush(temporary, 'r+');
    } catch (error) {
      removeQuietly(temporary);
      throw new BackupError(
        `Could not copy the backup beside ${target}: ${(error as Error).message}. Nothing was changed`,
      );
    }
    let previous: string | null = null;
    if (existsSync(target)) {
      try {
        const old = new BetterSqlite3(target, { fileMustExist: true, timeout: 5_000 });
        try {
          old.pragma('wal_checkpoint(TRUNCATE)');
          old.pragma('journal_mode = DELETE');
        } finally {
          old.close();
        }
      } catch (error) {
        removeQuietly(temporary);
        const busy = /locked|busy/i.test((error as Error).message);
        throw new BackupError(
          busy
            ? `${target} is in use by another process (a \`gatehouse worker\`?): stop every Gatehouse process on it, then restore. Nothing was changed`
            : `Could not prepare ${target} for the restore: ${(error as Error).message}. Nothing was changed`,
        );
      }
      previous = `${target}.before-restore-${now.toISOString().replace(/[:.]/g, '-')}`;
      keepPrevious(target, previous);
    }
    for (const suffix of ['-wal', '-shm', '-journal']) rmSync(`${target}${suffix}`, { force: true });
    renameSync(temporary, target);
    flush(dirname(target), 'r');
    return {
      file: target,
      bytes: statSync(target).size,
      records: checked.records,
      holds_installation_secret: checked.holds_installation_secret,
      previous,
    };
  } catch (error) {
    removeQuietly(temporary);
    throw error;
  } finally {
    lock.release();
  }
}

/** Why a restore cannot have the database: who holds it, and what to do about it. */
function lockedFor(target: string, holder: LockHolder | undefined): string {
  const who = holder ? ` (pid ${holder.pid}, since ${holder.since})` : '';
  if (holder?.kind === 'server')
    return `A Gatehouse server is running on ${target}${who}: stop it, then restore. Nothing was changed`;
  if (holder?.kind === 'restore')
    return `Another \`gatehouse restore\` is replacing ${target}${who}: let it finish (it may be waiting for an answer in another terminal), check what it restored, then run this one again if still needed. Nothing was changed`;
  if (holder?.kind === 'secret rotate')
    return `A \`gatehouse secret rotate\` is under way on ${target}${who}: let it finish, then restore. Nothing was changed`;
  return `${describeHolder(undefined).replace(/^a/, 'A')} holds ${target}: stop the server, or let the other command finish, then restore. Nothing was changed`;
}

/**
 * The database about to be replaced, kept as `previous`: a hard link, so it stays in place until
 * the restored copy is renamed over it; where the file system has no hard links, a rename (the
 * copy is renamed in right after).
 */
function keepPrevious(target: string, previous: string): void {
  try {
    linkSync(target, previous);
  } catch (error) {
    // Only a file system without hard links falls back; any other failure is the restore's.
    const code = (error as NodeJS.ErrnoException).code;
    if (code !== 'EPERM' && code !== 'ENOTSUP' && code !== 'EOPNOTSUPP' && code !== 'EXDEV') throw error;
    renameSync(target, previous);
  }
}
