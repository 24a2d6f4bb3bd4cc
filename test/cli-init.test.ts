import assert from 'node:assert/strict';
import { execFile, spawn } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, test } from 'node:test';
import { fileURLToPath } from 'node:url';
import { freePort } from '../bench/lib.ts';
import { createServices } from '../src/app.ts';
import { loadConfig } from '../src/config.ts';
import { createTestDatabase, databaseKinds } from './helpers/database.ts';
import { type CliRun, runGatehouse, runInTerminal, spawnGatehouse, waitHealthy } from './helpers/process.ts';

const dir = mkdtempSync(join(tmpdir(), 'gatehouse-init-'));
const mode = (path: string) => statSync(path).mode & 0o777;

/** Where one `init` keeps its database and saved token. */
function place(name: string) {
  const data = join(dir, name, 'data');
  return {
    data,
    env: {
      DATABASE_URL: `sqlite:${join(data, 'gatehouse.db')}`,
      GATEHOUSE_CLI_CREDENTIALS: join(data, 'cli-credentials.json'),
    },
  };
}

/** `gatehouse init` in a real terminal, answering each password prompt. */
const initInTerminal = (env: Record<string, string>, answers: string[]) =>
  runInTerminal(['init', '--email', 'owner@example.com'], env, answers, /password[^:\n]*: /gi);

// After every suite of the file: the last one keeps its server's folder here too.
after(() => rmSync(dir, { recursive: true, force: true }));

describe('gatehouse init', () => {
  test('without --password, in a terminal: asks twice without echoing, then creates the owner', async () => {
    const { data, env } = place('tty');
    const result = await initInTerminal(env, ['a long password 1', 'a long password 1']);
    assert.equal(result.code, 0, result.screen);
    assert.match(result.screen, /Owner password \(at least 8 characters\): /);
    assert.match(result.screen, /Same password again: /);
    assert.match(result.screen, /token\s+gm_/);
    assert.doesNotMatch(result.screen, /a long password 1/);
    const services = await createServices(loadConfig(env));
    try {
      const signedIn = await services.users.signIn(
        { email: 'owner@example.com', password: 'a long password 1' },
        '127.0.0.1',
      );
      assert.ok('token' in signedIn, JSON.stringify(signedIn));
    } finally {
      await services.close();
    }
    // The database and its folder are its owner's alone; so is the saved token.
    assert.equal(mode(data), 0o700);
    assert.equal(mode(join(data, 'gatehouse.db')), 0o600);
    assert.equal(mode(join(data, 'cli-credentials.json')), 0o600);
  });

  test('two different passwords: nothing is created', async () => {
    const { data, env } = place('differ');
    const result = await initInTerminal(env, ['a long password 1', 'another password 2']);
    assert.equal(result.code, 1);
    assert.match(result.screen, /The two passwords differ/);
    assert.equal(existsSync(join(data, 'gatehouse.db')), false);
  });

  test('without --password and without a terminal: a usage error, nothing created', async () => {
    const { data, env } = place('pipe');
    const plain = await runGatehouse(['init', '--email', 'owner@example.com'], env);
    assert.equal(plain.code, 1);
    assert.match(plain.stderr, /--password is required when not run in a terminal/);
    const json = await runGatehouse(['init', '--email', 'owner@example.com', '--json'], env);
    assert.equal(json.code, 1);
    assert.deepEqual(JSON.parse(json.stdout), {
      success: false,
      error: '--password is required when not run in a terminal (in one, it is asked for)',
      code: 'cli_usage',
      details: [],
    });
    assert.equal(existsSync(join(data, 'gatehouse.db')), false);
  });

  test('init for a second installation says it replaced the token saved for the first', async () => {
    const first = place('first');
    const second = place('second');
    const args = ['init', '--email', 'owner@example.com', '--password', 'a long password 1'];
    const env = { ...second.env, GATEHOUSE_CLI_CREDENTIALS: first.env.GATEHOUSE_CLI_CREDENTIALS };
    const made = await runGatehouse(args, first.env);
    assert.equal(made.code, 0, made.stderr);
    assert.doesNotMatch(made.stdout, /replaced/);
    const url = JSON.parse(readFileSync(first.env.GATEHOUSE_CLI_CREDENTIALS, 'utf8')).url as string;
    const again = await runGatehouse(args, { ...env, GATEHOUSE_URL: 'http://127.0.0.1:4999' });
    assert.equal(again.code, 0, again.stderr);
    assert.ok(
      again.stdout.includes(
        `It replaced the token saved there for ${url}; to reach that installation again: gatehouse login --email … --url ${url}`,
      ),
      again.stdout,
    );
  });

  test('a running database keeps its -wal and -shm files private too', async () => {
    const { data, env } = place('wal');
    const services = await createServices(loadConfig(env));
    try {
      for (const file of ['gatehouse.db', 'gatehouse.db-wal', 'gatehouse.db-shm']) {
        assert.equal(mode(join(data, file)), 0o600, file);
      }
    } finally {
      await services.close();
    }
  });
});

