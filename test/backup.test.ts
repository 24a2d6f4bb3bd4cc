import assert from 'node:assert/strict';
import type { ChildProcess } from 'node:child_process';
import {
  copyFileSync,
  existsSync,
  lstatSync,
  mkdirSync,
  readdirSync,
  readFileSync,
  realpathSync,
  rmSync,
  statSync,
  symlinkSync,
  writeFileSync,
} from 'node:fs';
import { dirname, join } from 'node:path';
import { after, describe, test } from 'node:test';
import BetterSqlite3 from 'better-sqlite3';
import { freePort } from '../bench/lib.ts';
import { createServices } from '../src/app.ts';
import { loadConfig } from '../src/config.ts';
import { createTestDatabase, type TestDatabase } from './helpers/database.ts';
import { runGatehouse, runInTerminal, spawnGatehouse, waitHealthy } from './helpers/process.ts';

const cli = runGatehouse;

function idsIn(path: string): Set<string> {
  const db = new BetterSqlite3(path, { readonly: true });
  try {
    return new Set((db.prepare('select id from records').all() as Array<{ id: string }>).map((r) => r.id));
  } finally {
    db.close();
  }
}

describe('gatehouse backup and restore (SQLite)', () => {
  let database: TestDatabase;
  let path: string;
  let key: string;
  let server: ChildProcess | undefined;
  let port = 0;
  const env = () => ({ DATABASE_URL: database.url, LOG_LEVEL: 'warn', PORT: String(port) });
  const backup = () => join(dirname(path), 'backups', 'first.db');
  const before: string[] = [];
  const later: string[] = [];

  const create = async (n: number) => {
    const res = await fetch(`http://127.0.0.1:${port}/api/v1/data/orders`, {
      method: 'POST',
      headers: { authorization: `Bearer ${key}`, 'content-type': 'application/json' },
      body: JSON.stringify({ n }),
    });
    assert.equal(res.status, 202);
    return ((await res.json()) as { id: string }).id;
  };
  const status = async (id: string) =>
    (
      await fetch(`http://127.0.0.1:${port}/api/v1/data/orders/${id}`, {
        headers: { authorization: `Bearer ${key}` },
      })
    ).status;
  const startServer = async () => {
    port = await freePort();
    server = spawnGatehouse(['serve'], env());
    await waitHealthy(port);
  };
  const stopServer = async () => {
    const child = server as ChildProcess;
    const exited = new Promise((resolve) => child.once('exit', resolve));
    child.kill('SIGTERM');
    await exited;
    server = undefined;
  };

  after(async () => {
    server?.kill('SIGKILL');
    await database?.drop();
  });

  test('a backup taken while the server writes holds every acknowledged write before it, readable by its owner only', async () => {
    database = await createTestDatabase('sqlite');
    path = database.config.kind === 'sqlite' ? database.config.path : '';
    const setup = await createServices(loadConfig({ DATABASE_URL: database.url, LOG_LEVEL: 'silent' }));
    await setup.endpoints.create({ slug: 'orders', name: 'Orders', schema: { type: 'object' } });
    key = (await setup.keys.create({ name: 'k', environment: 'test' })).key;
    await setup.close();
    await startServer();
    for (let i = 0; i < 40; i++) before.push(await create(i));

    // Writes keep coming while the backup runs.
    let writing = true;
    const during: Promise<string[]> = (async () => {
      const ids: string[] = [];
      while (writing) ids.push(await create(-1));
      return ids;
    })();
    const result = await cli(['backup', backup(), '--json'], env());
    writing = false;
    later.push(...(await during));
    assert.equal(result.code, 0, result.stderr);
    const summary = JSON.parse(result.stdout).data;
    assert.equal(summary.file, backup());
    assert.equal(summary.bytes, statSync(backup()).size);
    assert.equal(statSync(backup()).mode & 0o777, 0o600);
    // Started by this release: the installation secret lives beside the database, not in the copy.
    assert.equal(summary.holds_installation_secret, false);

    const saved = idsIn(backup());
    assert.equal(summary.records, saved.size);
    for (const id of before) assert.ok(saved.has(id), `acknowledged before the backup: ${id}`);
    const check = new BetterSqlite3(backup(), { readonly: true });
    assert.equal(check.pragma('integrity_check', { simple: true }), 'ok');
    check.close();
    // The server never noticed.
    assert.equal(await status(before[0] as string), 200);
    later.push(await create(1000));
  });

  test('a backup never overwrites a file; PostgreSQL is pointed to pg_dump', async () => {
    const bytes = readFileSync(backup());
    const again = await cli(['backup', backup()], env());
    assert.equal(again.code, 1);
    assert.match(again.stderr, /already exists: choose a new file name/);
    assert.doesNotMatch(again.stderr, /\n\s+at /, 'no stack trace');
    assert.deepEqual(readFileSync(backup()), bytes);

    // Under a regular file: the reason, as a backup failure, and nothing left behind.
    const notDir = join(dirname(path), 'plain-file');
    writeFileSync(notDir, 'x');
    const underFile = await cli(['backup', join(notDir, 'b.db'), '--json'], env());
    assert.equal(underFile.code, 1);
    assert.equal(JSON.parse(underFile.stdout).code, 'backup_failed', underFile.stdout);
    assert.match(JSON.parse(underFile.stdout).error, /ENOTDIR|EEXIST|not a directory/);
    // A folder the backup makes is private too; the restore command it prints can be pasted.
    const nested = join(dirname(path), 'private backups', "it's.db");
    const spaced = await cli(['backup', nested], env());
    assert.equal(spaced.code, 0, spaced.stderr);
    assert.ok(spaced.stdout.includes(`gatehouse restore '${dirname(nested)}/it'\\''s.db'`), spaced.stdout);
    assert.equal(statSync(dirname(nested)).mode & 0o777, 0o700);
    assert.equal(statSync(nested).mode & 0o777, 0o600);

    const target = join(dirname(path), 'pg.db');
    const pg = await cli(['backup', target], { DATABASE_URL: 'postgres://postgres@127.0.0.1:5432/postgres' });
    assert.equal(pg.code, 1);
    assert.match(pg.stderr, /pg_dump/);
    assert.equal(existsSync(target), false);
  });

  test('restore refuses while a server runs on the file, and refuses a file that is not a Gatehouse backup', async () => {
    const running = await cli(['restore', backup()], env());
    assert.equal(running.code, 1);
    assert.match(running.stderr, /A Gatehouse server is running on .*: stop it, then restore/);
    assert.equal(await status(later.at(-1) as string), 200, 'nothing was replaced');

    await stopServer();
    const liveBytes = readFileSync(path);
    const junk = join(dirname(path), 'junk.db');
    writeFileSync(junk, 'not a database at all, just text\n'.repeat(200));
    const empty = join(dirname(path), 'empty.db');
    new BetterSqlite3(empty).close();
    for (const [file, message] of [
      [junk, /is not a SQLite database/],
      [empty, /is empty: not a backup/],
      [join(dirname(path), 'missing.db'), /No backup at/],
      [path, /is the database itself, not a backup/],
    ] as const) {
      const refused = await cli(['restore', file], env());
      assert.equal(refused.code, 1, file);
      assert.match(refused.stderr, message);
    }
    assert.deepEqual(readFileSync(path), liveBytes, 'the database is untouched');
    assert.equal(
      readdirSync(dirname(path)).some((f) => f.includes('before-restore')),
      false,
    );
  });

  test('a restore that cannot copy the backup (a full disk) or finds the database in use changes nothing', async () => {
    const liveBytes = readFileSync(path);
    // The copy beside the database fails (here: a folder is in its way, as ENOSPC would fail it).
    mkdirSync(`${path}.restoring`);
    const blocked = await cli(['restore', backup(), '--json', '--yes'], env());
    rmSync(`${path}.restoring`, { recursive: true });
    assert.equal(blocked.code, 1);
    const failure = JSON.parse(blocked.stdout);
    assert.equal(failure.code, 'restore_failed', blocked.stdout);
    assert.match(failure.error, /Could not copy the backup beside .*Nothing was changed/);
    assert.deepEqual(readFileSync(path), liveBytes, 'the database is still in place, unchanged');
    assert.equal(
      readdirSync(dirname(path)).some((f) => f.includes('before-restore')),
      false,
    );

    // Another process (a `gatehouse worker`) holds the database open in a read: refused in plain words.
    const reader = new BetterSqlite3(path, { readonly: true });
    reader.prepare('begin').run();
    reader.prepare('select count(*) from records').get();
    try {
      const busy = await cli(['restore', backup(), '--json', '--yes'], env());
      assert.equal(busy.code, 1);
      assert.equal(JSON.parse(busy.stdout).code, 'restore_failed', busy.stdout);
      assert.match(JSON.parse(busy.stdout).error, /in use by another process .*Nothing was changed/);
    } finally {
      reader.prepare('rollback').run();
      reader.close();
    }
    assert.ok(existsSync(path));
    assert.equal(existsSync(`${path}.restoring`), false);
    assert.equal(
      readdirSync(dirname(path)).some((f) => f.includes('before-restore')),
      false,
    );
  });

  test('a backup older than the database is not restored unconfirmed: how much older, and that newer data is lost', async () => {
    const liveBytes = readFileSync(path);
    const kept = () => readdirSync(dirname(path)).some((f) => f.includes('before-restore'));
    const OLDER =
      /is older than the database it replaces: its last change is from \S+Z, (\d+ \w+( \d+ \w+)?|less than a second) before the database's last \(\S+Z\)\. What was written since will be lost/;
    // Not in a terminal and no --yes: refused, nothing changed.
    const refused = await cli(['restore', backup(), '--json'], env());
    assert.equal(refused.code, 1);
    const envelope = JSON.parse(refused.stdout);
    assert.equal(envelope.code, 'cli_not_confirmed', refused.stdout);
    assert.match(envelope.error, OLDER);
    assert.match(envelope.error, /Nothing was done: add --yes/);
    // In a terminal: asked, and an answer other than yes changes nothing.
    const declined = await runInTerminal(['restore', backup()], env(), ['n'], /Go ahead\? \[y\/N\]/g);
    assert.equal(declined.code, 1, declined.screen);
    assert.match(declined.screen.replace(/\r?\n/g, ' '), OLDER);
    assert.match(declined.screen, /Not confirmed: nothing was done/);
    assert.deepEqual(readFileSync(path), liveBytes, 'the database is unchanged');
    assert.equal(existsSync(`${path}.restoring`), false);
    assert.equal(kept(), false);
  });

  test('restore puts the backup in place, keeps the replaced database, and a server starts on it', async () => {
    const restored = await cli(['restore', backup(), '--json', '--yes'], env());
    assert.equal(restored.code, 0, restored.stderr);
    // --yes answers the question, but the loss is still said (stderr: stdout is the result).
    assert.match(restored.stderr, /^Warning: .* is older than the database it replaces: /m);
    const summary = JSON.parse(restored.stdout).data;
    assert.match(summary.previous, /gatehouse\.db\.before-restore-/);
    assert.equal(existsSync(`${path}-wal`), false, 'no stale WAL beside the restored file');

    // The replaced database kept everything, its WAL folded in.
    const previous = idsIn(summary.previous);
    for (const id of [...before, ...later]) assert.ok(previous.has(id));

    await startServer();
    for (const id of before) assert.equal(await status(id), 200);
    assert.equal(await status(later.at(-1) as string), 404, 'written after the backup: gone');
    // The key (hashed in the backup) still opens the API, and writes go on.
    await create(7);
    await stopServer();
    // A backup as recent as the database asks nothing.
    const current = join(dirname(path), 'backups', 'current.db');
    assert.equal((await cli(['backup', current], env())).code, 0);
    const same = await cli(['restore', current, '--json'], env());
    assert.equal(same.code, 0, same.stdout);
    assert.equal(same.stderr, '');
  });

  test('restore through a symlinked database path replaces the file it points to, not the link', async () => {
    const volume = join(dirname(path), 'volume');
    mkdirSync(volume, { recursive: true });
    const real = join(volume, 'real.db');
    const link = join(dirname(path), 'linked.db');
    copyFileSync(path, real);
    symlinkSync(real, link);
    const restored = await cli(['restore', backup(), '--json', '--yes'], {
      ...env(),
      DATABASE_URL: `sqlite:${link}`,
    });
    assert.equal(restored.code, 0, restored.stderr);
    const summary = JSON.parse(restored.stdout).data;
    assert.equal(lstatSync(link).isSymbolicLink(), true, 'the link is still a link');
    assert.equal(realpathSync(link), real);
    assert.equal(dirname(summary.previous), volume, 'the replaced database is kept beside it');
    assert.deepEqual(idsIn(real), idsIn(backup()));
  });

  test('restore where no database was yet: previous is null in --json, "-" for people', async () => {
    const fresh = join(dirname(path), 'elsewhere', 'new.db');
    const restored = await cli(['restore', backup(), '--json'], {
      ...env(),
      DATABASE_URL: `sqlite:${fresh}`,
    });
    assert.equal(restored.code, 0, restored.stderr);
    const summary = JSON.parse(restored.stdout).data;
    assert.ok('previous' in summary, restored.stdout);
    assert.equal(summary.previous, null);
    assert.ok(existsSync(fresh));
  });

  test('a backup that dates no change at all (taken before anything was made) is older than a database with data: asked first', async () => {
    const blank = join(dirname(path), 'blank', 'g.db');
    await (
      await createServices(loadConfig({ DATABASE_URL: `sqlite:${blank}`, LOG_LEVEL: 'silent' }))
    ).close();
    const early = join(dirname(path), 'backups', 'before-anything.db');
    assert.equal((await cli(['backup', early], { ...env(), DATABASE_URL: `sqlite:${blank}` })).code, 0);
    const liveBytes = readFileSync(path);
    const refused = await cli(['restore', early, '--json'], env());
    assert.equal(refused.code, 1, refused.stdout);
    const envelope = JSON.parse(refused.stdout);
    assert.equal(envelope.code, 'cli_not_confirmed', refused.stdout);
    assert.match(
      envelope.error,
      /is older than the database it replaces: it records no change at all .*the database's last is from \S+Z\. What was written since will be lost/,
    );
    assert.deepEqual(readFileSync(path), liveBytes, 'the database is unchanged');
  });
  test("a restore into a folder it cannot write (read-only, another user's) says so, naming the database; nothing is made", async () => {
    const target = join(dirname(path), 'unwritable', 'g.db');
    // The lock beside the database cannot be opened, as on a read-only file system or EACCES.
    mkdirSync(`${target}.lock`, { recursive: true });
    const refused = await cli(['restore', backup(), '--json'], {
      ...env(),
      DATABASE_URL: `sqlite:${target}`,
    });
    assert.equal(refused.code, 1, refused.stdout);
    const envelope = JSON.parse(refused.stdout);
    assert.equal(envelope.code, 'restore_failed', refused.stdout);
    assert.ok(envelope.error.includes(`Could not lock ${target} for the restore`), envelope.error);
    assert.match(envelope.error, /Nothing was changed/);
    assert.equal(existsSync(target), false);
  });
});
