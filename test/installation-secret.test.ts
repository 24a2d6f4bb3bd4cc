import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { existsSync, mkdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { promisify } from 'node:util';
import BetterSqlite3 from 'better-sqlite3';
import type { Logger } from 'pino';
import { freePort } from '../bench/lib.ts';
import { createServices } from '../src/app.ts';
import { ConfigError, loadConfig } from '../src/config.ts';
import { createEncryptor, UnsealError } from '../src/infra/crypto/encryption.ts';
import { openDatabase } from '../src/infra/db/database.ts';
import { backupSqlite } from '../src/infra/db/sqlite-backup.ts';
import { secretFileOf } from '../src/infra/secret-file.ts';
import { warnAboutSecret } from '../src/server/serve.ts';
import { loadCallbackSecret } from '../src/webhooks/delivery-service.ts';
import { newSigningSecret } from '../src/webhooks/signing.ts';
import {
  createTestDatabase,
  databaseKinds,
  postgresAdminUrl,
  type TestDatabase,
} from './helpers/database.ts';
import { spawnServer } from './helpers/limits-cluster.ts';

const run = promisify(execFile);

for (const kind of databaseKinds) {
  describe(`a process with another GATEHOUSE_SECRET (${kind})`, () => {
    let database: TestDatabase;
    before(async () => {
      database = await createTestDatabase(kind);
      // The installation is set up with one secret: its callback signing secret is sealed with it.
      const services = await createServices(
        loadConfig({
          DATABASE_URL: database.url,
          GATEHOUSE_SECRET: 'the-installation-secret-0123456789',
          LOG_LEVEL: 'silent',
        }),
      );
      await services.close();
    });
    after(() => database.drop());

    /** Runs the CLI; resolves with its exit code and output whatever the code. */
    async function gatehouse(args: string[], env: Record<string, string | undefined>) {
      try {
        const { stdout, stderr } = await run(process.execPath, ['bin/gatehouse.js', ...args], {
          env: {
            ...process.env,
            DATABASE_URL: database.url,
            LOG_LEVEL: 'silent',
            GATEHOUSE_SECRET: undefined,
            ...env,
          },
          timeout: 30_000,
        });
        return { code: 0, stdout, stderr };
      } catch (error) {
        const e = error as { code: number; stdout: string; stderr: string };
        return { code: e.code, stdout: e.stdout, stderr: e.stderr };
      }
    }

    test('serve, worker and init refuse in one line naming GATEHOUSE_SECRET, without a stack trace', async () => {
      const port = String(await freePort());
      for (const [args, secret] of [
        [['serve'], 'a-different-secret-0123456789abcdef'],
        [['worker'], 'a-different-secret-0123456789abcdef'],
        [['serve'], undefined],
        [
          ['init', '--email', 'o@example.com', '--password', 'a long passphrase'],
          'another-one-0123456789abcdef-0123',
        ],
      ] as const) {
        const res = await gatehouse([...args], { PORT: port, GATEHOUSE_SECRET: secret });
        assert.equal(res.code, 1, `${args[0]}: ${res.stdout}${res.stderr}`);
        const said = res.stdout + res.stderr;
        assert.match(said, /GATEHOUSE_SECRET/, said);
        assert.match(said, /config_error/, said);
        assert.doesNotMatch(said, /\n\s+at /, `a stack trace: ${said}`);
      }
      // The right secret still starts.
      const ok = await gatehouse(
        ['init', '--email', 'o@example.com', '--password', 'a long passphrase', '--json'],
        {
          GATEHOUSE_SECRET: 'the-installation-secret-0123456789',
          GATEHOUSE_CLI_CREDENTIALS: '/nonexistent/credentials.json',
        },
      );
      assert.doesNotMatch(ok.stdout + ok.stderr, /config_error/, ok.stdout + ok.stderr);
    });
  });
}

describe('a GATEHOUSE_SECRET shorter than 32 characters', () => {
  test('a new installation refuses it; one already sealed with it starts, and warns', async () => {
    const database = await createTestDatabase('sqlite');
    try {
      const short = 'short-secret';
      await assert.rejects(
        createServices(
          loadConfig({ DATABASE_URL: database.url, GATEHOUSE_SECRET: short, LOG_LEVEL: 'silent' }),
        ),
        /GATEHOUSE_SECRET is too short \(12 characters\)/,
      );
      // An installation set up with it (by a release that took it) keeps working with it: its
      // secrets are sealed with it, and a new one would not open them.
      await sealWith(database.url, short);
      const started = await createServices(
        loadConfig({ DATABASE_URL: database.url, GATEHOUSE_SECRET: short, LOG_LEVEL: 'silent' }),
      );
      const warnings: string[] = [];
      warnAboutSecret(started, { warn: (message: string) => warnings.push(message) } as unknown as Logger);
      await started.close();
      assert.match(warnings.join('\n'), /GATEHOUSE_SECRET is short \(12 characters, fewer than 32\)/);
      // Commands that do not open the secret (backup) are not stopped by it either.
      const backup = await run(
        process.execPath,
        ['bin/gatehouse.js', 'backup', `${database.url.slice('sqlite:'.length)}.copy`],
        {
          env: { ...process.env, DATABASE_URL: database.url, GATEHOUSE_SECRET: short, LOG_LEVEL: 'silent' },
        },
      );
      assert.match(backup.stdout, /Restore it with/);
    } finally {
      await database.drop();
    }
  });
});

/** What an earlier release did with a short GATEHOUSE_SECRET: seal the installation's secrets with it. */
async function sealWith(url: string, secret: string): Promise<void> {
  const database = await openDatabase(loadConfig({ DATABASE_URL: url }).database);
  try {
    await loadCallbackSecret(database.db, createEncryptor(secret), newSigningSecret);
  } finally {
    await database.close();
  }
}

/** Every byte SQLite keeps for `path` (the file, its WAL), as text, to look for a secret in. */
function bytesOf(path: string): string {
  return [path, `${path}-wal`]
    .filter((file) => existsSync(file))
    .map((file) => readFileSync(file).toString('latin1'))
    .join('');
}

describe('the generated installation secret, on SQLite, lives beside the database and not in it', () => {
  let database: TestDatabase;
  let path: string;
  const open = () => createServices(loadConfig({ DATABASE_URL: database.url, LOG_LEVEL: 'silent' }));
  const stored = (db: BetterSqlite3.Database) =>
    db.prepare("select value from settings where key = 'secret'").pluck().get() as string | undefined;

  before(async () => {
    database = await createTestDatabase('sqlite');
    path = database.url.slice('sqlite:'.length);
  });
  after(() => database.drop());

  test('generated into <database>.secret (owner only); neither the database nor a backup holds it', async () => {
    const services = await open();
    const { secret, secretSource } = services;
    const callbackSecret = services.webhooks.callbackSecret;
    await services.close();
    assert.equal(secretSource, 'file');
    assert.equal(readFileSync(secretFileOf(path), 'utf8').trim(), secret);
    assert.equal(statSync(secretFileOf(path)).mode & 0o777, 0o600);
    assert.ok(!bytesOf(path).includes(secret), 'the secret is in the database file');
    const backup = join(dirname(path), 'backup.db');
    backupSqlite(path, backup);
    assert.ok(!readFileSync(backup).toString('latin1').includes(secret), 'the secret is in the backup');
    // The next start uses the same secret: what it sealed still opens.
    const again = await open();
    assert.equal(again.secret, secret);
    assert.equal(again.webhooks.callbackSecret, callbackSecret);
    await again.close();
  });

  test('an installation that kept it in the database has it moved out, and wiped from the file', async () => {
    const secret = readFileSync(secretFileOf(path), 'utf8').trim();
    // As an earlier release left it: the secret in settings, no file.
    rmSync(secretFileOf(path));
    const db = new BetterSqlite3(path);
    db.prepare("insert into settings (key, value) values ('secret', ?)").run(secret);
    db.close();
    // A backup taken before the first start says that it holds the secret.
    const early = backupSqlite(path, join(dirname(path), 'early.db'));
    assert.equal(early.holds_installation_secret, true);
    const services = await open();
    assert.equal(services.secret, secret);
    await services.close();
    assert.equal(readFileSync(secretFileOf(path), 'utf8').trim(), secret);
    const check = new BetterSqlite3(path);
    assert.equal(stored(check), undefined);
    check.close();
    assert.ok(!bytesOf(path).includes(secret), 'the moved secret is still in the database file');
  });

  test("a file that is not this database's secret, or a lost one, is a config error; nothing is overwritten", async () => {
    const secret = readFileSync(secretFileOf(path), 'utf8').trim();
    const other = 'another-installation-secret-0123456789abcdef';
    const db = new BetterSqlite3(path);
    db.prepare("insert into settings (key, value) values ('secret', ?)").run(secret);
    db.close();
    writeFileSync(secretFileOf(path), `${other}\n`);
    await assert.rejects(
      open(),
      // The database's own opens what it sealed: the file is the one in the way, and is named so.
      (e: Error) =>
        e instanceof ConfigError &&
        /holds its own installation secret .* Move \S+\.secret aside/.test(e.message),
    );
    // Without the row: the wrong file does not open the sealed secrets.
    const fix = new BetterSqlite3(path);
    fix.prepare("delete from settings where key = 'secret'").run();
    fix.close();
    await assert.rejects(
      open(),
      (e: Error) => e instanceof ConfigError && /\.secret is not the installation secret/.test(e.message),
    );
    // Lost: no file and no row. A new secret would not open anything, so none is made.
    rmSync(secretFileOf(path));
    await assert.rejects(
      open(),
      (e: Error) => e instanceof ConfigError && /installation secret is missing/.test(e.message),
    );
    assert.equal(existsSync(secretFileOf(path)), false);
    writeFileSync(secretFileOf(path), `${secret}\n`, { mode: 0o600 });
    const services = await open();
    assert.equal(services.secret, secret);
    await services.close();
  });

  test('a secret file that cannot be read or written is a config error naming it', async () => {
    const other = await createTestDatabase('sqlite');
    try {
      const otherPath = other.url.slice('sqlite:'.length);
      mkdirSync(secretFileOf(otherPath), { recursive: true });
      await assert.rejects(
        createServices(loadConfig({ DATABASE_URL: other.url, LOG_LEVEL: 'silent' })),
        (e: Error) =>
          e instanceof ConfigError && e.message.includes(secretFileOf(otherPath)) && /EISDIR/.test(e.message),
      );
    } finally {
      await other.drop();
    }
  });

  test('with GATEHOUSE_SECRET given, a copy of it left in the database by an earlier start is removed', async () => {
    const secret = readFileSync(secretFileOf(path), 'utf8').trim();
    const db = new BetterSqlite3(path);
    db.prepare("insert into settings (key, value) values ('secret', ?)").run(secret);
    db.close();
    const services = await createServices(
      loadConfig({ DATABASE_URL: database.url, LOG_LEVEL: 'silent', GATEHOUSE_SECRET: secret }),
    );
    assert.equal(services.secretSource, 'environment');
    await services.close();
    const check = new BetterSqlite3(path);
    assert.equal(stored(check), undefined);
    check.close();
    assert.ok(!bytesOf(path).includes(secret), 'the secret is still in the database file');
  });

  test('a stray secret an earlier release stored on rollback is dropped: the file opens the data', async () => {
    const secret = readFileSync(secretFileOf(path), 'utf8').trim();
    // The earlier release found no secret in the database and made one (which opens nothing).
    const db = new BetterSqlite3(path);
    db.prepare("insert into settings (key, value) values ('secret', ?)").run(
      'stray-secret-of-a-rollback-0123456789',
    );
    db.close();
    const services = await open();
    assert.equal(services.secret, secret);
    await services.close();
    const check = new BetterSqlite3(path);
    assert.equal(stored(check), undefined);
    check.close();
  });
});

describe('the generated installation secret on PostgreSQL', () => {
  test('is kept in the database (shared by every process), and the source says so for the startup warning', async (t) => {
    if (!databaseKinds.includes('postgres')) return t.skip('no PostgreSQL in this run');
    const database = await createTestDatabase('postgres');
    try {
      const services = await createServices(loadConfig({ DATABASE_URL: database.url, LOG_LEVEL: 'silent' }));
      assert.equal(services.secretSource, 'database');
      await services.close();
      const server = await spawnServer({ DATABASE_URL: database.url, GATEHOUSE_SECRET: '' });
      await server.stop();
      assert.match(
        server.log(),
        /GATEHOUSE_SECRET is not set: the installation secret is kept in the database/,
      );
      // Moving to GATEHOUSE_SECRET (DEPLOY.md): the value the database holds; it then leaves the database.
      const first = await createServices(loadConfig({ DATABASE_URL: database.url, LOG_LEVEL: 'silent' }));
      const kept = first.secret;
      await first.close();
      const moved = await createServices(
        loadConfig({ DATABASE_URL: database.url, LOG_LEVEL: 'silent', GATEHOUSE_SECRET: kept }),
      );
      const left = await moved.database.db
        .selectFrom('settings')
        .select('value')
        .where('key', '=', 'secret')
        .executeTakeFirst();
      await moved.close();
      assert.equal(left, undefined);
    } finally {
      await database.drop();
    }
  });
});

describe('a database that does not answer', () => {
  test('serve, worker and init say so in one line (database_unreachable), without a stack trace', async () => {
    const refused = await freePort();
    const urls = [`postgres://postgres@127.0.0.1:${refused}/gatehouse`];
    if (databaseKinds.includes('postgres')) {
      const missing = new URL(postgresAdminUrl);
      missing.pathname = '/gatehouse_no_such_database';
      urls.push(missing.toString());
    }
    for (const url of urls) {
      for (const args of [
        ['serve'],
        ['worker'],
        ['init', '--email', 'o@example.com', '--password', 'a long passphrase', '--json'],
      ]) {
        let said = '';
        let code = 0;
        try {
          await run(process.execPath, ['bin/gatehouse.js', ...args], {
            env: {
              ...process.env,
              DATABASE_URL: url,
              PORT: '0',
              LOG_LEVEL: 'silent',
              GATEHOUSE_CLI_CREDENTIALS: '/nonexistent/c.json',
            },
            timeout: 30_000,
          });
        } catch (error) {
          const e = error as { code: number; stdout: string; stderr: string };
          code = e.code;
          said = e.stdout + e.stderr;
        }
        assert.equal(code, 1, `${args[0]} ${url}: ${said}`);
        assert.match(said, /Cannot reach the database: (connection refused|no such database)/, said);
        assert.match(said, /database_unreachable/, said);
        assert.doesNotMatch(said, /\n\s+at /, `a stack trace: ${said}`);
      }
    }
  });
});

describe('sealed values', () => {
  test('a sealed value whose authentication tag was cut short does not open (full 128-bit tags only)', () => {
    const encryptor = createEncryptor('an installation secret of at least 32 characters');
    const sealed = encryptor.encrypt('whsec_the signing secret');
    assert.equal(encryptor.decrypt(sealed), 'whsec_the signing secret');
    const [version, iv, tag, body] = sealed.split('.');
    // GCM checks as many tag bytes as it is given: a 4-byte tag is a 1 in 2^32 forgery, not 2^128.
    for (const bytes of [4, 8, 12, 15]) {
      const short = Buffer.from(tag as string, 'base64url')
        .subarray(0, bytes)
        .toString('base64url');
      assert.throws(
        () => encryptor.decrypt([version, iv, short, body].join('.')),
        (e: Error) => e instanceof UnsealError,
        `a ${bytes}-byte tag`,
      );
    }
  });
});
