import { mkdirSync, realpathSync } from 'node:fs';
import { basename, dirname, join, resolve } from 'node:path';
import { type FileLock, lockFile } from '../file-lock.ts';

export type InstanceLock = FileLock;

/** Another server process holds the SQLite file (its message is what the operator reads). */
export class InstanceLockedError extends Error {
  constructor(path: string) {
    super(
      `Another Gatehouse server is already running on ${path}. Run one server per SQLite file: ` +
        'use --workers N for more processes on this machine, or PostgreSQL and Redis for several servers.',
    );
    this.name = 'InstanceLockedError';
  }
}

/**
 * The database file's real path (it may not exist yet: then its folder's, and its name; nor its
 * folder: then the path as given, made absolute).
 */
export function resolvedPath(path: string): string {
  try {
    return realpathSync(path);
  } catch {
    try {
      return join(realpathSync(dirname(path)), basename(path));
    } catch {
      return resolve(path);
    }
  }
}

/**
 * One server per SQLite file: an exclusive lock on `<database>.lock`, held until `release` or
 * until the process ends (infra/file-lock.ts: the operating system drops the lock of a process
 * that died, even by SIGKILL). Waits up to `waitMs` for a previous process that is still exiting
 * (a restart), then throws InstanceLockedError.
 *
 * Why it matters: without Redis, rate-limit counters and caches live in the process, so a
 * second server on the same file would double every limit; and the sole server may trust its
 * own record of what it wrote (records/record-reader.ts) instead of asking SQLite on every read.
 */
export function claimSqliteInstance(path: string, waitMs = 5_000): InstanceLock {
  mkdirSync(dirname(path), { recursive: true, mode: 0o700 });
  // The file itself, however it is named: a symlink or another spelling of the path takes the
  // same lock (the database may not exist yet: then its folder, resolved, and its name).
  const lock = lockFile(`${resolvedPath(path)}.lock`, waitMs);
  if (!lock) throw new InstanceLockedError(path);
  return lock;
}
