import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { createServer, type Server } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import Database from 'better-sqlite3';
import pg from 'pg';
import { ConfigError, loadConfig } from '../src/config.ts';
import { databaseKinds, postgresAdminUrl } from './helpers/database.ts';
import { type CliRun, runGatehouse } from './helpers/process.ts';
import { until } from './helpers/until.ts';

// docs/DEPLOY.md on one machine: a DATABASE_URL whose port has something other than PostgreSQL
// (Redis's 6379 given by mistake, a proxy with no backend) accepts and hangs up.
describe('a DATABASE_URL whose port accepts and closes the connection', () => {
  let hangUp: Server;
  let port = 0;

  before(async () => {
    // Hangs up once the client has spoken (its startup message read, so no reset): pg sees the
    // connection end before any answer.
    hangUp = createServer((socket) => socket.once('data', () => socket.end()));
    await new Promise<void>((resolve) => hangUp.listen(0, '127.0.0.1', resolve));
    const address = hangUp.address();
    port = typeof address === 'object' && address ? address.port : 0;
  });
  after(() => new Promise<void>((resolve) => hangUp.close(() => resolve())));

  test('serve, worker and init say the database is unreachable, as the error envelope, without a stack trace', async () => {
    for (const args of [
      ['serve', '--json'],
      ['worker', '--json'],
      ['init', '--email', 'o@example.com', '--password', 'a long passphrase', '--json'],
    ]) {
      const { code, stdout, stderr } = await runGatehouse(
        args,
        {
          DATABASE_URL: `postgres://postgres@127.0.0.1:${port}/gatehouse`,
          REDIS_URL: '',
          PORT: '0',
          LOG_LEVEL: 'silent',
          GATEHOUSE_CLI_CREDENTIALS: '/nonexistent/c.json',
        },
        60_000,
      );
      const said = `${args[0]}: ${stdout}${stderr}`;
      assert.equal(code, 1, said);
      assert.doesNotMatch(stderr, /\n\s+at /, `a stack trace: ${said}`);
      const envelope = JSON.parse(stdout);
      assert.equal(envelope.success, false, said);
      assert.equal(envelope.code, 'database_unreachable', said);
      assert.match(
        envelope.error,
        /^Cannot reach the database: the server closed the connection \(is PostgreSQL listening on that port\?\)/,
      );
    }
  });
});

// DEPLOY.md's DATABASE_URL is `sqlite:<file>`; the URL-like `sqlite://./data/…` opened /data/….
describe('DATABASE_URL sqlite: forms', () => {
  test('sqlite://./data/… is refused with the forms to write; sqlite:./… and sqlite:///… are the paths they say', () => {
    for (const url of ['sqlite://./data/gatehouse.db', 'sqlite://data/gatehouse.db']) {
      assert.throws(
        () => loadConfig({ DATABASE_URL: url }),
        (error: unknown) =>
          error instanceof ConfigError &&
          error.message ===
            `DATABASE_URL "${url}" is not a file path: write sqlite:./data/gatehouse.db for a file relative to the working folder, or sqlite:///var/lib/gatehouse/gatehouse.db for an absolute one`,
        url,
      );
    }
    assert.deepEqual(loadConfig({ DATABASE_URL: 'sqlite:./data/gatehouse.db' }).database, {
      kind: 'sqlite',
      path: './data/gatehouse.db',
    });
    assert.deepEqual(loadConfig({ DATABASE_URL: 'sqlite:///var/lib/gatehouse/gatehouse.db' }).database, {
      kind: 'sqlite',
      path: '/var/lib/gatehouse/gatehouse.db',
    });
  });
});

