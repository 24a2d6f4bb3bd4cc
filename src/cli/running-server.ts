import {
  closeSync,
  fstatSync,
  mkdirSync,
  openSync,
  readFileSync,
  renameSync,
  rmSync,
  statSync,
  writeFileSync,
} from 'node:fs';
import { dirname, join } from 'node:path';
import type { Config } from '../config.ts';

/**
 * Where a server started from this directory says it listens (`<data>/server.json`, beside the
 * CLI's credentials), so the CLI finds it on whatever PORT it was given: `PORT=4517 npm start` in
 * one terminal, `npx gatehouse endpoints list` in another.
 */
function fileOf(config: Config): string {
  return join(dirname(config.cliCredentialsPath), 'server.json');
}

interface Running {
  url: string;
  pid: number;
}

/**
 * The file holds the newest server (`url`, `pid`: what earlier releases wrote and read) and every
 * server started from this directory that still runs (`servers`), so that one stopping leaves the
 * others findable.
 */
interface ServerFile extends Running {
  servers?: Running[];
}

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (error) {
    return (error as NodeJS.ErrnoException).code === 'EPERM';
  }
}

function isRunning(value: unknown): value is Running {
  const entry = value as Partial<Running> | null;
  return typeof entry?.url === 'string' && typeof entry.pid === 'number';
}

/** The servers the file lists, oldest first (none if it is missing or unreadable). */
function listed(file: string): Running[] {
  try {
    const record = JSON.parse(readFileSync(file, 'utf8')) as ServerFile;
    if (Array.isArray(record.servers)) return record.servers.filter(isRunning);
    return isRunning(record) ? [{ url: record.url, pid: record.pid }] : [];
  } catch {
    return [];
  }
}

function write(file: string, servers: Running[]): void {
  const newest = servers.at(-1);
  if (!newest) {
    rmSync(file, { force: true });
    return;
  }
  const temporary = `${file}.${process.pid}`;
  writeFileSync(temporary, JSON.stringify({ ...newest, servers } satisfies ServerFile), { mode: 0o600 });
  renameSync(temporary, file);
}

/** A lock older than this is left over by a process that stopped while holding it. */
const STALE_LOCK_MS = 10_000;
const pause = new Int32Array(new SharedArrayBuffer(4));

/** Whether the lock at `lock` is left over: its holder is gone, or it is older than STALE_LOCK_MS. */
function stale(lock: string): boolean {
  try {
    const holder = Number(readFileSync(lock, 'utf8'));
    if (Number.isInteger(holder) && holder > 0 && !alive(holder)) return true;
    return Date.now() - statSync(lock).mtimeMs > STALE_LOCK_MS;
  } catch {
    return false;
  }
}

/**
 * Creates the lock file `path` (O_EXCL) holding this process's pid; its inode, or undefined when
 * the file exists already.
 */
function create(path: string): number | undefined {
  let fd: number;
  try {
    fd = openSync(path, 'wx', 0o600);
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'EEXIST') return undefined;
    throw error;
  }
  try {
    writeFileSync(fd, String(process.pid));
    return fstatSync(fd).ino;
  } catch (error) {
    rmSync(path, { force: true });
    throw error;
  } finally {
    closeSync(fd);
  }
}

/** Removes the lock file `path` if it is still the one this process created (inode `ino`). */
function release(path: string, ino: number): void {
  try {
    if (statSync(path).ino === ino && readFileSync(path, 'utf8') === String(process.pid)) rmSync(path);
  } catch {
    // Gone already: taken over as stale meanwhile.
  }
}

/** How many guards of guards removeStale goes through before it removes a left-over one as is. */
const MAX_GUARD_DEPTH = 3;

/**
 * Removes the lock file `path` if it is stale; true if it is gone. Processes that find it stale
 * take turns, each holding `<path>.takeover` (created with O_EXCL) while it looks again and
 * removes it, so that two of them never both remove it and create their own, nor one remove the
 * lock another has just created in its place: looked at under the guard, that one is fresh and
 * stays. A guard left by a process that died holding it is itself stale and removed the same way.
 */
function removeStale(path: string, depth = 0): boolean {
  const guard = `${path}.takeover`;
  const ino = create(guard);
  if (ino === undefined) {
    // Another process is taking it over (a matter of microseconds), or died doing so.
    if (stale(guard)) {
      if (depth < MAX_GUARD_DEPTH) removeStale(guard, depth + 1);
      else rmSync(guard, { force: true });
    }
    return false;
  }
  try {
    if (!stale(path)) return false;
    rmSync(path, { force: true });
    return true;
  } finally {
    release(guard, ino);
  }
}

/**
 * Reads, changes and writes the file under `<file>.lock` (created with O_EXCL), so that servers
 * starting or stopping at the same moment in other processes do not drop each other's entries.
 * A lock whose holder is gone, or older than STALE_LOCK_MS, is taken over (removeStale).
 */
function update(file: string, change: (servers: Running[]) => Running[] | undefined): void {
  mkdirSync(dirname(file), { recursive: true, mode: 0o700 });
  const lock = `${file}.lock`;
  let held: number | undefined;
  for (;;) {
    held = create(lock);
    if (held !== undefined) break;
    if (!(stale(lock) && removeStale(lock))) Atomics.wait(pause, 0, 0, 5);
  }
  try {
    const servers = change(listed(file));
    if (servers) write(file, servers);
  } finally {
    release(lock, held);
  }
}

/** Records the server's URL under `pid` (the process that owns the server: a cluster's primary). */
export function announceServer(config: Config, url: string, pid: number): void {
  try {
    update(fileOf(config), (servers) => [
      ...servers.filter((entry) => entry.pid !== pid && alive(entry.pid)),
      { url, pid },
    ]);
  } catch {
    // Only a convenience for the CLI: a read-only data folder does not stop the server.
  }
}

/** Removes this server from the record (and the file with the last server listed in it). */
export function withdrawServer(config: Config, pid: number): void {
  const file = fileOf(config);
  if (!listed(file).some((entry) => entry.pid === pid)) return;
  try {
    update(file, (servers) =>
      servers.some((entry) => entry.pid === pid)
        ? servers.filter((entry) => entry.pid !== pid && alive(entry.pid))
        : undefined,
    );
  } catch {
    // As above: the CLI checks that a listed server still runs.
  }
}

/** The URL of the newest server started from this directory that is still running, if any. */
export function runningServer(config: Config): Running | undefined {
  const servers = listed(fileOf(config)).filter((entry) => alive(entry.pid));
  const newest = servers.at(-1);
  return newest && { url: newest.url, pid: newest.pid };
}
