import assert from 'node:assert/strict';
import { type ChildProcess, spawn } from 'node:child_process';
import { once } from 'node:events';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, test } from 'node:test';
import BetterSqlite3 from 'better-sqlite3';
import { Kysely } from 'kysely';
import { ConfigError } from '../src/config.ts';
import { createDialect } from '../src/infra/db/dialect.ts';
import { migrateToLatest } from '../src/infra/db/migrations.ts';

/**
 * Processes starting at once on one SQLite file (`start` and a CLI command, `serve` and
 * `worker`, two `init`s) each bring the schema up to date: real processes, each running the
 * migrations as they do at start, none applying one twice or half, one killed midway included.
 */

interface Migrator {
  child: ChildProcess;
  /** Everything it printed on stdout and stderr so far. */
  output: () => string;
  /** Resolves once it printed `line`. */
  printed: (line: string) => Promise<void>;
  exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
}

function migrator(path: string, stopAfter?: string, how?: 'kill' | 'hold'): Migrator {
  const args = ['--import', 'tsx', 'test/helpers/migrate-process.ts', path];
  if (stopAfter) args.push(stopAfter, how ?? 'kill');
  const child = spawn(process.execPath, args, { stdio: ['pipe', 'pipe', 'pipe'] });
  let text = '';
  const waiting: Array<{ line: string; resolve: () => void }> = [];
  const onData = (chunk: Buffer) => {
    text += chunk.toString();
    for (const w of waiting) if (text.includes(`${w.line}\n`)) w.resolve();
  };
  child.stdout?.on('data', onData);
  child.stderr?.on('data', onData);
  const exited = once(child, 'exit').then(([code, signal]) => ({
    code: code as number | null,
    signal: signal as NodeJS.Signals | null,
  }));
  // A process that never ends would hold the test up: killed after a minute (the test then fails).
  const timer = setTimeout(() => child.kill('SIGKILL'), 60_000);
  void exited.then(() => clearTimeout(timer));
  return {
    child,
    exited,
    output: () => text,
    printed: (line) =>
      new Promise<void>((resolve, reject) => {
        if (text.includes(`${line}\n`)) return resolve();
        waiting.push({ line, resolve });
        void exited.then(() =>
          text.includes(`${line}\n`) ? resolve() : reject(new Error(`exited without ${line}: ${text}`)),
        );
      }),
  };
}

function go(one: Migrator): void {
  one.child.stdin?.write('go\n');
}

/** A process started on its own and told to go at once. */
async function started(path: string, stopAfter?: string, how?: 'kill' | 'hold'): Promise<Migrator> {
  const one = migrator(path, stopAfter, how);
  await one.printed('ready');
  go(one);
  return one;
}

/** A process stopped midway through the migrations: right after the first one's second table. */
async function stoppedMidway(path: string, how: 'kill' | 'hold'): Promise<Migrator> {
  const one = await started(path, '^create table "owners"', how);
  await one.printed('stopped');
  return one;
}

/** What the file holds: the migrations recorded, and every table and index. */
function schemaOf(path: string): { migrations: string[]; objects: string[] } {
  const db = new BetterSqlite3(path, { readonly: true });
  try {
    const objects = db
      .prepare(
        "SELECT type || ' ' || name FROM sqlite_master WHERE name NOT LIKE 'sqlite_%' ORDER BY type, name",
      )
      .pluck()
      .all() as string[];
    const migrations = objects.includes('table kysely_migration')
      ? (db.prepare('SELECT name FROM kysely_migration ORDER BY name').pluck().all() as string[])
      : [];
    return { migrations, objects };
  } finally {
    db.close();
  }
}

describe('migrations of one SQLite file by several processes at once', () => {
  const dir = mkdtempSync(join(tmpdir(), 'gatehouse-migrate-'));
  after(() => rmSync(dir, { recursive: true, force: true }));
  let files = 0;
  const newFile = () => join(dir, `gatehouse-${++files}.db`);

  /** The schema one process alone makes of a new file: what every other run must end with. */
  let expected: { migrations: string[]; objects: string[] };
  test('one process alone (the schema to compare with)', async () => {
    const path = newFile();
    const alone = await started(path);
    assert.deepEqual(await alone.exited, { code: 0, signal: null }, alone.output());
    expected = schemaOf(path);
    assert.ok(expected.migrations.length > 10, expected.migrations.join());
  });

  test('processes started at once on a new file each end up with the whole schema, migrated once', async () => {
    for (let round = 0; round < 4; round++) {
      const path = newFile();
      const processes = Array.from({ length: 4 }, () => migrator(path));
      // All loaded, then told at once: they reach the migrations as close together as can be.
      await Promise.all(processes.map((p) => p.printed('ready')));
      for (const p of processes) go(p);
      for (const p of processes) {
        assert.deepEqual(await p.exited, { code: 0, signal: null }, `round ${round}: ${p.output()}`);
      }
      assert.deepEqual(schemaOf(path), expected, `round ${round}`);
    }
  });

  test('a process killed midway leaves no migration half applied: the next start migrates the file', async () => {
    const path = newFile();
    const killed = await stoppedMidway(path, 'kill');
    assert.deepEqual(await killed.exited, { code: null, signal: 'SIGKILL' }, killed.output());

    const next = await started(path);
    assert.deepEqual(await next.exited, { code: 0, signal: null }, next.output());
    assert.deepEqual(schemaOf(path), expected);
  });

  test('a process waiting for one that is killed midway then migrates the file itself', async () => {
    const path = newFile();
    const first = await stoppedMidway(path, 'hold');
    const second = await started(path);
    // Whether it is waiting yet or not when the first dies, it must end with the whole schema.
    await new Promise((resolve) => setTimeout(resolve, 300));
    first.child.kill('SIGKILL');
    await first.exited;
    assert.deepEqual(await second.exited, { code: 0, signal: null }, second.output());
    assert.deepEqual(schemaOf(path), expected);
  });

  test('a process that waits longer than it may for another holding the lock says so, and changes nothing', async () => {
    const path = newFile();
    const holder = await stoppedMidway(path, 'hold');
    const dialect = createDialect({ kind: 'sqlite', path });
    const db = new Kysely<unknown>({ dialect: dialect.kysely });
    try {
      // No wait beyond SQLite's own busy_timeout (5 s).
      await assert.rejects(
        migrateToLatest(db, 'sqlite', 0),
        (error: unknown) =>
          error instanceof ConfigError &&
          error.code === 'database_unreachable' &&
          /stayed locked by another process/.test(error.message),
      );
    } finally {
      await db.destroy();
      holder.child.kill('SIGKILL');
      await holder.exited;
    }
    assert.deepEqual(schemaOf(path), { migrations: [], objects: [] });
  });
});
