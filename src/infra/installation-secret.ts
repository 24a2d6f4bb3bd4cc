import { randomBytes } from 'node:crypto';
import {
  closeSync,
  existsSync,
  fsyncSync,
  linkSync,
  openSync,
  readFileSync,
  renameSync,
  rmSync,
  writeSync,
} from 'node:fs';
import { dirname } from 'node:path';
import { sql } from 'kysely';
import { ConfigError } from '../config.ts';
import { type Encryptor, opensWith, UnsealError } from './crypto/encryption.ts';
import type { Db } from './db/database.ts';
import { pendingSecretFileOf, secretFileOf } from './secret-file.ts';

/** Where the installation secret came from. */
export type SecretSource = 'environment' | 'file' | 'database';

/** GATEHOUSE_SECRET keys every sealed secret and token key: at least as long as a generated one's text. */
export const MIN_SECRET_LENGTH = 32;

/**
 * GATEHOUSE_SECRET when set. Otherwise, on a SQLite file, one generated on first run and kept in
 * a file beside the database (`<database>.secret`, readable by its owner only), never in the
 * database itself: a copy of the database or of a backup then yields no usable credentials (the
 * secret keys the encryption of webhook secrets and of the JWT signing keys). An installation
 * that kept it in the database (before this file existed) has it moved out on its next start.
 * PostgreSQL without GATEHOUSE_SECRET keeps it in the database, so that every process shares it
 * (and the caller warns: DEPLOY.md asks for GATEHOUSE_SECRET there).
 */
export async function loadInstallationSecret(
  db: Db,
  configured: string | undefined,
  sqlitePath?: string,
): Promise<{ secret: string; source: SecretSource }> {
  const read = async () =>
    (await db.selectFrom('settings').select('value').where('key', '=', 'secret').executeTakeFirst())?.value;
  if (configured) {
    if (configured.length < MIN_SECRET_LENGTH && !(await holdsSealedValues(db))) {
      // Nothing is sealed with it yet, so a longer one costs nothing now (later it would: the
      // installation's secrets are sealed with it, and it is then only warned about).
      throw new ConfigError(
        `GATEHOUSE_SECRET is too short (${configured.length} characters): give at least ${MIN_SECRET_LENGTH} random characters, e.g. from \`openssl rand -base64 32\``,
      );
    }
    // A secret an earlier start kept in the database is not needed once it is given here (the
    // same one; or a stray row that opens nothing the configured one does): it leaves.
    const inDatabase = await read();
    if (inDatabase !== undefined) {
      const sealed = inDatabase === configured ? undefined : await sealedValue(db);
      const stray = sealed !== undefined && opensWith(configured, sealed) && !opensWith(inDatabase, sealed);
      if (inDatabase === configured || stray) await dropSecretRow(db, sqlitePath !== undefined);
    }
    return { secret: configured, source: 'environment' };
  }
  if (!sqlitePath) {
    const existing = await read();
    if (existing) return { secret: existing, source: 'database' };
    await db
      .insertInto('settings')
      .values({ key: 'secret', value: randomBytes(32).toString('base64url') })
      .onConflict((oc) => oc.column('key').doNothing())
      .execute();
    return { secret: (await read()) as string, source: 'database' };
  }

  const file = secretFileOf(sqlitePath);
  await finishRotation(db, sqlitePath);
  const inDatabase = await read();
  let secret = readSecretFile(file);
  let stale = false;
  if (secret !== undefined && inDatabase !== undefined && secret !== inDatabase) {
    // Both, and they differ: an earlier release, run on this file after the upgrade (a rollback),
    // found no secret in the database and stored a new one there. The one that opens what the
    // installation sealed is the installation's; a row that does not is that stray.
    const sealed = await sealedValue(db);
    if (sealed !== undefined && opensWith(inDatabase, sealed) && !opensWith(secret, sealed)) {
      // The database's own opens it, the file's does not: a database from before the secret
      // moved out (an old backup restored), with another database's secret file left beside it.
      throw new ConfigError(
        `This database holds its own installation secret (it was made by a release that kept it in the database, e.g. an old backup restored), but ${file} beside it holds another one, which does not open it. Move ${file} aside (it belongs to another database: the one a restore replaced, kept as <database>.before-restore-<time>, or another installation), then start again: the start moves the database's own secret into ${file}`,
      );
    }
    if (sealed === undefined || !opensWith(secret, sealed) || opensWith(inDatabase, sealed)) {
      throw new ConfigError(
        `${file} does not hold this database's installation secret: restore the file that belongs to it, or set GATEHOUSE_SECRET`,
      );
    }
    stale = true;
  }
  if (secret === undefined && inDatabase === undefined && (await holdsSealedValues(db))) {
    // Another process starting at once may have just written it and sealed with it; if not, the
    // secret it was set up with is gone, and a new one would not open what that one sealed.
    secret = readSecretFile(file);
    if (secret === undefined) {
      throw new ConfigError(
        `The installation secret is missing: this database was set up with one kept in ${file} or given as GATEHOUSE_SECRET. Restore that file beside the database, or set the same GATEHOUSE_SECRET`,
      );
    }
  }
  secret ??= writeSecretFile(file, inDatabase ?? randomBytes(32).toString('base64url'));
  if (inDatabase !== undefined || stale) await dropSecretRow(db, true);
  return { secret, source: 'file' };
}

