import {
  closeSync,
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
 * Reads, changes and writes the file under `<file>.lock` (created with O_EXCL), so that servers
 * starting or stopping at the same moment in other processes do not drop each other's entries.
 * A lock whose holder is gone, or older than STALE_LOCK_MS, is taken over.
 */
function update(file: string, change: (servers: Running[]) => Running[] | undefined): void {
  mkdirSync(dirname(file), { recursive: true, mode: 0o700 });
  const lock = `${file}.lock`;
  for (;;) {
    try {
      const fd = openSync(lock, 'wx', 0o600);
      writeFileSync(fd, String(process.pid));
      closeSync(fd);
      break;
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code !== 'EEXIST') throw error;
      if (stale(lock)) rmSync(lock, { force: true });
      else Atomics.wait(pause, 0, 0, 5);
    }
  }
  try {
    const servers = change(listed(file));
    if (servers) write(file, servers);
  } finally {
    rmSync(lock, { force: true });
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
