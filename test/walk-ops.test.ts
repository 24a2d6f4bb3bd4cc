import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { closeSync, copyFileSync, mkdirSync, openSync, readdirSync, readFileSync, writeSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import BetterSqlite3 from 'better-sqlite3';
import { freePort } from '../bench/lib.ts';
import { createServices } from '../src/app.ts';
import { loadConfig } from '../src/config.ts';
import { createEncryptor } from '../src/infra/crypto/encryption.ts';
import { openDatabase } from '../src/infra/db/database.ts';
import { backupSqlite } from '../src/infra/db/sqlite-backup.ts';
import { createTestDatabase, type TestDatabase } from './helpers/database.ts';
import { runGatehouse } from './helpers/process.ts';

/** The operator's life over time on SQLite: restores, and starts on a disk or file gone bad. */
describe('operating a SQLite installation (walk)', () => {
  let database: TestDatabase;
  let folder: string;
  let path: string;
  const env = (file: string) => ({ DATABASE_URL: `sqlite:${file}`, LOG_LEVEL: 'warn', PORT: '0' });

  before(async () => {
    database = await createTestDatabase('sqlite');
    path = database.config.kind === 'sqlite' ? database.config.path : '';
    folder = join(path, '..');
    await (await openDatabase(database.config)).close();
  });
  after(async () => {
    await database.drop();
  });

  test("a later release's backup, or a folder, is refused by restore, saying so; the database stays in place", async () => {
    const newer = join(folder, 'newer.db');
    backupSqlite(path, newer);
    const db = new BetterSqlite3(newer);
    db.prepare('insert into kysely_migration (name, timestamp) values (?, ?)').run(
      '0099_future',
      new Date().toISOString(),
    );
    db.close();
    const bytes = readFileSync(path);

    const refused = await runGatehouse(['restore', newer, '--json'], env(path));
    assert.equal(refused.code, 1);
    assert.deepEqual(JSON.parse(refused.stdout), {
      success: false,
      error: `${newer} was made by a newer Gatehouse release (migration 0099_future, unknown to this one): restore it with that release, or restore a backup made by this one or an earlier one. Nothing was changed`,
      code: 'restore_failed',
      details: [],
    });
    assert.deepEqual(readFileSync(path), bytes, 'the database is unchanged');
    // A folder named where a backup file is meant (the backups folder itself).
    const folderGiven = await runGatehouse(['restore', folder], env(path));
    assert.equal(folderGiven.code, 1);
    assert.equal(
      folderGiven.stderr,
      `Error: ${folder} is a folder: give the backup file itself (restore_failed)\n`,
    );
    assert.deepEqual(readFileSync(path), bytes, 'the database is unchanged');
    assert.deepEqual(
      readdirSync(folder).filter((f) => f.includes('before-restore') || f.endsWith('.restoring')),
      [],
    );
  });

  test('serve on a damaged database file: one line saying to restore a backup, no stack trace', async () => {
    const damaged = join(folder, 'damaged.db');
    const whole = readFileSync(path);
    const fd = openSync(damaged, 'w', 0o600);
    writeSync(fd, whole.subarray(0, Math.min(whole.length - 4096, 20_000)));
    closeSync(fd);

    const run = await runGatehouse(['serve', '--json'], env(damaged), 60_000);
    assert.equal(run.code, 1);
    assert.doesNotMatch(run.stderr, /\n\s+at /, 'no stack trace');
    assert.deepEqual(JSON.parse(run.stdout), {
      success: false,
      error: `The SQLite database ${damaged} is damaged (database disk image is malformed, SQLITE_CORRUPT): stop every Gatehouse process on it and put the latest backup back with gatehouse restore <backup file> (docs/DEPLOY.md, Backups).`,
      code: 'config_error',
      details: [],
    });
  });

  test('a rotated installation secret whose rotation left the JWT signing keys sealed with the old one: serve refuses in one line', async () => {
    const rotated = await createTestDatabase('sqlite');
    try {
      const [before, after] = ['a'.repeat(40), 'b'.repeat(40)];
      const file = rotated.config.kind === 'sqlite' ? rotated.config.path : '';
      await (
        await createServices(loadConfig({ DATABASE_URL: rotated.url, GATEHOUSE_SECRET: before }))
      ).close();
      const [old, next] = [createEncryptor(before), createEncryptor(after)];
      const db = new BetterSqlite3(file);
      db.prepare("insert into settings (key, value) values ('jwt_signing_keys', ?)").run(
        old.encrypt(
          JSON.stringify([{ kid: 'k1', secret: 's'.repeat(43), created_at: new Date().toISOString() }]),
        ),
      );
      // The rest re-encrypted with the new secret, as a rotation script does.
      const sealed = db
        .prepare("select value from settings where key = 'callback_signing_secret'")
        .pluck()
        .get();
      db.prepare("update settings set value = ? where key = 'callback_signing_secret'").run(
        next.encrypt(old.decrypt(sealed as string)),
      );
      db.close();

      const run = await runGatehouse(
        ['serve', '--json'],
        { ...env(file), GATEHOUSE_SECRET: after, PORT: String(await freePort()) },
        60_000,
      );
      assert.equal(run.code, 1, run.stderr);
      assert.deepEqual(JSON.parse(run.stdout), {
        success: false,
        error:
          'The JWT signing keys (the settings row jwt_signing_keys) do not open with this installation secret, though the callback signing secret does: the secret was changed without re-encrypting them. Re-encrypt them with it (docs/SECURITY.md, Rotating the installation secret), or start with the secret they were sealed with',
        code: 'config_error',
        details: [],
      });
    } finally {
      await rotated.drop();
    }
  });

  describe('on a full disk', () => {
    const disk = () => join(folder, 'disk');
    before(() => {
      mkdirSync(disk());
      execFileSync('mount', ['-t', 'tmpfs', '-o', 'size=1M', 'tmpfs', disk()]);
    });
    after(() => {
      execFileSync('umount', [disk()]);
    });

    test('serve, worker and init say the disk is full in one line; a new file too (its migration fails)', async () => {
      const existing = join(disk(), 'gatehouse.db');
      copyFileSync(path, existing);
      // Fill what is left of the disk.
      const filler = openSync(join(disk(), 'filler'), 'w');
      try {
        for (;;) writeSync(filler, Buffer.alloc(16 * 1024));
      } catch (error) {
        assert.equal((error as NodeJS.ErrnoException).code, 'ENOSPC');
      } finally {
        closeSync(filler);
      }
      const bytes = readFileSync(existing);
      // SQLite says SQLITE_FULL, or SQLITE_IOERR_SHMSIZE when the -shm beside the file cannot grow.
      const full = (file: string, said: string) => {
        const code = /\((SQLITE_FULL|SQLITE_IOERR_SHMSIZE)\)/.exec(said)?.[1] ?? 'SQLITE_FULL';
        return `Cannot start on the SQLite database ${file}: its disk is full (${code}). Free space there, then start again.`;
      };

      for (const command of ['serve', 'worker']) {
        const run = await runGatehouse([command, '--json'], env(existing), 60_000);
        assert.equal(run.code, 1, `${command}: ${run.stderr}`);
        assert.doesNotMatch(run.stderr, /\n\s+at /, `${command}: no stack trace`);
        assert.deepEqual(JSON.parse(run.stdout), {
          success: false,
          error: full(existing, run.stdout),
          code: 'config_error',
          details: [],
        });
      }
      const init = await runGatehouse(
        ['init', '--email', 'ops@example.com', '--password', 'a long passphrase here'],
        env(existing),
        60_000,
      );
      assert.equal(init.code, 1);
      assert.equal(init.stderr, `Error: ${full(existing, init.stderr)} (config_error)\n`);
      assert.deepEqual(readFileSync(existing), bytes, 'the database is unchanged');

      const fresh = join(disk(), 'fresh', 'gatehouse.db');
      const run = await runGatehouse(['serve'], env(fresh), 60_000);
      assert.equal(run.code, 1);
      assert.equal(run.stderr, `${full(fresh, run.stderr)}\n`);
    });
  });
});