/**
 * Deletes the `secret` row. On SQLite the row is overwritten with zeros (secure_delete) and the
 * WAL folded into the database and emptied, so the files on disk no longer hold it; a checkpoint
 * that another connection's read snapshot holds up (busy) is tried again, in the background
 * once start-up has waited half a second, every 5 s for up to 10 minutes.
 */
async function dropSecretRow(db: Db, sqlite: boolean): Promise<void> {
  if (!sqlite) {
    await db.deleteFrom('settings').where('key', '=', 'secret').execute();
    return;
  }
  await sql`PRAGMA secure_delete = ON`.execute(db);
  await db.deleteFrom('settings').where('key', '=', 'secret').execute();
  await sql`PRAGMA secure_delete = OFF`.execute(db);
  const checkpoint = async () =>
    !(await sql<{ busy: number }>`PRAGMA wal_checkpoint(TRUNCATE)`.execute(db)).rows[0]?.busy;
  for (let attempt = 0; attempt < 5; attempt++) {
    if (await checkpoint()) return;
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
  let left = 120;
  const retry = setInterval(() => {
    checkpoint().then(
      (done) => {
        if (done || --left === 0) clearInterval(retry);
      },
      () => clearInterval(retry), // closed meanwhile: its last connection's checkpoint did it
    );
  }, 5_000);
  retry.unref();
}

/**
 * The JWT signing keys, opened once at start (they are sealed with the installation secret, as
 * the callback signing secret is): a rotation of the secret that left them sealed with the old
 * one would otherwise start, then answer every token request with a 500.
 */
export async function checkSealedSigningKeys(db: Db, encryptor: Encryptor): Promise<void> {
  const row = await db
    .selectFrom('settings')
    .select('value')
    .where('key', '=', 'jwt_signing_keys')
    .executeTakeFirst();
  if (row === undefined) return;
  try {
    encryptor.decrypt(row.value);
  } catch (error) {
    if (!(error instanceof UnsealError)) throw error;
    throw new ConfigError(
      'The JWT signing keys (the settings row jwt_signing_keys) do not open with this installation secret, though the callback signing secret does: the secret was changed without re-encrypting them. Re-encrypt them with it (docs/SECURITY.md, Rotating the installation secret), or start with the secret they were sealed with',
    );
  }
}

/**
 * A rotation cut off between its commit and putting its new secret in place of the file
 * (`gatehouse secret rotate`) left the new secret beside it: when that one opens what is sealed
 * and the file's does not, it takes the file's place; else the rotation never committed, and it goes.
 */
async function finishRotation(db: Db, sqlitePath: string): Promise<void> {
  const pending = pendingSecretFileOf(sqlitePath);
  if (!existsSync(pending)) return;
  const next = readSecretFile(pending);
  const current = readSecretFile(secretFileOf(sqlitePath));
  const sealed = await sealedValue(db);
  const committed =
    next !== undefined &&
    sealed !== undefined &&
    opensWith(next, sealed) &&
    (current === undefined || !opensWith(current, sealed));
  if (committed) commitPendingSecret(sqlitePath);
  else rmSync(pending, { force: true });
}

/** A value sealed with the installation's secret (the callback signing secret), if one exists yet. */
export async function sealedValue(db: Db): Promise<string | undefined> {
  const row = await db
    .selectFrom('settings')
    .select('value')
    .where('key', '=', 'callback_signing_secret')
    .executeTakeFirst();
  return row?.value;
}

/** Whether something was already encrypted with an installation secret (set up on first start). */
export async function holdsSealedValues(db: Db): Promise<boolean> {
  const row = await db
    .selectFrom('settings')
    .select('key')
    .where('key', 'in', ['callback_signing_secret', 'jwt_signing_keys'])
    .executeTakeFirst();
  return row !== undefined;
}

function readSecretFile(file: string): string | undefined {
  if (!existsSync(file)) return undefined;
  let text: string;
  try {
    text = readFileSync(file, 'utf8').trim();
  } catch (error) {
    throw new ConfigError(
      `Could not read the installation secret in ${file} (${(error as NodeJS.ErrnoException).code ?? (error as Error).message})`,
    );
  }
  if (text.length < MIN_SECRET_LENGTH)
    throw new ConfigError(`${file} does not hold an installation secret (too short)`);
  return text;
}

/**
 * Writes the secret to `file` (mode 0600, synced) unless it already exists, atomically: written
 * to a temporary file first and then linked into place, so two processes starting at once agree
 * on one secret and nobody reads a half-written file. Returns the secret the file holds.
 */
function writeSecretFile(file: string, secret: string): string {
  try {
    return placeSecretFile(file, secret);
  } catch (error) {
    if (error instanceof ConfigError) throw error;
    throw new ConfigError(
      `Could not write the installation secret to ${file} (${(error as NodeJS.ErrnoException).code ?? (error as Error).message}): make its folder writable, or set GATEHOUSE_SECRET`,
    );
  }
}

/** A name beside `file` for writing it whole before it is linked or renamed into place. */
function temporaryBeside(file: string): string {
  return `${file}.${process.pid}.${randomBytes(4).toString('hex')}.tmp`;
}

function placeSecretFile(file: string, secret: string): string {
  const temporary = temporaryBeside(file);
  try {
    writeNewFile(temporary, secret);
    try {
      linkSync(temporary, file);
    } catch (error) {
      const code = (error as NodeJS.ErrnoException).code;
      if (code === 'EEXIST') return readSecretFile(file) as string;
      // A filesystem without hard links: an exclusive create instead (not atomic for readers,
      // but two processes still cannot both write one).
      if (code !== 'EPERM' && code !== 'ENOTSUP' && code !== 'EOPNOTSUPP' && code !== 'ENOSYS') throw error;
      try {
        writeNewFile(file, secret);
      } catch (created) {
        if ((created as NodeJS.ErrnoException).code === 'EEXIST') return readSecretFile(file) as string;
        throw created;
      }
    }
    syncFolder(dirname(file));
    return secret;
  } finally {
    rmSync(temporary, { force: true });
  }
}

/**
 * The new secret of a rotation (`<database>.secret.new`, written and synced before its commit)
 * put in place of the secret file, atomically: a reader sees the old file or the new one.
 */
function commitPendingSecret(sqlitePath: string): void {
  const file = secretFileOf(sqlitePath);
  renameSync(pendingSecretFileOf(sqlitePath), file);
  syncFolder(dirname(file));
}

/**
 * After a rotation's commit: `next` in place of the secret file. Its pending file may be gone: a
 * process that started meanwhile (no lock keeps out a `gatehouse worker`, or servers with
 * REDIS_URL) found that it opened nothing yet and removed it, or found it committed and moved it
 * itself. Then it is written again: the secret that now opens everything must not be lost.
 */
export function commitRotatedSecret(sqlitePath: string, next: string): void {
  try {
    commitPendingSecret(sqlitePath);
    return;
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code !== 'ENOENT') throw error;
  }
  if (readSecretFile(secretFileOf(sqlitePath)) === next) return;
  writePendingSecret(sqlitePath, next);
  commitPendingSecret(sqlitePath);
}

