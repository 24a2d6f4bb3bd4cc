import BetterSqlite3 from 'better-sqlite3';

export interface FileLock {
  release(): void;
}

/**
 * An exclusive lock on the file `path` (created if missing), held until `release` or until the
 * process ends. It is SQLite's own file lock (`BEGIN EXCLUSIVE` on a database that is never
 * written): no new dependency, the same semantics on every platform SQLite runs on, and the
 * operating system drops it when its holder ends, even by SIGKILL. So there is no stale lock to
 * take over, and no pid or age to trust: a holder that lives keeps it however long it holds it
 * (stopped, suspended, on a slow disk), and one that died never blocks anybody. Waits up to
 * `waitMs` for another holder to let go; undefined if it still holds the lock by then.
 */
export function lockFile(path: string, waitMs: number): FileLock | undefined {
  const lock = new BetterSqlite3(path, { timeout: waitMs });
  try {
    // No journal file beside it: the lock connection never writes a page.
    lock.pragma('journal_mode = MEMORY');
    lock.exec('BEGIN EXCLUSIVE');
  } catch (error) {
    lock.close();
    if (error instanceof Error && 'code' in error && String(error.code).startsWith('SQLITE_BUSY')) {
      return undefined;
    }
    throw error;
  }
  let held = true;
  return {
    release() {
      if (!held) return;
      held = false;
      lock.close();
    },
  };
}

/** Whether a process runs under `pid` (one of another user's too: EPERM). */
export function processAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (error) {
    return (error as NodeJS.ErrnoException).code === 'EPERM';
  }
}