describe('the CLI finds the server started from its directory', () => {
  test('on whatever PORT it was given, with init run without it; a server gone is said plainly', async () => {
    const { env } = place('port');
    const port = String(await freePort());
    const server = spawnGatehouse(['serve'], { ...env, PORT: port, LOG_LEVEL: 'warn' });
    try {
      await waitHealthy(Number(port));
      // As the README's second terminal does: no PORT there.
      const init = await runGatehouse(
        ['init', '--email', 'o@example.com', '--password', 'a long passphrase'],
        env,
      );
      assert.equal(init.code, 0, init.stderr);
      assert.doesNotMatch(init.stderr, /Warning/, 'the server knows the token');
      // The address saved is the running server's, not 4000 (the default of this shell's PORT).
      const saved = JSON.parse(readFileSync(env.GATEHOUSE_CLI_CREDENTIALS, 'utf8')) as { url: string };
      assert.equal(saved.url, `http://127.0.0.1:${port}`);
      // init on another database, saved for this server: said at once, not at the next command.
      const other = place('port-other');
      const stray = await runGatehouse(
        ['init', '--email', 'o@example.com', '--password', 'a long passphrase', '--json'],
        { ...other.env, GATEHOUSE_URL: `http://127.0.0.1:${port}` },
      );
      assert.equal(stray.code, 0, stray.stderr);
      assert.equal(JSON.parse(stray.stdout).success, true, 'stdout stays the JSON answer');
      assert.ok(
        stray.stderr.includes(
          `Warning: the server at http://127.0.0.1:${port} does not know this token: it runs on another database than the one init wrote to (${other.env.DATABASE_URL}).`,
        ),
        stray.stderr,
      );
      assert.match(stray.stderr, /Run init with the DATABASE_URL that server was started with/);
      const created = await runGatehouse(
        ['endpoints', 'create', '--slug', 'orders', '--name', 'Orders', '--field', 'n:integer', '--json'],
        env,
      );
      assert.equal(created.code, 0, created.stdout + created.stderr);
      assert.equal(JSON.parse(created.stdout).data.slug, 'orders');
    } finally {
      const exited = new Promise((resolve) => server.once('exit', resolve));
      server.kill('SIGTERM');
      await exited;
    }
    // Stopped: the CLI says which address it tried and where it came from, and how to give another.
    const gone = await runGatehouse(['endpoints', 'list'], env);
    assert.equal(gone.code, 1);
    assert.ok(
      gone.stderr.includes(`Cannot reach Gatehouse at http://127.0.0.1:${port} (saved by init in `),
      gone.stderr,
    );
    assert.match(gone.stderr, /cli-credentials\.json: /);
    assert.match(gone.stderr, /--url or GATEHOUSE_URL/);
  });

  test('init saves HOST:PORT over the record of a stopped server, and GATEHOUSE_URL over a running one', async () => {
    /** `init` in a fresh place whose server.json lists `pid`: the address it saved. */
    const savedBy = async (name: string, pid: number, more: Record<string, string>) => {
      const { data, env } = place(name);
      mkdirSync(data, { recursive: true });
      const entry = { url: 'http://127.0.0.1:1', pid };
      writeFileSync(join(data, 'server.json'), JSON.stringify({ ...entry, servers: [entry] }));
      const init = await runGatehouse(
        ['init', '--email', 'o@example.com', '--password', 'a long passphrase'],
        { ...env, ...more },
      );
      assert.equal(init.code, 0, init.stderr);
      return (JSON.parse(readFileSync(env.GATEHOUSE_CLI_CREDENTIALS, 'utf8')) as { url: string }).url;
    };
    // A record left by a server that was killed, so never withdrew: its pid is gone.
    const dead = spawn(process.execPath, ['-e', '']);
    await new Promise((resolve) => dead.once('exit', resolve));
    const port = String(await freePort());
    assert.equal(await savedBy('stale', dead.pid ?? 0, { PORT: port }), `http://127.0.0.1:${port}`);
    // This test's own process stands for a live server.
    assert.equal(
      await savedBy('url', process.pid, { GATEHOUSE_URL: 'http://gatehouse.internal:4010' }),
      'http://gatehouse.internal:4010',
    );
  });

  test('a server that takes the connection and never answers: the CLI gives up after GATEHOUSE_CLI_TIMEOUT_MS, saying so', async () => {
    const silent = createServer(() => {});
    await new Promise<void>((resolve) => silent.listen(0, '127.0.0.1', resolve));
    const { port } = silent.address() as AddressInfo;
    try {
      const stuck = await runGatehouse(
        ['endpoints', 'list', '--url', `http://127.0.0.1:${port}`, '--token', 'gm_x'],
        {
          GATEHOUSE_CLI_TIMEOUT_MS: '500',
          GATEHOUSE_CLI_CREDENTIALS: '/nonexistent',
        },
        30_000,
      );
      assert.equal(stuck.code, 1, stuck.stderr);
      assert.match(
        stuck.stderr,
        /No answer from Gatehouse at http:\/\/127\.0\.0\.1:\d+ \(--url\) within 0\.5 s/,
      );
    } finally {
      silent.closeAllConnections();
      silent.close();
    }
  });
});

