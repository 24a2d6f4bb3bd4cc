import { mkdirSync, readFileSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import type { Config } from '../config.ts';
import { lockFile, processAlive } from '../infra/file-lock.ts';

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

/**
 * How long a change waits for another process that holds the lock (a change takes microseconds:
 * only a stopped or suspended holder, or a very slow disk, makes it wait at all).
 */
const SERVER_FILE_LOCK_WAIT_MS = 5_000;

/**
 * Reads, changes and writes the file under an exclusive lock on `<file>.lock.sqlite`
 * (infra/file-lock.ts), so that servers starting or stopping at the same moment in other
 * processes do not drop each other's entries. The lock goes with a holder that ends, however it
 * ends, and stays with one that lives, however long it holds it: a holder is never cut off
 * midway, so no entry it writes is lost (an earlier lock, a file created with O_EXCL, was taken
 * over once 10 s old, from a holder alive but stopped too). One that cannot have the lock within
 * `waitMs` throws, and changes nothing.
 */
function update(file: string, change: (servers: Running[]) => Running[] | undefined, waitMs: number): void {
  mkdirSync(dirname(file), { recursive: true, mode: 0o700 });
  const lock = lockFile(`${file}.lock.sqlite`, waitMs);
  if (!lock) throw new Error(`${file} stayed locked by another process for ${waitMs} ms`);
  try {
    const servers = change(listed(file));
    if (servers) write(file, servers);
  } finally {
    lock.release();
  }
}

/** Records the server's URL under `pid` (the process that owns the server: a cluster's primary). */
export function announceServer(
  config: Config,
  url: string,
  pid: number,
  waitMs = SERVER_FILE_LOCK_WAIT_MS,
): void {
  try {
    update(
      fileOf(config),
      (servers) => [...servers.filter((entry) => entry.pid !== pid && processAlive(entry.pid)), { url, pid }],
      waitMs,
    );
  } catch {
    // Only a convenience for the CLI: a read-only data folder does not stop the server.
  }
}

/** Removes this server from the record (and the file with the last server listed in it). */
export function withdrawServer(config: Config, pid: number, waitMs = SERVER_FILE_LOCK_WAIT_MS): void {
  const file = fileOf(config);
  if (!listed(file).some((entry) => entry.pid === pid)) return;
  try {
    update(
      file,
      (servers) =>
        servers.some((entry) => entry.pid === pid)
          ? servers.filter((entry) => entry.pid !== pid && processAlive(entry.pid))
          : undefined,
      waitMs,
    );
  } catch {
    // As above: the CLI checks that a listed server still runs.
  }
}

/** The URL of the newest server started from this directory that is still running, if any. */
export function runningServer(config: Config): Running | undefined {
  const servers = listed(fileOf(config)).filter((entry) => processAlive(entry.pid));
  const newest = servers.at(-1);
  return newest && { url: newest.url, pid: newest.pid };
}