// DEPLOY.md: REDIS_URL is `redis://host:6379[/db]`, and a value of the wrong kind stops the
// command naming it. Other forms were handed to ioredis, which read them its own way without a
// word: `http://…` as a socket path (a warning a second, limits uncounted), `host:6379/7` as
// database 0 (another installation's keys). And a mistyped DATABASE_URL was quoted whole, its
// password included, into the terminal and the service's log.
describe('REDIS_URL and DATABASE_URL mistakes', () => {
  const refused = (env: Record<string, string>, message: string) =>
    assert.throws(
      () => loadConfig(env),
      (error: unknown) => error instanceof ConfigError && error.message === message,
      JSON.stringify(env),
    );

  test('a REDIS_URL that is not redis:// or rediss:// is refused, saying the form to write', () => {
    for (const url of ['http://127.0.0.1:6379', '127.0.0.1:6379/7', 'redis:///tmp/redis.sock']) {
      refused(
        { REDIS_URL: url },
        `REDIS_URL must be redis://host:6379 (or redis://host:6379/<db>, rediss:// for TLS), got "${url}"`,
      );
    }
    for (const url of [
      'redis://127.0.0.1:6379',
      'redis://127.0.0.1:6379/7',
      'rediss://:pw@redis.internal:6380',
    ]) {
      assert.equal(loadConfig({ REDIS_URL: url }).redisUrl, url);
    }
  });

  test('the refusals quote the URL without its password', () => {
    refused(
      { DATABASE_URL: 'postgres:/gatehouse:s3cret@db/gatehouse' },
      'DATABASE_URL must start with sqlite: or postgres://, got "postgres:/gatehouse:***@db/gatehouse"',
    );
    refused(
      { DATABASE_URL: 'mysql://gatehouse:p@ss@db/gatehouse' },
      'DATABASE_URL must start with sqlite: or postgres://, got "mysql://gatehouse:***@db/gatehouse"',
    );
    refused(
      { REDIS_URL: 'http://:s3cret@redis:6379' },
      'REDIS_URL must be redis://host:6379 (or redis://host:6379/<db>, rediss:// for TLS), got "http://:***@redis:6379"',
    );
  });
});

// DEPLOY.md: `GATEHOUSE_PUBLIC_DOCS=false` hides /docs, `GATEHOUSE_DASHBOARD=false` the dashboard,
// and a value of the wrong kind stops the command. Any value but `false` left them on without a
// word: an operator who wrote GATEHOUSE_PUBLIC_DOCS=0 or =off still served the docs publicly.
describe('on/off switches', () => {
  test('GATEHOUSE_PUBLIC_DOCS, GATEHOUSE_DASHBOARD and GATEHOUSE_FAST_PATH take true or false, nothing else', () => {
    for (const name of ['GATEHOUSE_PUBLIC_DOCS', 'GATEHOUSE_DASHBOARD', 'GATEHOUSE_FAST_PATH']) {
      for (const value of ['0', 'off', 'no']) {
        assert.throws(
          () => loadConfig({ [name]: value }),
          (error: unknown) =>
            error instanceof ConfigError && error.message === `${name} must be true or false, got "${value}"`,
          `${name}=${value}`,
        );
      }
    }
    const off = loadConfig({
      GATEHOUSE_PUBLIC_DOCS: 'false',
      GATEHOUSE_DASHBOARD: 'false',
      GATEHOUSE_FAST_PATH: 'false',
    });
    assert.deepEqual([off.publicDocs, off.dashboard.enabled, off.fastPath], [false, false, false]);
    const on = loadConfig({ GATEHOUSE_PUBLIC_DOCS: 'true', GATEHOUSE_DASHBOARD: '' });
    assert.deepEqual([on.publicDocs, on.dashboard.enabled, on.fastPath], [true, true, true]);
  });
});

/** A command stopped by a mistake in the set-up: exit 1, no stack trace, a config_error envelope. Its message. */
function refusal(run: CliRun): string {
  const said = run.stdout + run.stderr;
  assert.equal(run.code, 1, said);
  assert.doesNotMatch(run.stderr, /\n\s+at /, `a stack trace: ${said}`);
  const envelope = JSON.parse(run.stdout);
  assert.equal(envelope.code, 'config_error', said);
  return envelope.error;
}