/** The real CLI run from `cwd` (not the checkout), as a user runs it from their own folder. */
function runFrom(cwd: string, args: string[], env: Record<string, string>): Promise<CliRun> {
  const bin = fileURLToPath(new URL('../bin/gatehouse.js', import.meta.url));
  return new Promise((resolve) => {
    execFile(
      process.execPath,
      [bin, ...args],
      { cwd, env: { ...process.env, ...env } },
      (error, stdout, stderr) => resolve({ code: error ? Number(error.code ?? 1) : 0, stdout, stderr }),
    );
  });
}

describe('init against PostgreSQL keeps the CLI token in the folder it is run from, and says so', {
  skip: !databaseKinds.includes('postgres') && 'no PostgreSQL (GATEHOUSE_TEST_DATABASES)',
}, () => {
  test('the absolute path is printed, and CLI commands run from that folder find the token and the server', async () => {
    const folder = join(dir, 'pg-folder');
    mkdirSync(folder);
    const database = await createTestDatabase('postgres');
    // No GATEHOUSE_CLI_CREDENTIALS: the default, ./data of the folder.
    const env = {
      DATABASE_URL: database.url,
      GATEHOUSE_CLI_CREDENTIALS: '',
      GATEHOUSE_URL: '',
      REDIS_URL: '',
    };
    const saved = join(folder, 'data', 'cli-credentials.json');
    const port = String(await freePort());
    const bin = fileURLToPath(new URL('../bin/gatehouse.js', import.meta.url));
    const server = spawn(process.execPath, [bin, 'serve'], {
      cwd: folder,
      env: { ...process.env, ...env, PORT: port, LOG_LEVEL: 'warn' },
      stdio: ['ignore', 'ignore', 'inherit'],
    });
    try {
      await waitHealthy(Number(port));
      const init = await runFrom(
        folder,
        ['init', '--email', 'o@example.com', '--password', 'a long passphrase', '--json'],
        env,
      );
      assert.equal(init.code, 0, init.stdout + init.stderr);
      assert.equal(JSON.parse(init.stdout).data.cli_credentials, saved, 'the JSON names the absolute path');
      assert.equal(mode(saved), 0o600);
      // A later command from the same folder needs no setting: the token and the server are found.
      const listed = await runFrom(folder, ['endpoints', 'list', '--json'], env);
      assert.equal(listed.code, 0, listed.stdout + listed.stderr);
      assert.deepEqual(JSON.parse(listed.stdout).data, []);
      // The text form says where, and how a command run from elsewhere finds it.
      const login = await runFrom(
        folder,
        ['login', '--email', 'o@example.com', '--password', 'a long passphrase'],
        env,
      );
      assert.equal(login.code, 0, login.stdout + login.stderr);
      assert.ok(
        login.stdout.includes(
          `in ${saved}: CLI commands run from ${folder} find it; from elsewhere, set GATEHOUSE_CLI_CREDENTIALS=${saved}`,
        ),
        login.stdout,
      );
    } finally {
      const exited = new Promise((resolve) => server.once('exit', resolve));
      server.kill('SIGTERM');
      await exited;
      await database.drop();
    }
  });
});