/**
 * The new secret of a rotation as `<database>.secret.new`, appearing whole: written and synced
 * under a temporary name beside it, then renamed. A process starting meanwhile reads the pending
 * file (finishRotation); created in place, it could be read empty or cut short ("too short") and
 * that process would refuse to start.
 */
export function writePendingSecret(sqlitePath: string, secret: string): void {
  const pending = pendingSecretFileOf(sqlitePath);
  const temporary = temporaryBeside(pending);
  try {
    writeNewFile(temporary, secret);
    renameSync(temporary, pending);
    syncFolder(dirname(pending));
  } finally {
    rmSync(temporary, { force: true });
  }
}

/** Creates `path` (it must not exist yet, mode 0600) holding the secret, synced to disk. */
function writeNewFile(path: string, secret: string): void {
  const fd = openSync(path, 'wx', 0o600);
  try {
    writeSync(fd, `${secret}\n`);
    fsyncSync(fd);
  } finally {
    closeSync(fd);
  }
}

/** The folder's entry for the new file made durable too; best effort (not every filesystem can). */
function syncFolder(folder: string): void {
  try {
    const fd = openSync(folder, 'r');
    try {
      fsyncSync(fd);
    } finally {
      closeSync(fd);
    }
  } catch {
    // Some filesystems refuse to fsync a directory; the file itself is synced.
  }
}
