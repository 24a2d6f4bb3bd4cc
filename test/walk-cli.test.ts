import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { mkdtempSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { freePort } from '../bench/lib.ts';
import { managementCli, runGatehouse } from './helpers/process.ts';
import { startTestServer, type TestServer } from './helpers/server.ts';
import { until } from './helpers/until.ts';

const NO_CREDENTIALS = {
  GATEHOUSE_CLI_CREDENTIALS: '/nonexistent',
  GATEHOUSE_TOKEN: 'gm_x',
  GATEHOUSE_URL: '',
};

/** The envelope a usage error prints with --json (stdout), and its exit code. */
async function usageError(args: string[]): Promise<{ code: number; error: string }> {
  const run = await runGatehouse(args, NO_CREDENTIALS);
  assert.equal(run.stderr, '', `${args.join(' ')}: nothing on stderr with --json`);
  const envelope = JSON.parse(run.stdout);
  assert.equal(envelope.code, 'cli_usage', run.stdout);
  return { code: run.code, error: envelope.error };
}

describe('CLI walk: a first-time user’s mistakes are named as they were made', () => {
  test('a mistyped command followed by its options is the unknown command, with its suggestion', async () => {
    for (const [args, said] of [
      [
        ['endpoints', 'creat', '--slug', 'orders', '--json'],
        "unknown command 'creat'\n(Did you mean create?)",
      ],
      [
        ['--json', 'keys', 'creat', '--name', 'ci', '--env', 'test'],
        "unknown command 'creat'\n(Did you mean create?)",
      ],
      [['keyz', 'create', '--name', 'ci', '--json'], "unknown command 'keyz'\n(Did you mean keys?)"],
    ] as const) {
      assert.deepEqual(await usageError([...args]), { code: 1, error: said }, args.join(' '));
    }
    // Without --json: the same words on stderr, and no "unknown option '--slug'".
    const forPeople = await runGatehouse(['endpoints', 'creat', '--slug', 'orders'], NO_CREDENTIALS);
    assert.equal(forPeople.code, 1);
    assert.match(forPeople.stderr, /^error: unknown command 'creat'\n\(Did you mean create\?\)\n/);
    // A group's own unknown option is still one, with its suggestion.
    assert.deepEqual(await usageError(['keys', '--jsno', '--json']), {
      code: 1,
      error: "unknown option '--jsno'\n(Did you mean --json?)",
    });
    const top = await runGatehouse(['--bogus'], NO_CREDENTIALS);
    assert.equal(top.code, 1);
    assert.match(top.stderr, /^error: unknown option '--bogus'\n/);
    assert.doesNotMatch(top.stderr, /unknown command/);
  });

  test('a misspelt required option is said as the unknown option, not as the required one missing', async () => {
    for (const [args, said] of [
      [
        ['endpoints', 'create', '--slgu', 'orders', '--json'],
        "unknown option '--slgu'\n(Did you mean --slug?)",
      ],
      [
        ['keys', 'create', '--nmae', 'ci', '--env', 'test', '--json'],
        "unknown option '--nmae'\n(Did you mean --name?)",
      ],
      [['tokens', 'create', '--nam', 'ci', '--json'], "unknown option '--nam'\n(Did you mean --name?)"],
    ] as const) {
      assert.deepEqual(await usageError([...args]), { code: 1, error: said }, args.join(' '));
    }
    // A required option truly left out is still said, as before.
    assert.deepEqual(await usageError(['endpoints', 'create', '--name', 'Orders', '--json']), {
      code: 1,
      error: "required option '--slug <slug>' not specified",
    });
    const forPeople = await runGatehouse(['keys', 'create', '--env', 'test'], NO_CREDENTIALS);
    assert.equal(forPeople.code, 1);
    assert.match(forPeople.stderr, /^error: required option '--name <name>' not specified\n/);
  });
});

describe('CLI walk: --env', () => {
  test('a value that is neither test nor live is the same usage error for every command, sent nowhere', async () => {
    const said = "option '--env <environment>' argument 'prod' is invalid. Allowed choices are test, live.";
    for (const args of [
      ['keys', 'create', '--name', 'ci', '--env', 'prod'],
      ['keys', 'list', '--env', 'prod'],
      ['usage', '--env', 'prod'],
      ['webhooks', 'create', 'orders', '--target', 'https://partner.example/hooks', '--env', 'prod'],
      ['webhooks', 'list', '--env', 'prod'],
      ['deliveries', 'list', '--env', 'prod'],
      ['types', '--env', 'prod'],
      ['records', 'export', 'orders', '--env', 'prod'],
    ]) {
      // NO_CREDENTIALS names no server: a request sent would be cli_unreachable, not this.
      assert.deepEqual(await usageError([...args, '--json']), { code: 1, error: said }, args.join(' '));
      const help = await runGatehouse([...args.slice(0, args.indexOf('--env')), '--help'], NO_CREDENTIALS);
      // Within the option's own lines (the help wraps them).
      assert.match(
        help.stdout,
        /--env <environment>(?:(?!\n {2}-)[\s\S])*\(choices:\s+"test",\s+"live"/,
        args.join(' '),
      );
    }
  });
});

describe('CLI walk: a file an option names', () => {
  test('missing, or a folder: said with the option and the file, as records import says it, without Node error text', async () => {
    const missing = join(tmpdir(), 'gatehouse-walk-cli-missing.json');
    for (const [args, said] of [
      [['apps', 'create', '--file', missing], `--file: no such file: ${missing}`],
      [['apps', 'update', 'shop', '--file', missing], `--file: no such file: ${missing}`],
      [['apps', 'create', '--file', tmpdir()], `--file: ${tmpdir()} is not a file`],
      [
        ['endpoints', 'create', '--slug', 'orders', '--name', 'Orders', '--schema-file', missing],
        `--schema-file: no such file: ${missing}`,
      ],
    ] as const) {
      assert.deepEqual(await usageError([...args, '--json']), { code: 1, error: said }, args.join(' '));
      const forPeople = await runGatehouse([...args], NO_CREDENTIALS);
      assert.equal(forPeople.stderr, `Error: ${said} (cli_usage)\n`);
    }
  });
});

describe('CLI walk: no server at the address', () => {
  test('says why it could not connect, without an "Error: " inside the message', async () => {
    const port = await freePort();
    const run = await runGatehouse(
      ['keys', 'list', '--url', `http://127.0.0.1:${port}`, '--json'],
      NO_CREDENTIALS,
    );
    assert.equal(run.code, 1);
    assert.deepEqual(JSON.parse(run.stdout), {
      success: false,
      error: `Cannot reach Gatehouse at http://127.0.0.1:${port} (--url: connect ECONNREFUSED 127.0.0.1:${port}); is "gatehouse start" running? Give its address with --url or GATEHOUSE_URL`,
      code: 'cli_unreachable',
      details: [],
    });
  });
});

describe('CLI walk: against a real server', () => {
  let server: TestServer;
  const cli = (...args: string[]) => managementCli(server)(...args);

  before(async () => {
    server = await startTestServer('sqlite');
  });
  after(async () => server.close());

  test('Ctrl-C during an import from stdin removes its copy of stdin and says how far it got', async () => {
    await server.createEndpoint({ slug: 'stopped', name: 'Stopped', schema: { type: 'object' } });
    const temporary = mkdtempSync(join(tmpdir(), 'gatehouse-walk-cli-tmp-'));
    try {
      const child = spawn(process.execPath, ['bin/gatehouse.js', 'records', 'import', 'stopped', '-'], {
        env: {
          ...process.env,
          GATEHOUSE_URL: server.url,
          GATEHOUSE_TOKEN: server.token,
          GATEHOUSE_CLI_CREDENTIALS: '/nonexistent',
          TMPDIR: temporary,
        },
        stdio: ['pipe', 'pipe', 'pipe'],
      });
      let stderr = '';
      child.stderr.on('data', (chunk: Buffer) => {
        stderr += chunk.toString();
      });
      const exited = new Promise<number | null>((resolve) => child.on('exit', (code) => resolve(code)));
      // stdin stays open: the import is still copying it when interrupted.
      child.stdin.write('{"a":1}\n');
      // (tsx keeps its cache in the same temporary folder.)
      const spools = () => readdirSync(temporary).filter((name) => name.startsWith('gatehouse-import-'));
      const spooling = await until(
        async () => spools().length,
        (n) => n > 0,
        30_000,
      );
      assert.equal(spooling, 1, 'the import copies stdin into a temporary folder');
      child.kill('SIGINT');
      assert.equal(await exited, 130);
      assert.equal(
        stderr,
        '\nInterrupted: 0 rows were imported into stopped (test) before it, perhaps also the batch being sent; the rest were not.\n',
      );
      assert.deepEqual(spools(), [], 'the copy of stdin is gone');
    } finally {
      rmSync(temporary, { recursive: true, force: true });
    }
  });

  test('deliveries show answers to get, as every other show does', async () => {
    const run = await cli('deliveries', 'get', 'dlv_nope', '--json');
    assert.equal(run.code, 1, run.stderr);
    const envelope = JSON.parse(run.stdout);
    assert.equal(envelope.code, 'not_found', run.stdout);
    assert.equal(envelope.error, 'Delivery "dlv_nope" not found');
    const help = await cli('deliveries', '--help');
    assert.match(help.stdout, /^ {2}show\|get \[options\] <id> /m);
  });
});

describe('CLI walk: init and reset-password name the option a refused value came from', () => {
  const folder = mkdtempSync(join(tmpdir(), 'gatehouse-walk-cli-'));
  const env = {
    DATABASE_URL: `sqlite:${join(folder, 'gatehouse.db')}`,
    GATEHOUSE_CLI_CREDENTIALS: join(folder, 'cli.json'),
    GATEHOUSE_URL: '',
    GATEHOUSE_TOKEN: '',
  };
  after(() => rmSync(folder, { recursive: true, force: true }));

  test('a short --password is said as --password', async () => {
    for (const command of ['init', 'reset-password']) {
      const run = await runGatehouse([command, '--email', 'owner@example.com', '--password', 'short'], env);
      assert.equal(run.code, 1, run.stdout);
      assert.equal(
        run.stderr,
        'Error: Invalid request (invalid_request)\n  --password: Must NOT have fewer than 8 characters\n',
        command,
      );
    }
  });
});
