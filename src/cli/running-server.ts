import { existsSync, mkdirSync, readFileSync, renameSync, rmSync, writeFileSync } from 'node:fs';
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

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (error) {
    return (error as NodeJS.ErrnoException).code === 'EPERM';
  }
}

/** Records the server's URL under `pid` (the process that owns the server: a cluster's primary). */
export function announceServer(config: Config, url: string, pid: number): void {
  const file = fileOf(config);
  try {
    mkdirSync(dirname(file), { recursive: true, mode: 0o700 });
    const temporary = `${file}.${process.pid}`;
    writeFileSync(temporary, JSON.stringify({ url, pid } satisfies Running), { mode: 0o600 });
    renameSync(temporary, file);
  } catch {
    // Only a convenience for the CLI: a read-only data folder does not stop the server.
  }
}

/** Removes the record if it is still this server's. */
export function withdrawServer(config: Config, pid: number): void {
  const file = fileOf(config);
  if (runningServer(config, false)?.pid === pid) rmSync(file, { force: true });
}

/** The URL of a server started from this directory that is still running, if any. */
export function runningServer(config: Config, checkAlive = true): Running | undefined {
  const file = fileOf(config);
  if (!existsSync(file)) return undefined;
  try {
    const running = JSON.parse(readFileSync(file, 'utf8')) as Running;
    if (typeof running.url !== 'string' || typeof running.pid !== 'number') return undefined;
    return !checkAlive || alive(running.pid) ? running : undefined;
  } catch {
    return undefined;
  }
}
