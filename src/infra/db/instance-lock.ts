import { mkdirSync, readFileSync, realpathSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { basename, dirname, join, resolve } from 'node:path';
import { type FileLock, lockFile, processAlive } from '../file-lock.ts';

export type InstanceLock = FileLock;

/** What holds a SQLite file's instance lock: the server, or a command that must have it alone. */
export type HolderKind = 'server' | 'restore' | 'secret rotate';

/** Who holds the lock, as it wrote beside it (`<database>.lock.holder`) once it had it. */
export interface LockHolder {
  kind: HolderKind;
  pid: number;
  /** When it took the lock (ISO 8601). */
  since: string;
}

const NAMES: Record<HolderKind, string> = {
  server: 'a Gatehouse server',
  restore: 'a `gatehouse restore`',
  'secret rotate': 'a `gatehouse secret rotate`',
};

/** The holder in words: `a \`gatehouse restore\` (pid 4242, since 2026-…Z)`; one whose note is gone, unnamed. */
export function describeHolder(holder: LockHolder | undefined): string {
  return holder
    ? `${NAMES[holder.kind]} (pid ${holder.pid}, since ${holder.since})`
    : 'another Gatehouse process (a server, a `gatehouse restore` or a `gatehouse secret rotate`)';
}

/** Another process holds the SQLite file (its message is what the operator reads). */
export class InstanceLockedError extends Error {
  constructor(
    readonly path: string,
    /** Who, when it said so (undefined: a process of an earlier release, or a folder it could not write its note to). */
    readonly holder?: LockHolder,
  ) {
    super(
      holder === undefined || holder.kind === 'server'
        ? `Another Gatehouse server is already running on ${path}${holder ? ` (pid ${holder.pid}, since ${holder.since})` : ''}. Run one server per SQLite file: ` +
            'use --workers N for more processes on this machine, or PostgreSQL and Redis for several servers.'
        : `${capitalized(describeHolder(holder))} is under way on ${path}: let it finish, then start the server.`,
    );
    this.name = 'InstanceLockedError';
  }
}

function capitalized(text: string): string {
  return text.charAt(0).toUpperCase() + text.slice(1);
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

/** The holder's note, when it names a process still alive (a note left by one that died is stale). */
function readHolder(note: string): LockHolder | undefined {
  try {
    const holder = JSON.parse(readFileSync(note, 'utf8')) as Partial<LockHolder>;
    if (
      typeof holder.pid === 'number' &&
      typeof holder.since === 'string' &&
      typeof holder.kind === 'string' &&
      holder.kind in NAMES &&
      processAlive(holder.pid)
    )
      return holder as LockHolder;
  } catch {
    // missing or unreadable: the holder goes unnamed
  }
  return undefined;
}

/** Says who holds the lock, for whoever is refused it; best effort: the lock holds without it. */
function writeHolder(note: string, kind: HolderKind): void {
  const temporary = `${note}.${process.pid}`;
  try {
    const holder: LockHolder = { kind, pid: process.pid, since: new Date().toISOString() };
    writeFileSync(temporary, JSON.stringify(holder), { mode: 0o600 });
    renameSync(temporary, note);
  } catch {
    rmSync(temporary, { force: true });
  }
}

/**
 * One server per SQLite file: an exclusive lock on `<database>.lock`, held until `release` or
 * until the process ends (infra/file-lock.ts: the operating system drops the lock of a process
 * that died, even by SIGKILL). Waits up to `waitMs` for a previous process that is still exiting
 * (a restart), then throws InstanceLockedError, naming the holder (`kind`, pid, since when) from
 * the note it left beside the lock (`<database>.lock.holder`): a restore refused by another
 * restore says so, not that a server runs.
 *
 * Why it matters: without Redis, rate-limit counters and caches live in the process, so a
 * second server on the same file would double every limit; and the sole server may trust its
 * own record of what it wrote (records/record-reader.ts) instead of asking SQLite on every read.
 */
export function claimSqliteInstance(path: string, waitMs = 5_000, kind: HolderKind = 'server'): InstanceLock {
  mkdirSync(dirname(path), { recursive: true, mode: 0o700 });
  // The file itself, however it is named: a symlink or another spelling of the path takes the
  // same lock (the database may not exist yet: then its folder, resolved, and its name).
  const file = `${resolvedPath(path)}.lock`;
  const note = `${file}.holder`;
  const lock = lockFile(file, waitMs);
  if (!lock) throw new InstanceLockedError(path, readHolder(note));
  writeHolder(note, kind);
  let held = true;
  return {
    release() {
      if (!held) return;
      held = false;
      // Removed while the lock is still held, so no next holder's note can be taken for its own.
      rmSync(note, { force: true });
      lock.release();
    },
  };
}