// DEPLOY.md: `createdb -O gatehouse gatehouse`. Made without -O (by postgres, as `createdb
// gatehouse` or pgAdmin do), PostgreSQL 15 lets the role create nothing in the public schema:
// init and serve crashed with a stack trace, "Database migration  failed: error: permission
// denied for schema public", saying nothing of what to do.
describe('a PostgreSQL database the role in DATABASE_URL does not own', {
  skip: !databaseKinds.includes('postgres'),
}, () => {
  const suffix = randomBytes(4).toString('hex');
  const role = `gatehouse_test_role_${suffix}`;
  const database = `gatehouse_test_notowned_${suffix}`;
  const admin = async (statements: string[]) => {
    const client = new pg.Client({ connectionString: postgresAdminUrl });
    await client.connect();
    try {
      for (const statement of statements) await client.query(statement);
    } finally {
      await client.end();
    }
  };

  before(() => admin([`CREATE ROLE ${role} LOGIN`, `CREATE DATABASE ${database}`]));
  after(() => admin([`DROP DATABASE IF EXISTS ${database} WITH (FORCE)`, `DROP ROLE IF EXISTS ${role}`]));

  test('init says the role must own the database, and how, without a stack trace', async () => {
    const url = new URL(postgresAdminUrl);
    url.username = role;
    url.pathname = `/${database}`;
    const run = await runGatehouse(
      ['init', '--email', 'o@example.com', '--password', 'a long passphrase', '--json'],
      {
        DATABASE_URL: url.toString(),
        REDIS_URL: '',
        GATEHOUSE_SECRET: 'a'.repeat(32),
        GATEHOUSE_CLI_CREDENTIALS: '/nonexistent/c.json',
      },
      60_000,
    );
    assert.equal(
      refusal(run),
      "Cannot create Gatehouse's tables: permission denied for schema public. The role in DATABASE_URL must own the database " +
        '(createdb -O <role> <database>, or ALTER DATABASE <database> OWNER TO <role>) or be granted CREATE on its schema',
    );
  });
});

// DEPLOY.md, Upgrading: migrations are not reversed; going back means restoring the backup. An
// older release started on the newer database anyway crashed with a stack trace: "Database
// migration  failed: Error: corrupted migrations: previously executed migration … is missing".
describe('an older release started on a database a newer one migrated', () => {
  const folder = mkdtempSync(join(tmpdir(), 'gatehouse-rollback-'));
  after(() => rmSync(folder, { recursive: true, force: true }));

  test('serve says so and what to do, as the error envelope', async () => {
    const env = {
      DATABASE_URL: `sqlite:${join(folder, 'gatehouse.db')}`,
      REDIS_URL: '',
      PORT: '0',
      LOG_LEVEL: 'silent',
      GATEHOUSE_CLI_CREDENTIALS: join(folder, 'cli.json'),
    };
    const init = await runGatehouse(
      ['init', '--email', 'o@example.com', '--password', 'a long passphrase'],
      env,
    );
    assert.equal(init.code, 0, init.stderr);
    const db = new Database(join(folder, 'gatehouse.db'));
    db.prepare("insert into kysely_migration (name, timestamp) values ('9999_from_a_later_release', ?)").run(
      new Date().toISOString(),
    );
    db.close();
    assert.equal(
      refusal(await runGatehouse(['serve', '--json'], env, 60_000)),
      'This database was migrated by a newer Gatehouse release (migration 9999_from_a_later_release, unknown to this one), and migrations are not reversed: ' +
        'run that release, or restore the backup taken before the upgrade (docs/DEPLOY.md, Upgrading)',
    );
  });
});

/** Whether a process of that id still runs. */
function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

// DEPLOY.md: `npm install && npm start`, and "npm passes signals on". npm signals the shell that
// runs the script, and sh (dash) died without passing SIGTERM to the server: a process manager
// that stops npm (docker's `CMD npm start`, supervisord, pm2) left the server running, holding
// the database's lock, so the next start exited saying a server was running.
describe('npm start', () => {
  const folder = mkdtempSync(join(tmpdir(), 'gatehouse-npm-start-'));
  after(() => rmSync(folder, { recursive: true, force: true }));

  test('SIGTERM to npm stops the server it started', async () => {
    const npm = spawn('npm', ['start'], {
      env: {
        ...process.env,
        DATABASE_URL: `sqlite:${join(folder, 'gatehouse.db')}`,
        REDIS_URL: '',
        PORT: '0',
        LOG_LEVEL: 'silent',
        GATEHOUSE_CLI_CREDENTIALS: join(folder, 'cli.json'),
      },
      stdio: 'ignore',
    });
    const npmExited = new Promise((resolve) => npm.once('exit', resolve));
    let server = 0;
    try {
      const serverFile = join(folder, 'server.json');
      const recorded = async () => (existsSync(serverFile) ? readFileSync(serverFile, 'utf8') : '');
      server = (JSON.parse(await until(recorded, Boolean, 60_000)) as { pid: number }).pid;
      npm.kill('SIGTERM');
      await npmExited;
      assert.equal(
        await until(
          async () => alive(server),
          (running) => !running,
          20_000,
        ),
        false,
      );
    } finally {
      if (server !== 0 && alive(server)) process.kill(server, 'SIGKILL');
      if (npm.exitCode === null && npm.signalCode === null) npm.kill('SIGKILL');
    }
  });
});
