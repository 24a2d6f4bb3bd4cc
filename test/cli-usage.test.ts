import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import http from 'node:http';
import { type AddressInfo, createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { freePort } from '../bench/lib.ts';
import { managementCli, runGatehouse } from './helpers/process.ts';
import { startTestServer, type TestServer } from './helpers/server.ts';

const NO_CREDENTIALS = {
  GATEHOUSE_CLI_CREDENTIALS: '/nonexistent',
  GATEHOUSE_TOKEN: 'gm_x',
  GATEHOUSE_URL: '',
};
const STACK_LINE = /^\s+at /m;

describe('CLI: usage errors and bad settings are clear, never a stack trace', () => {
  let server: TestServer;
  const cli = (...args: string[]) => managementCli(server)(...args);

  before(async () => {
    server = await startTestServer('sqlite');
  });
  after(async () => server.close());

  test('a bad option value names the option and exits 1', async () => {
    for (const args of [
      ['start', '--workers', '0'],
      ['start', '--workers', 'two'],
      ['endpoints', 'update', 'orders', '--max-body-bytes', 'abc'],
      ['keys', 'update', 'key_x', '--per-month', '0'],
    ]) {
      const run = await runGatehouse(args, NO_CREDENTIALS);
      assert.equal(run.code, 1, args.join(' '));
      assert.match(
        run.stderr,
        new RegExp(`option '${args[args.length - 2]} <[a-z]+>' argument '${args.at(-1)}' is invalid`),
      );
      assert.doesNotMatch(run.stderr, STACK_LINE);
    }
  });

  test('with --json, a usage error is the error envelope on stdout, and nothing else', async () => {
    const missing = await runGatehouse(['init', '--email', 'a@example.com', '--password'], NO_CREDENTIALS);
    assert.equal(missing.code, 1);
    const bad = await runGatehouse(['keys', 'update', 'key_x', '--per-day', '-1', '--json'], NO_CREDENTIALS);
    assert.equal(bad.code, 1);
    const envelope = JSON.parse(bad.stdout);
    assert.equal(envelope.success, false);
    assert.equal(envelope.code, 'cli_usage');
    assert.match(envelope.error, /--per-day must be a positive integer, or "none"/);
    const unknown = await runGatehouse(['endpoints', 'list', '--sideways', '--json'], NO_CREDENTIALS);
    assert.equal(unknown.code, 1);
    assert.deepEqual(JSON.parse(unknown.stdout), {
      success: false,
      error: "unknown option '--sideways'",
      code: 'cli_usage',
      details: [],
    });
    // The envelope is the whole answer: no help text after it (without --json, the help follows).
    assert.equal(bad.stderr, '');
    assert.equal(unknown.stderr, '');
    const forPeople = await runGatehouse(['endpoints', 'list', '--sideways'], NO_CREDENTIALS);
    assert.match(forPeople.stderr, /unknown option '--sideways'\n\nUsage: gatehouse endpoints list/);
  });

  test('a bad environment variable fails the commands that read it, with its name; --help still works', async () => {
    const help = await runGatehouse(['--help'], { ...NO_CREDENTIALS, PORT: 'abc' });
    assert.equal(help.code, 0);
    assert.match(help.stdout, /Usage: gatehouse/);
    const json = await runGatehouse(['endpoints', 'list', '--json'], { ...NO_CREDENTIALS, PORT: 'abc' });
    assert.equal(json.code, 1);
    assert.deepEqual(JSON.parse(json.stdout), {
      success: false,
      error: 'PORT must be an integer between 0 and 65535, got "abc"',
      code: 'config_error',
      details: [],
    });
    const serve = await runGatehouse(['serve'], { ...NO_CREDENTIALS, DATABASE_URL: 'mysql://x' });
    assert.equal(serve.code, 1);
    assert.match(serve.stderr, /DATABASE_URL/);
    assert.match(serve.stderr, /\(config_error\)/);
    assert.doesNotMatch(serve.stderr, STACK_LINE);
    const verbose = await runGatehouse(['serve'], { ...NO_CREDENTIALS, LOG_LEVEL: 'verbose' });
    assert.equal(verbose.code, 1);
    assert.match(
      verbose.stderr,
      /LOG_LEVEL must be one of fatal, error, warn, info, debug, trace, silent, got "verbose" \(config_error\)/,
    );
    assert.doesNotMatch(verbose.stderr, STACK_LINE);
    // A management command never logs: a LOG_LEVEL meant for another tool does not stop it.
    const managing = await runGatehouse(['endpoints', 'list', '--url', 'http://127.0.0.1:9', '--json'], {
      ...NO_CREDENTIALS,
      GATEHOUSE_TOKEN: 'gm_x',
      LOG_LEVEL: 'DEBUG',
    });
    const unreachable = JSON.parse(managing.stdout);
    assert.equal(unreachable.code, 'cli_unreachable');
    // The API's envelope, field for field, though no request was answered.
    assert.deepEqual(Object.keys(unreachable), ['success', 'error', 'code', 'details']);
  });

  test('an address without http:// is said to be malformed, not unreachable', async () => {
    const flag = await runGatehouse(
      ['endpoints', 'list', '--url', '127.0.0.1:4000', '--json'],
      NO_CREDENTIALS,
    );
    assert.equal(flag.code, 1);
    const envelope = JSON.parse(flag.stdout);
    assert.equal(envelope.code, 'cli_usage');
    assert.match(envelope.error, /--url "127\.0\.0\.1:4000" is not an http:\/\/ or https:\/\/ URL/);
    const env = await runGatehouse(['keys', 'list'], { ...NO_CREDENTIALS, GATEHOUSE_URL: 'localhost:4000' });
    assert.equal(env.code, 1);
    assert.match(
      env.stderr,
      /GATEHOUSE_URL "localhost:4000" is not an http:\/\/ or https:\/\/ URL.*\(config_error\)/,
    );
    assert.doesNotMatch(env.stderr, /Cannot reach|is "gatehouse start" running/);
  });

  test('an option followed by another option instead of its value is said to lack it; nothing is made', async () => {
    const before = await cli('keys', 'list', '--json');
    const keys = JSON.parse(before.stdout).data.length;
    const plain = await cli('keys', 'create', '--name', '--env', 'test');
    assert.equal(plain.code, 1);
    assert.match(
      plain.stderr,
      /^error: option '--name <name>' argument missing \(--env followed it: give --name its value first, or --name=--env for a value that begins with -\)/,
    );
    assert.doesNotMatch(plain.stderr, /too many arguments/);
    const json = await cli(
      'endpoints',
      'create',
      '--slug',
      '--name',
      'Orders',
      '--field',
      'a:string',
      '--json',
    );
    assert.equal(json.code, 1);
    assert.equal(JSON.parse(json.stdout).code, 'cli_usage');
    assert.match(
      JSON.parse(json.stdout).error,
      /option '--slug <slug>' argument missing \(--name followed it/,
    );
    // A global option (--json) and -h count too: no key named "--json" or "-h".
    const flag = await cli('keys', 'create', '--env', 'test', '--name', '-h');
    assert.equal(flag.code, 1);
    assert.match(flag.stderr, /option '--name <name>' argument missing \(-h followed it/);
    const after = await cli('keys', 'list', '--json');
    assert.equal(JSON.parse(after.stdout).data.length, keys);
    // Meant as a value, it is given with =.
    const meant = await cli('keys', 'create', '--name=--env', '--env', 'test', '--json');
    assert.equal(meant.code, 0, meant.stdout);
    assert.equal(JSON.parse(meant.stdout).data.name, '--env');
  });

  test('a malformed http:// address is said to be one, not "cannot reach … is it running?"', async () => {
    for (const url of ['http://[::1', 'http://exa mple.com', 'http://127.0.0.1:99999', 'http://:4000']) {
      const env = await runGatehouse(['keys', 'list'], { ...NO_CREDENTIALS, GATEHOUSE_URL: url });
      assert.equal(env.code, 1, url);
      assert.equal(
        env.stderr,
        `Error: GATEHOUSE_URL "${url}" is not a valid URL (e.g. http://127.0.0.1:4000) (config_error)\n`,
      );
      const flag = await runGatehouse(['endpoints', 'list', '--url', url, '--json'], {
        ...NO_CREDENTIALS,
        GATEHOUSE_TOKEN: 'gm_x',
      });
      assert.equal(flag.code, 1, url);
      assert.equal(JSON.parse(flag.stdout).code, 'cli_usage', url);
    }
  });

  test('spaces around a pasted address are no part of it', async () => {
    const padded = await runGatehouse(['endpoints', 'list', '--json'], {
      ...NO_CREDENTIALS,
      GATEHOUSE_TOKEN: server.token,
      GATEHOUSE_URL: ` ${server.url} `,
    });
    assert.equal(padded.code, 0, padded.stdout);
    assert.equal(JSON.parse(padded.stdout).success, true);
  });

  test('another service at the address is named as such, with its address, not as "Unexpected response"', async () => {
    // A page, another API's JSON error, and JSON that is not Gatehouse's on a 200.
    const answers: Array<{ status: number; type: string; body: string }> = [
      { status: 200, type: 'text/html', body: '<h1>Welcome</h1>' },
      { status: 404, type: 'application/json', body: '{"message":"Not Found"}' },
      { status: 200, type: 'application/json', body: '{"items":[]}' },
    ];
    let answer = { status: 200, type: 'text/plain', body: '' };
    const other = http.createServer((_request, response) =>
      response.writeHead(answer.status, { 'content-type': answer.type }).end(answer.body),
    );
    await new Promise<void>((resolve) => other.listen(0, '127.0.0.1', resolve));
    const url = `http://127.0.0.1:${(other.address() as AddressInfo).port}`;
    try {
      for (const [index, sent] of answers.entries()) {
        answer = sent;
        const run = await runGatehouse(['endpoints', 'list', '--url', url, '--json'], NO_CREDENTIALS);
        assert.equal(run.code, 1, `case ${index}`);
        const envelope = JSON.parse(run.stdout);
        assert.equal(envelope.code, 'cli_bad_response', `case ${index}`);
        assert.ok(
          envelope.error.includes(`${url} (--url) answered ${answer.status} (${answer.type})`),
          envelope.error,
        );
        assert.match(envelope.error, /another service on that port\? Give Gatehouse's address with --url/);
      }
    } finally {
      await new Promise((resolve) => other.close(resolve));
    }
  });

  test('conflicting or meaningless options are refused before anything is sent', async () => {
    const cases: Array<[string[], RegExp]> = [
      [
        ['endpoints', 'update', 'orders', '--activate', '--deactivate'],
        /'--deactivate' cannot be used with option '--activate'/,
      ],
      [
        ['webhooks', 'update', 'whk_x', '--enable', '--disable'],
        /'--disable' cannot be used with option '--enable'/,
      ],
      [['types', '--env', 'prod'], /Allowed choices are test, live/],
      [
        ['records', 'import', 'orders', 'x.ndjson', '--batch', 'abc'],
        /--batch must be an integer from 1 to 5000/,
      ],
      [['endpoints', 'update', 'orders'], /Nothing to change/],
      [['endpoints', 'update', 'orders', '--schema', '{bad'], /--schema is not valid JSON/],
      [
        ['endpoints', 'create', '--slug', 'both', '--field', 'a:string', '--schema', '{"type":"object"}'],
        /--schema and --field: give the schema one way only/,
      ],
      [
        ['endpoints', 'create', '--slug', 'twice', '--field', 'a:string', '--field', 'a:integer:required'],
        /--field a is given twice/,
      ],
      [['keys', 'update', 'key_x'], /Nothing to change: give --name/],
      [['keys', 'update', 'key_x', '--name', ''], /--name cannot be empty/],
      [['webhooks', 'update', 'whk_x'], /Nothing to change: give --target/],
    ];
    for (const [args, message] of cases) {
      const run = await cli(...args);
      assert.equal(run.code, 1, args.join(' '));
      assert.match(run.stderr, message);
      assert.doesNotMatch(run.stderr, STACK_LINE);
    }
    await server.createEndpoint({ slug: 'drafty', name: 'Drafty', schema: { type: 'object' } });
    const undeployed = await cli('types', '--env', 'live', '--endpoint', 'drafty', '--json');
    assert.equal(undeployed.code, 1);
    assert.equal(JSON.parse(undeployed.stdout).code, 'endpoint_not_deployed');
    const before = await server.admin('GET', '/admin/v1/endpoints/drafty');
    assert.equal((await cli('endpoints', 'update', 'drafty')).code, 1);
    const after = await server.admin('GET', '/admin/v1/endpoints/drafty');
    assert.deepEqual(after.body.data, before.body.data, 'an empty update changes nothing');
    for (const slug of ['both', 'twice'])
      assert.equal((await server.admin('GET', `/admin/v1/endpoints/${slug}`)).status, 404, slug);
  });

  test('an option given twice is refused naming it, unless repeatable; nothing is made or changed', async () => {
    await server.createEndpoint({ slug: 'once', name: 'Once', schema: { type: 'object' } });
    const before = await server.admin('GET', '/admin/v1/endpoints/once');
    const keysBefore = (await server.admin('GET', '/admin/v1/keys')).body.data;
    const cases: Array<[string[], string]> = [
      [['keys', 'create', '--name', 'a', '--name', 'b', '--env', 'test'], '--name'],
      [['keys', 'create', '--name', 'a', '--env', 'test', '--env=live'], '--env'],
      [['endpoints', 'update', 'once', '--name', 'First', '--name', 'Second'], '--name'],
      [['endpoints', 'create', '--slug', 'one', '--slug', 'two', '--field', 'a:string'], '--slug'],
    ];
    for (const [args, option] of cases) {
      const run = await cli(...args);
      assert.equal(run.code, 1, args.join(' '));
      assert.match(run.stderr, new RegExp(`^error: ${option} may be given only once$`, 'm'));
      const json = await cli(...args, '--json');
      assert.equal(json.code, 1);
      assert.deepEqual(JSON.parse(json.stdout), {
        success: false,
        error: `${option} may be given only once`,
        code: 'cli_usage',
        details: [],
      });
    }
    assert.deepEqual((await server.admin('GET', '/admin/v1/endpoints/once')).body.data, before.body.data);
    assert.deepEqual((await server.admin('GET', '/admin/v1/keys')).body.data, keysBefore);
    for (const slug of ['one', 'two'])
      assert.equal((await server.admin('GET', `/admin/v1/endpoints/${slug}`)).status, 404, slug);
    // Documented as repeatable: each value counts.
    const scoped = await cli(
      'keys',
      'create',
      '--name',
      'two-scopes',
      '--env',
      'test',
      '--scope',
      'records:read',
      '--scope',
      'once:write',
      '--json',
    );
    assert.equal(scoped.code, 0, scoped.stdout);
    assert.deepEqual(JSON.parse(scoped.stdout).data.scopes, ['records:read', 'once:write']);
  });

  test('a name typed where an option is wanted (endpoints create orders) points to the option; nothing is made', async () => {
    for (const [args, command, meant] of [
      [['endpoints', 'create', 'orders'], 'create', '--slug orders'],
      [['keys', 'create', 'partner', '--env', 'test'], 'create', '--name partner'],
      [['apps', 'create', 'shop.json'], 'create', '--file shop\\.json'],
      [['init', 'me@example.com'], 'init', '--email me@example\\.com'],
      [['keys', 'create', "Bob's key", '--env', 'test'], 'create', "--name 'Bob'\\\\''s key'"],
    ] as const) {
      const run = await runGatehouse([...args], NO_CREDENTIALS);
      assert.equal(run.code, 1, args.join(' '));
      assert.match(
        run.stderr,
        new RegExp(
          `^error: too many arguments for '${command}'\\. Expected 0 arguments but got 1\\.\n\\(Did you mean ${meant}\\?\\)\n`,
        ),
        run.stderr,
      );
    }
    // Against a running server: refused before anything is sent.
    const json = await cli('endpoints', 'create', 'orders', '--json');
    assert.equal(json.code, 1);
    assert.deepEqual(JSON.parse(json.stdout), {
      success: false,
      error:
        "too many arguments for 'create'. Expected 0 arguments but got 1.\n(Did you mean --slug orders?)",
      code: 'cli_usage',
      details: [],
    });
    // No guess when the option is given too, or for two words; an unknown option is said first.
    for (const args of [
      ['endpoints', 'create', '--slug', 'orders', 'extra'],
      ['endpoints', 'create', 'new', 'orders'],
    ]) {
      const run = await runGatehouse(args, NO_CREDENTIALS);
      assert.equal(run.code, 1, args.join(' '));
      assert.match(
        run.stderr,
        /^error: too many arguments for 'create'\. Expected 0 arguments but got [12]\.\n\n/,
      );
    }
    const typo = await runGatehouse(['endpoints', 'create', 'orders', '--slgu', 'x'], NO_CREDENTIALS);
    assert.match(typo.stderr, /^error: unknown option '--slgu'\n\(Did you mean --slug\?\)/);
    const list = await cli('--json', 'endpoints', 'list');
    assert.deepEqual(
      JSON.parse(list.stdout).data.filter((endpoint: { slug: string }) => endpoint.slug === 'orders'),
      [],
      'no endpoint was made',
    );
  });

  test('a port in use is one clear line, not a stack trace', async () => {
    const taken = createServer();
    await new Promise<void>((resolve) => taken.listen(0, '127.0.0.1', resolve));
    const port = String((taken.address() as AddressInfo).port);
    const dir = mkdtempSync(join(tmpdir(), 'gatehouse-port-'));
    try {
      const run = await runGatehouse(['serve'], {
        ...NO_CREDENTIALS,
        PORT: port,
        HOST: '127.0.0.1',
        DATABASE_URL: `sqlite:${join(dir, 'gatehouse.db')}`,
      });
      assert.equal(run.code, 1);
      assert.match(
        run.stderr,
        new RegExp(`Cannot listen on 127.0.0.1:${port}: the address is in use \\(EADDRINUSE\\)`),
      );
      assert.doesNotMatch(run.stderr, STACK_LINE);
    } finally {
      taken.close();
      rmSync(dir, { recursive: true, force: true });
    }
  });

  test('start --workers 2 on a port in use exits 1 with that line, instead of forking again and again', async () => {
    const taken = createServer();
    await new Promise<void>((resolve) => taken.listen(0, '127.0.0.1', resolve));
    const port = String((taken.address() as AddressInfo).port);
    const dir = mkdtempSync(join(tmpdir(), 'gatehouse-port-'));
    try {
      // A bound, not a timing assertion: the old behaviour never exited.
      const run = await runGatehouse(
        ['start', '--workers', '2'],
        {
          ...NO_CREDENTIALS,
          PORT: port,
          HOST: '127.0.0.1',
          LOG_LEVEL: 'warn',
          DATABASE_URL: `sqlite:${join(dir, 'gatehouse.db')}`,
        },
        60_000,
      );
      assert.equal(run.code, 1, run.stderr);
      assert.match(run.stderr, /Cannot listen on 127\.0\.0\.1:\d+: the address is in use \(EADDRINUSE\)/);
      assert.match(run.stderr, /could not start/);
      assert.doesNotMatch(run.stderr, /starting a new one/);
      assert.doesNotMatch(run.stderr, STACK_LINE);
    } finally {
      taken.close();
      rmSync(dir, { recursive: true, force: true });
    }
  });

  test('a database path that cannot be used, or a HOST that does not resolve, is one line naming it', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'gatehouse-db-'));
    try {
      writeFileSync(join(dir, 'plain-file'), 'x');
      writeFileSync(join(dir, 'text.db'), 'not a database, just text\n'.repeat(300));
      const cases: Array<[Record<string, string>, RegExp]> = [
        [{ DATABASE_URL: `sqlite:${dir}` }, /Cannot open the SQLite database .*SQLITE_CANTOPEN/],
        [
          { DATABASE_URL: `sqlite:${join(dir, 'text.db')}` },
          /Cannot open the SQLite database .*text\.db.*SQLITE_NOTADB/,
        ],
        [
          { DATABASE_URL: `sqlite:${join(dir, 'plain-file', 'sub', 'g.db')}` },
          /Cannot use .*plain-file.* for the database .*: (ENOTDIR|EEXIST) \(mkdir\)/,
        ],
        [
          { DATABASE_URL: `sqlite:${join(dir, 'ok.db')}`, HOST: 'nohost.invalid' },
          /Cannot listen on nohost\.invalid:\d+: HOST is not a name this machine resolves/,
        ],
      ];
      for (const [env, message] of cases) {
        const run = await runGatehouse(['serve'], {
          ...NO_CREDENTIALS,
          PORT: String(await freePort()),
          HOST: '127.0.0.1',
          LOG_LEVEL: 'warn',
          ...env,
        });
        assert.equal(run.code, 1, `${JSON.stringify(env)}: ${run.stderr}`);
        assert.match(run.stderr, message, JSON.stringify(env));
        assert.doesNotMatch(run.stderr, STACK_LINE, JSON.stringify(env));
        // init, on the same database path: the same one line.
        if (env.HOST) continue;
        const init = await runGatehouse(
          ['init', '--email', 'o@example.com', '--password', 'long enough pw'],
          {
            ...NO_CREDENTIALS,
            LOG_LEVEL: 'warn',
            ...env,
          },
        );
        assert.equal(init.code, 1, `init ${JSON.stringify(env)}: ${init.stderr}`);
        assert.match(init.stderr, message, `init ${JSON.stringify(env)}`);
        assert.doesNotMatch(init.stderr, STACK_LINE, `init ${JSON.stringify(env)}`);
      }
    } finally {
      rmSync(dir, { recursive: true, force: true });
      // DATABASE_URL=sqlite:<dir> (a folder) made its lock file beside it.
      rmSync(`${dir}.lock`, { force: true });
    }
  });

  test('a value the server refuses is named by the option typed, with the API field when it differs', async () => {
    await server.createEndpoint({ slug: 'named', name: 'Named', schema: { type: 'object' } });
    const cases: Array<[string[], RegExp]> = [
      [['webhooks', 'create', 'named', '--target', 'ftp://x', '--env', 'test'], /^ {2}--target \(url\): /m],
      // --url (the Gatehouse address) is the CLI's own, never the subscription's url.
      [
        ['webhooks', 'create', 'named', '--target', 'ftp://x', '--env', 'test', '--url', server.url],
        /^ {2}--target \(url\): /m,
      ],
      [['usage', '--status', '9xx'], /^ {2}--status \(status_class\): Must be one of 1xx/m],
      // A field named in the message is the option typed for it too.
      [['usage', '--from', '2026-02-01', '--to', '2026-01-01'], /^ {2}--from: Must not be after --to$/m],
      [
        ['keys', 'create', '--name', 'k', '--env', 'test', '--scope', 'bogus'],
        /^ {2}--scope \(scopes\[0\]\): /m,
      ],
      [['deliveries', 'list', '--status', 'nope'], /^ {2}--status: Must be pending/m],
      [['endpoints', 'update', 'named', '--max-body-bytes', '0'], /^ {2}--max-body-bytes: /m],
      [
        ['endpoints', 'update', 'named', '--schema', '{"type":"object","properties":{"a":{"type":"text"}}}'],
        /^ {2}--schema \(schema\.properties\.a\.type\): /m,
      ],
    ];
    for (const [args, line] of cases) {
      const run = await cli(...args);
      assert.equal(run.code, 1, args.join(' '));
      assert.match(run.stderr, line, args.join(' '));
    }
    // A field of a definition file is no option: it keeps its own name.
    const definition = JSON.stringify({ slug: 'A', name: 'A', routes: [] });
    const app = await managementCli(server, definition)('apps', 'create', '--file', '-');
    assert.equal(app.code, 1);
    assert.match(app.stderr, /^ {2}slug: /m);
    // --json is the API's envelope as it is.
    const json = await cli('webhooks', 'create', 'named', '--target', 'ftp://x', '--env', 'test', '--json');
    assert.equal(JSON.parse(json.stdout).details[0].field, 'url');
  });

  test('a group without its command: usage on stderr, or with --json the envelope naming its commands', async () => {
    const bare = await cli('endpoints', '--json');
    assert.equal(bare.code, 1);
    assert.equal(bare.stderr, '');
    const envelope = JSON.parse(bare.stdout);
    assert.equal(envelope.code, 'cli_usage');
    assert.match(envelope.error, /^gatehouse endpoints needs a command: create, list, show, /);
    const forPeople = await cli('endpoints');
    assert.equal(forPeople.code, 1);
    assert.match(forPeople.stderr, /^Usage: gatehouse endpoints \[options\] \[command\]\n/);
    assert.equal(forPeople.stdout, '');
    // --json before the command is the command's own.
    const listed = await cli('endpoints', '--json', 'list');
    assert.equal(listed.code, 0, listed.stdout + listed.stderr);
    assert.equal(JSON.parse(listed.stdout).success, true);
    // Before the group too, and before a command that is not in a group.
    for (const args of [
      ['--json', 'endpoints', 'list'],
      ['--json', 'usage'],
    ]) {
      const run = await cli(...args);
      assert.equal(run.code, 0, args.join(' ') + run.stdout + run.stderr);
      assert.equal(JSON.parse(run.stdout).success, true);
    }
    const refused = await cli('--json', 'endpoints', 'show', 'nope');
    assert.equal(refused.code, 1);
    assert.equal(JSON.parse(refused.stdout).code, 'endpoint_not_found');
    const typo = await cli('keys', 'lst', '--json');
    assert.equal(typo.code, 1);
    assert.match(JSON.parse(typo.stdout).error, /unknown command 'lst'\n\(Did you mean list\?\)/);
    // With the command's own arguments after it, too (and at the top level).
    for (const [args, said] of [
      [['endpoints', 'shwo', 'orders', '--json'], /^unknown command 'shwo'\n\(Did you mean show\?\)$/],
      [['lst', 'x', '--json'], /^unknown command 'lst'$/],
    ] as const) {
      const mistyped = await cli(...args);
      assert.equal(mistyped.code, 1, mistyped.stdout);
      assert.match(JSON.parse(mistyped.stdout).error, said, mistyped.stdout);
    }
    const extra = await cli('endpoints', 'list', 'extra', '--json');
    assert.match(
      JSON.parse(extra.stdout).error,
      /too many arguments for 'list'/,
      'a command still takes no extra',
    );
  });

  test('gatehouse --json alone is the envelope naming its commands, as a group without its command is', async () => {
    const bare = await runGatehouse(['--json'], NO_CREDENTIALS);
    const group = await runGatehouse(['endpoints', '--json'], NO_CREDENTIALS);
    assert.equal(bare.code, group.code, 'the exit code of a group without its command');
    assert.equal(bare.code, 1, bare.stdout);
    assert.equal(bare.stderr, '', 'no help text with --json');
    const envelope = JSON.parse(bare.stdout);
    assert.deepEqual(Object.keys(envelope), ['success', 'error', 'code', 'details'], bare.stdout);
    assert.equal(envelope.code, 'cli_usage', bare.stdout);
    assert.match(
      envelope.error,
      /^gatehouse needs a command: init, reset-password, start, .*\bendpoints, keys, .*\bapps \(gatehouse --help says more\)$/,
    );
    assert.doesNotMatch(envelope.error, /\bhelp,/, 'help is no command of its own');
    // Without --json: the help, on stderr, as before; a typo is still an unknown command.
    const forPeople = await runGatehouse([], NO_CREDENTIALS);
    assert.equal(forPeople.code, 1);
    assert.match(forPeople.stderr, /^Usage: gatehouse \[options\] \[command\]\n/);
    assert.equal(forPeople.stdout, '');
    for (const args of [['lst'], ['lst', 'x'], ['--json', 'lst', 'x']]) {
      const typo = await runGatehouse(args, NO_CREDENTIALS);
      assert.equal(typo.code, 1, args.join(' '));
      assert.match(typo.stdout + typo.stderr, /unknown command 'lst'/, args.join(' '));
    }
  });

  test('gatehouse help with an unknown command says so; with a command path, shows that command', async () => {
    for (const [args, said] of [
      [['help', 'nope'], /^error: unknown command 'nope'\n/],
      [['help', 'keys', 'nope'], /^error: unknown command 'nope'\n/],
      [['keys', 'help', 'creat'], /^error: unknown command 'creat'\n\(Did you mean create\?\)\n/],
      // A word after a whole command was left out, and that command's help shown (exit 0).
      [['help', 'keys', 'list', 'extra'], /^error: unknown command 'extra'\n\nUsage: gatehouse keys list /],
      [['keys', 'help', 'list', 'extra'], /^error: unknown command 'extra'\n\nUsage: gatehouse keys list /],
      [['help', 'endpoints', 'list', 'orders', 'more'], /^error: unknown command 'orders'\n/],
      [['help', 'help', 'extra'], /^error: unknown command 'extra'\n/],
      [['keys', 'help', 'help', 'extra'], /^error: unknown command 'extra'\n/],
    ] as const) {
      const run = await runGatehouse([...args], NO_CREDENTIALS);
      assert.equal(run.code, 1, args.join(' '));
      assert.match(run.stderr, said, args.join(' '));
      assert.equal(run.stdout, '', args.join(' '));
    }
    for (const [args, word] of [
      [['--json', 'help', 'nope'], 'nope'],
      [['help', 'keys', 'list', 'extra', '--json'], 'extra'],
    ] as const) {
      const json = await runGatehouse([...args], NO_CREDENTIALS);
      assert.equal(json.code, 1, args.join(' '));
      assert.equal(JSON.parse(json.stdout).code, 'cli_usage');
      assert.equal(JSON.parse(json.stdout).error, `unknown command '${word}'`);
    }
    // commander's help command is no unknown command ("unknown command 'help' (Did you mean help?)").
    for (const args of [
      ['help', 'help'],
      ['keys', 'help', 'help'],
    ]) {
      const help = await runGatehouse(args, NO_CREDENTIALS);
      assert.equal(help.code, 0, `${args.join(' ')}: ${help.stderr}`);
      assert.match(help.stdout, /^Usage: gatehouse /, args.join(' '));
    }
    const path = await runGatehouse(['help', 'endpoints', 'list'], NO_CREDENTIALS);
    assert.equal(path.code, 0, path.stderr);
    assert.match(path.stdout, /^Usage: gatehouse endpoints list \[options\]\n/);
    // An option's value is no word after the command: its help, as before.
    for (const [args, usage] of [
      [
        ['help', 'records', 'import', '--format', 'csv'],
        /^Usage: gatehouse records import \[options\] <endpoint> <file>\n/,
      ],
      [
        ['help', 'keys', 'create', '--env', 'test', '--name', 'partner'],
        /^Usage: gatehouse keys create \[options\]\n/,
      ],
    ] as const) {
      const help = await runGatehouse([...args], NO_CREDENTIALS);
      assert.equal(help.code, 0, `${args.join(' ')}: ${help.stderr}`);
      assert.match(help.stdout, usage, args.join(' '));
    }
  });

  test("a group's help command still answers: gatehouse endpoints help list", async () => {
    const one = await cli('endpoints', 'help', 'list');
    assert.equal(one.code, 0, one.stderr);
    assert.match(one.stdout, /^Usage: gatehouse endpoints list \[options\]\n/);
    const root = await cli('help', 'endpoints');
    assert.equal(root.code, 0, root.stderr);
    assert.match(root.stdout, /^Usage: gatehouse endpoints \[options\] \[command\]\n/);
    const group = await cli('keys', 'help');
    assert.equal(group.code, 0, group.stderr);
    assert.match(group.stdout, /^Usage: gatehouse keys \[options\] \[command\]\n/);
    assert.match(group.stdout, /^ {2}help \[command\] +display help for command$/m);
  });

  test('keys update --per-month none removes the limit', async () => {
    const created = await cli(
      'keys',
      'create',
      '--name',
      'p',
      '--env',
      'test',
      '--per-minute',
      '60',
      '--per-month',
      '1000',
      '--json',
    );
    assert.equal(created.code, 0, created.stderr);
    const id = JSON.parse(created.stdout).data.id as string;
    const updated = await cli('keys', 'update', id, '--per-month', 'none', '--json');
    assert.equal(updated.code, 0, updated.stdout + updated.stderr);
    assert.deepEqual(JSON.parse(updated.stdout).data.limits, { per_minute: 60 });
  });

  test('keys create says the limits and expiry it set; --expires-at takes a bare date as its start (UTC)', async () => {
    const created = await cli(
      'keys',
      'create',
      '--name',
      'dated',
      '--env',
      'test',
      '--per-minute',
      '60',
      '--expires-at',
      '2099-01-31',
    );
    assert.equal(created.code, 0, created.stderr);
    assert.match(created.stdout, /^limits\s+\{"per_minute":60\}$/m);
    assert.match(created.stdout, /^expires_at\s+2099-01-31T00:00:00\.000Z$/m);
    const id = /^id\s+(\S+)$/m.exec(created.stdout)?.[1] as string;
    const moved = await cli('keys', 'update', id, '--expires-at', '2099-12-31', '--json');
    assert.equal(JSON.parse(moved.stdout).data.expires_at, '2099-12-31T00:00:00.000Z');
    const bad = await cli('keys', 'update', id, '--expires-at', '2099-02-30');
    assert.equal(bad.code, 1);
    assert.match(
      bad.stderr,
      /option '--expires-at <when>' argument '2099-02-30' is invalid\. 2099-02-30 is not a date/,
    );
    assert.equal(
      (await server.admin('GET', `/admin/v1/keys/${id}`)).body.data.expires_at,
      '2099-12-31T00:00:00.000Z',
    );
  });

  test('endpoints create and update refuse an --expires-at in the past, naming it; nothing is made or changed', async () => {
    const create = [
      'endpoints',
      'create',
      '--slug',
      'bygone',
      '--field',
      'a:string',
      '--expires-at',
      '2020-01-01',
    ];
    const made = await cli(...create);
    assert.equal(made.code, 1, made.stdout + made.stderr);
    assert.match(
      made.stderr,
      /^Error: Invalid request \(invalid_request\)\n {2}--expires-at: Must be in the future$/m,
    );
    const json = await cli(...create, '--json');
    assert.equal(json.code, 1, json.stdout);
    assert.deepEqual(JSON.parse(json.stdout).details, [
      { field: 'expires_at', error: 'Must be in the future' },
    ]);
    assert.equal((await server.admin('GET', '/admin/v1/endpoints/bygone')).status, 404, 'nothing made');
    await server.createEndpoint({ slug: 'bygone', name: 'Bygone', schema: { type: 'object' } });
    const moved = await cli(
      'endpoints',
      'update',
      'bygone',
      '--name',
      'Gone',
      '--expires-at',
      '2020-01-01T10:00:00Z',
    );
    assert.equal(moved.code, 1, moved.stdout + moved.stderr);
    assert.match(moved.stderr, /^ {2}--expires-at: Must be in the future$/m);
    const kept = (await server.admin('GET', '/admin/v1/endpoints/bygone')).body.data;
    assert.deepEqual([kept.name, kept.expires_at], ['Bygone', null], 'nothing changed');
  });

  test("keys list shows each key's limits, and none for a key with none of its own and no defaults", async () => {
    const limited = await server.createKey({
      name: 'limited',
      environment: 'test',
      limits: { per_minute: 60, per_month: 1000 },
    });
    const plain = await server.createKey({ name: 'plain', environment: 'test' });
    const listed = await cli('keys', 'list');
    assert.equal(listed.code, 0, listed.stderr);
    const lines = listed.stdout.split('\n');
    assert.match(lines[0] ?? '', /\bSCOPES\s+LIMITS\s+LAST_USED_AT\b/);
    const row = (id: string) => lines.find((line) => line.startsWith(id)) ?? '';
    assert.match(row(limited.id), /\s60\/minute, 1000\/month\s/);
    // This server sets no GATEHOUSE_DEFAULT_PER_* (meta.default_limits all null): no limit applies.
    assert.match(row(plain.id), /\snone\s/);
    // --json keeps the API's fields as they are, the defaults included.
    assert.deepEqual(JSON.parse((await cli('keys', 'list', '--json')).stdout).meta, {
      default_limits: { per_minute: null, per_day: null, per_month: null },
    });
    const json = JSON.parse((await cli('keys', 'list', '--json')).stdout);
    const byId = new Map(json.data.map((k: { id: string; limits: object }) => [k.id, k.limits]));
    assert.deepEqual(byId.get(limited.id), { per_minute: 60, per_month: 1000 });
    assert.deepEqual(byId.get(plain.id), {});
  });

  test('keys list and show say expired for a key past its expires_at (the API refuses it so)', async () => {
    const brief = await server.createKey({
      name: 'brief',
      environment: 'test',
      expires_at: new Date(Date.now() + 1_000).toISOString(),
    });
    const later = await server.createKey({
      name: 'later',
      environment: 'test',
      expires_at: new Date(Date.now() + 86_400_000).toISOString(),
    });
    await new Promise((resolve) => setTimeout(resolve, 1_200));
    assert.equal(
      (await server.request('GET', '/api/v1/account', { key: brief.key })).body.code,
      'api_key_expired',
    );
    const listed = (await cli('keys', 'list')).stdout;
    const row = (id: string) => listed.split('\n').find((line) => line.startsWith(id)) ?? '';
    assert.match(row(brief.id), /\bexpired\b/);
    assert.match(row(later.id), /\bactive\b/);
    assert.match((await cli('keys', 'show', brief.id)).stdout, /^status\s+expired$/m);
    // --json gives the API's fields as they are, which say so too.
    assert.equal(JSON.parse((await cli('keys', 'show', brief.id, '--json')).stdout).data.status, 'expired');
  });
});
