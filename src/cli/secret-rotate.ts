import { randomBytes } from 'node:crypto';
import { rmSync } from 'node:fs';
import { type Config, ConfigError } from '../config.ts';
import { openDatabase } from '../infra/db/database.ts';
import { claimSqliteInstance, type InstanceLock } from '../infra/db/instance-lock.ts';
import {
  commitRotatedSecret,
  holdsSealedValues,
  loadInstallationSecret,
  MIN_SECRET_LENGTH,
  writePendingSecret,
} from '../infra/installation-secret.ts';
import { pendingSecretFileOf, secretFileOf } from '../infra/secret-file.ts';
import { type Resealed, resealInstallation } from '../infra/secret-rotation.ts';

export { describeHolder, InstanceLockedError } from '../infra/db/instance-lock.ts';

/**
 * The rotation itself, loaded only by `gatehouse secret rotate` (Kysely, the drivers). On a SQLite
 * file it holds the instance lock throughout: a server running on the file refuses it, and none
 * starts meanwhile. The new secret of a file is written beside it first (`<database>.secret.new`)
 * and put in its place once the transaction committed: cut off in between, the next start finds
 * it and finishes (installation-secret.ts).
 */
export async function rotateSecret(
  config: Config,
): Promise<{ secret_source: string; resealed: Resealed; next_step: string }> {
  const { database } = config;
  const sqlitePath = database.kind === 'sqlite' ? database.path : undefined;
  const lock: InstanceLock | undefined = sqlitePath
    ? claimSqliteInstance(sqlitePath, 0, 'secret rotate')
    : undefined;
  try {
    const handle = await openDatabase(database);
    try {
      if (!(await holdsSealedValues(handle.db))) {
        throw new ConfigError(
          'Nothing is encrypted with the installation secret yet (no server has started on this database): set the secret you want (GATEHOUSE_SECRET) before the first start instead',
        );
      }
      const { secret: current, source } = await loadInstallationSecret(handle.db, config.secret, sqlitePath);
      const next = config.newSecret ?? (source === 'environment' ? undefined : generated());
      if (next === undefined) {
        throw new ConfigError(
          'GATEHOUSE_SECRET is set, so the new secret must be given: set GATEHOUSE_NEW_SECRET to 32+ random characters (openssl rand -base64 32), then run this again; nothing was changed',
        );
      }
      if (next.length < MIN_SECRET_LENGTH) {
        throw new ConfigError(
          `GATEHOUSE_NEW_SECRET is too short (${next.length} characters): give at least ${MIN_SECRET_LENGTH} random characters, e.g. from \`openssl rand -base64 32\`; nothing was changed`,
        );
      }
      if (next === current) {
        throw new ConfigError(
          'GATEHOUSE_NEW_SECRET is the current installation secret: give a new one; nothing was changed',
        );
      }
      // The SQLite database whose secret file (not GATEHOUSE_SECRET, not the settings) is rotated.
      const fileDatabase = source === 'file' ? sqlitePath : undefined;
      if (fileDatabase) writePendingSecret(fileDatabase, next);
      let resealed: Resealed;
      try {
        resealed = await resealInstallation(handle.db, current, next, { inDatabase: source === 'database' });
      } catch (error) {
        if (fileDatabase) rmSync(pendingSecretFileOf(fileDatabase), { force: true });
        throw error;
      }
      if (fileDatabase) commitRotatedSecret(fileDatabase, next);
      return { secret_source: source, resealed, next_step: nextStep(source, sqlitePath) };
    } finally {
      await handle.close();
    }
  } finally {
    lock?.release();
  }
}

function generated(): string {
  return randomBytes(32).toString('base64url');
}

function nextStep(source: string, sqlitePath: string | undefined): string {
  if (source === 'environment') {
    return (
      'Done. Set GATEHOUSE_SECRET to the value of GATEHOUSE_NEW_SECRET for every Gatehouse process (then remove ' +
      'GATEHOUSE_NEW_SECRET) before starting them: with the old GATEHOUSE_SECRET they refuse to start.'
    );
  }
  if (source === 'file') {
    return `Done. The new secret is in ${secretFileOf(sqlitePath as string)}; start the server. Back up the database again: older backups open only with the old secret.`;
  }
  return 'Done. The new secret is kept in the database (GATEHOUSE_SECRET is not set): a copy of the database holds it. Start the servers; better, move it to GATEHOUSE_SECRET (docs/DEPLOY.md).';
}
