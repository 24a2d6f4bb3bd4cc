import { mkdirSync, readFileSync, renameSync, rmSync, writeFileSync } from 'node:fs';
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
  mkdirSync(dirname(file), { recursive: true, mode: 0o700 });
  const temporary = `${file}.${process.pid}`;
  writeFileSync(temporary, JSON.stringify({ ...newest, servers } satisfies ServerFile), { mode: 0o600 });
  renameSync(temporary, file);
}

/** Records the server's URL under `pid` (the process that owns the server: a cluster's primary). */
export function announceServer(config: Config, url: string, pid: number): void {
  const file = fileOf(config);
  try {
    const others = listed(file).filter((entry) => entry.pid !== pid && alive(entry.pid));
    write(file, [...others, { url, pid }]);
  } catch {
    // Only a convenience for the CLI: a read-only data folder does not stop the server.
  }
}

/** Removes this server from the record (and the file with the last server listed in it). */
export function withdrawServer(config: Config, pid: number): void {
  const file = fileOf(config);
  const servers = listed(file);
  if (!servers.some((entry) => entry.pid === pid)) return;
  try {
    write(
      file,
      servers.filter((entry) => entry.pid !== pid && alive(entry.pid)),
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
