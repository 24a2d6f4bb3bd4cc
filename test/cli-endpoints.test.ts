import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { freePort } from '../bench/lib.ts';
import { managementCli, runGatehouse, runInTerminal } from './helpers/process.ts';
import { startTestServer, type TestServer } from './helpers/server.ts';

describe('CLI: an endpoint from draft to its deployed versions', () => {
  let server: TestServer;

  const cli = (...args: string[]) => managementCli(server)(...args);

  before(async () => {
    server = await startTestServer('sqlite');
  });
  after(async () => server.close());

  test('create, deploy, change the draft, deploy again: versions lists both, newest first', async () => {
    const created = await cli(
      'endpoints',
      'create',
      '--slug',
      'orders',
      '--name',
      'Orders',
      '--field',
      'order_id:string:required',
      '--field',
      'amount:integer',
    );
    assert.equal(created.code, 0, created.stderr);
    assert.equal((await cli('endpoints', 'versions', 'orders')).stdout.trim(), '(none)', 'a draft only');

    assert.equal((await cli('endpoints', 'deploy', 'orders')).code, 0);
    const schema = JSON.stringify({
      type: 'object',
      properties: { order_id: { type: 'string' }, amount: { type: 'integer' }, paid: { type: 'boolean' } },
      required: ['order_id', 'amount'],
    });
    const updated = await cli('endpoints', 'update', 'orders', '--schema', schema, '--name', 'Orders v2');
    assert.equal(updated.code, 0, updated.stderr);
    assert.equal((await cli('endpoints', 'deploy', 'orders')).code, 0);

    const table = (await cli('endpoints', 'versions', 'orders')).stdout.trim().split('\n');
    assert.match(table[0] as string, /^VERSION\s+NAME\s+FIELDS\s+MAX_BODY_BYTES\s+CREATED_AT$/);
    assert.match(table[1] as string, /^2\s+Orders v2\s+order_id\*, amount\*, paid\s+\d+/);
    assert.match(table[2] as string, /^1\s+Orders\s+order_id\*, amount\s+\d+/);

    const json = JSON.parse((await cli('endpoints', 'versions', 'orders', '--json')).stdout);
    assert.deepEqual(
      json.data.map((v: { version: number; object: string }) => [v.object, v.version]),
      [
        ['endpoint_version', 2],
        ['endpoint_version', 1],
      ],
    );

    const missing = await cli('endpoints', 'versions', 'nope');
    assert.equal(missing.code, 1);
    assert.match(missing.stderr, /endpoint_not_found/);
  });

  test('a schema integer a double cannot hold is refused by the API and the CLI, naming it; nothing is created or changed', async () => {
    const schema =
      '{"type":"object","properties":{"id":{"enum":[1152921504606846977]},"n":{"type":"integer","maximum":9007199254740993}}}';
    const post = (body: string, method = 'POST', path = '/admin/v1/endpoints') =>
      fetch(`${server.url}${path}`, {
        method,
        headers: { authorization: `Bearer ${server.token}`, 'content-type': 'application/json' },
        body,
      });
    const refused = await post(`{"slug":"longs","name":"Longs","schema":${schema}}`);
    assert.equal(refused.status, 400);
    const body = (await refused.json()) as { code: string; details: Array<{ field: string; error: string }> };
    assert.equal(body.code, 'invalid_schema');
    assert.equal(body.details[0]?.field, 'schema.properties.id.enum[0]');
    assert.match(
      body.details[0]?.error ?? '',
      /^1152921504606846977 has more digits than a 64-bit float holds: it would be stored and compared as 1152921504606847000\./,
    );
    assert.equal((await server.admin('GET', '/admin/v1/endpoints/longs')).status, 404);

    // A mistyped type is said once, with the types there are (it was three validator lines).
    const typo = await post(
      '{"slug":"typo","name":"Typo","schema":{"type":"object","properties":{"sku":{"type":"strin"}}}}',
    );
    assert.equal(typo.status, 400);
    const typoBody = (await typo.json()) as {
      code: string;
      details: Array<{ field: string; error: string }>;
    };
    assert.equal(typoBody.code, 'invalid_schema');
    assert.deepEqual(typoBody.details, [
      {
        field: 'schema.properties.sku.type',
        error: 'Must be one of string, number, integer, boolean, object, array or null, or a list of them',
      },
    ]);

    // A field called `type` is a field like any other; a field that is not a schema is said once.
    for (const [name, fieldSchema, error] of [
      ['type', 5, 'Must be a schema (an object, or true or false)'],
      ['kind', 5, 'Must be a schema (an object, or true or false)'],
      [
        'list',
        { type: ['string', 'strin'] },
        'Must be one of string, number, integer, boolean, object, array or null, or a list of them',
      ],
    ] as const) {
      const refused = await post(
        JSON.stringify({
          slug: 'odd',
          name: 'Odd',
          schema: { type: 'object', properties: { [name]: fieldSchema } },
        }),
      );
      assert.equal(refused.status, 400);
      const details = ((await refused.json()) as { details: Array<{ field: string; error: string }> })
        .details;
      assert.deepEqual(
        details.map((d) => d.error),
        [error],
        name,
      );
      assert.match(details[0]?.field ?? '', new RegExp(`^schema\\.properties\\.${name}`));
    }
    assert.equal((await server.admin('GET', '/admin/v1/endpoints/odd')).status, 404);

    // Through the CLI, from a file: the number reaches the server as written, and is refused.
    const { mkdtempSync, writeFileSync, rmSync } = await import('node:fs');
    const { join } = await import('node:path');
    const { tmpdir } = await import('node:os');
    const dir = mkdtempSync(join(tmpdir(), 'gatehouse-schema-'));
    try {
      const file = join(dir, 'schema.json');
      writeFileSync(file, schema);
      const createLongs = (...schema: string[]) =>
        cli('endpoints', 'create', '--slug', 'longs', '--name', 'Longs', ...schema);
      const cliRefused = await createLongs('--schema-file', file);
      assert.equal(cliRefused.code, 1);
      assert.match(
        cliRefused.stderr,
        /--schema-file \(schema\.properties\.id\.enum\[0\]\): 1152921504606846977 has more digits/,
      );
      assert.equal((await server.admin('GET', '/admin/v1/endpoints/longs')).status, 404);

      // A change to an existing draft: refused, the draft as it was.
      const made = await createLongs('--field', 'n:integer');
      assert.equal(made.code, 0, made.stderr);
      const before = (await server.admin('GET', '/admin/v1/endpoints/longs')).body.data;
      const patch = await cli(
        'endpoints',
        'update',
        'longs',
        '--schema',
        '{"type":"object","properties":{"n":{"const":-9007199254740993}}}',
      );
      assert.equal(patch.code, 1);
      assert.match(
        patch.stderr,
        /--schema \(schema\.properties\.n\.const\): -9007199254740993 has more digits .* as -9007199254740992\./,
      );
      const patchApi = await post(`{"schema":${schema}}`, 'PATCH', '/admin/v1/endpoints/longs');
      assert.equal(patchApi.status, 400);
      assert.deepEqual((await server.admin('GET', '/admin/v1/endpoints/longs')).body.data, before);

      // Integers a double holds, long or not, and long decimals, are taken as before.
      const fine = await cli(
        'endpoints',
        'update',
        'longs',
        '--schema',
        '{"type":"object","properties":{"n":{"type":"integer","maximum":9007199254740991,"minimum":-10000000000000000000},"d":{"multipleOf":0.00000000000000012345}}}',
      );
      assert.equal(fine.code, 0, fine.stderr);
      // 2^63 is held exactly, and 9223372036854776000 is how JavaScript writes that double:
      // both taken. An integer written with a fraction or an exponent is judged by its value.
      const exact = await post(
        '{"schema":{"type":"object","properties":{"a":{"maximum":9223372036854775808},"b":{"maximum":9223372036854776000}}}}',
        'PATCH',
        '/admin/v1/endpoints/longs',
      );
      assert.equal(exact.status, 200, await exact.text());
      // Through the CLI too: written with a fraction, the number still reaches the server as is.
      const fraction = await cli(
        'endpoints',
        'update',
        'longs',
        '--schema',
        '{"type":"object","properties":{"a":{"const":12345678901234567891.0}}}',
      );
      assert.equal(fraction.code, 1);
      assert.match(
        fraction.stderr,
        /--schema \(schema\.properties\.a\.const\): 12345678901234567891\.0 has more digits/,
      );
      for (const written of ['12345678901234567891.0', '1152921504606846977e0', '115292150460684697.7e1']) {
        const refusedForm = await post(
          `{"schema":{"type":"object","properties":{"a":{"const":${written}}}}}`,
          'PATCH',
          '/admin/v1/endpoints/longs',
        );
        assert.equal(refusedForm.status, 400, written);
      }
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  test('--schema-file - and apps --file - read stdin', async () => {
    const schema = JSON.stringify({ type: 'object', properties: { sku: { type: 'string' } } });
    const created = await managementCli(server, schema)(
      'endpoints',
      'create',
      '--slug',
      'piped',
      '--name',
      'Piped',
      '--schema-file',
      '-',
    );
    assert.equal(created.code, 0, created.stderr);
    const stored = (await server.admin('GET', '/admin/v1/endpoints/piped')).body.data;
    assert.deepEqual(stored.schema, JSON.parse(schema));
    const app = JSON.stringify({
      slug: 'piped-app',
      name: 'Piped app',
      routes: [{ method: 'GET', path: '/x', steps: [{ name: 'out', type: 'respond', body: "'x'" }] }],
    });
    const made = await managementCli(server, app)('apps', 'create', '--file', '-');
    assert.equal(made.code, 0, made.stderr);
    assert.equal((await server.admin('GET', '/admin/v1/apps/piped-app')).status, 200);
    const empty = await managementCli(server, '')('apps', 'create', '--file', '-');
    assert.equal(empty.code, 1);
    assert.match(empty.stderr, /--file -: Unexpected end of JSON input/);
  });

  test('endpoints get and keys get are endpoints show and keys show, named as help names them', async () => {
    await server.createEndpoint({ slug: 'aliased', name: 'Aliased', schema: { type: 'object' } });
    const key = await server.createKey({ name: 'aliased-key', environment: 'test', scopes: ['*'] });
    for (const [noun, id] of [
      ['endpoints', 'aliased'],
      ['keys', key.id],
    ] as const) {
      const shown = await cli(noun, 'show', id);
      const got = await cli(noun, 'get', id);
      assert.equal(got.code, 0, got.stderr);
      assert.equal(got.stdout, shown.stdout);
      assert.deepEqual(
        JSON.parse((await cli(noun, 'get', id, '--json')).stdout),
        JSON.parse((await cli(noun, 'show', id, '--json')).stdout),
      );
      const help = await cli(noun, '--help');
      assert.match(help.stdout, /^ {2}show\|get \[options\] <(slug|id)>/m);
    }
    const missing = await cli('endpoints', 'get', 'nope');
    assert.equal(missing.code, 1);
    assert.match(missing.stderr, /endpoint_not_found/);
  });

  test('a bad slug or scope is explained in words, not as a regular expression', async () => {
    const slug = await cli('endpoints', 'create', '--slug', 'A', '--name', 'A', '--field', 'x:string');
    assert.equal(slug.code, 1);
    assert.match(
      slug.stderr,
      /^ {2}--slug: Must be 2-63 lowercase letters, digits or hyphens, starting with a letter or digit/m,
    );
    const scope = await cli('keys', 'create', '--name', 'k', '--env', 'test', '--scope', 'orders:delete');
    assert.equal(scope.code, 1);
    assert.match(
      scope.stderr,
      /--scope \(scopes\[0\]\): Must be \*, records:read, records:write, <endpoint>:read/,
    );
  });

  test('endpoints delete, apps delete, keys revoke and webhooks delete ask first, or need --yes', async () => {
    const terminal = (args: string[], answer: string) =>
      runInTerminal(
        args,
        {
          GATEHOUSE_URL: server.url,
          GATEHOUSE_TOKEN: server.token,
          GATEHOUSE_CLI_CREDENTIALS: '/nonexistent',
        },
        [answer],
        /(Type \S+ to confirm:|Go ahead\? \[y\/N\]) /g,
      );
    await server.createEndpoint({ slug: 'doomed', name: 'Doomed', schema: { type: 'object' } });
    const key = await server.createKey({ name: 'k', environment: 'test', scopes: ['*'] });
    const written = await server.request('POST', '/api/v1/data/doomed', { key: key.key, json: { n: 1 } });
    assert.equal(written.status, 202);
    const stillThere = async () => {
      assert.equal((await server.admin('GET', '/admin/v1/endpoints/doomed')).status, 200);
      const record = await server.request('GET', `/api/v1/data/doomed/${written.body.id}`, { key: key.key });
      assert.equal(record.status, 200, 'the key still works and the record is kept');
    };

    // Not in a terminal (a script, CI): refused without --yes, in words and in --json.
    const scripted = await cli('endpoints', 'delete', 'doomed');
    assert.equal(scripted.code, 1);
    assert.match(
      scripted.stderr,
      /This deletes endpoint doomed \(Doomed\) with all its records .* Nothing was done: add --yes to go ahead .*\(cli_not_confirmed\)/,
    );
    const json = await cli('keys', 'revoke', key.id, '--json');
    assert.equal(json.code, 1);
    assert.equal(JSON.parse(json.stdout).code, 'cli_not_confirmed');
    await stillThere();

    // In a terminal: the warning and the question; a wrong answer does nothing.
    const wrongSlug = await terminal(['endpoints', 'delete', 'doomed'], 'doom');
    assert.equal(wrongSlug.code, 1, wrongSlug.screen);
    assert.match(wrongSlug.screen, /all its records \(test and live\)/);
    assert.match(wrongSlug.screen, /Type doomed to confirm: /);
    assert.match(wrongSlug.screen, /Not confirmed: nothing was done\. \(cli_not_confirmed\)/);
    const no = await terminal(['keys', 'revoke', key.id], 'n');
    assert.equal(no.code, 1, no.screen);
    assert.match(no.screen, /deactivate is the reversible way/);
    await stillThere();

    const yes = await terminal(['keys', 'revoke', key.id], 'y');
    assert.equal(yes.code, 0, yes.screen);
    assert.match(yes.screen, /status\s+revoked/);
    const typed = await terminal(['endpoints', 'delete', 'doomed'], 'doomed');
    assert.equal(typed.code, 0, typed.screen);
    assert.match(typed.screen, /Deleted endpoint doomed/);
    assert.equal((await server.admin('GET', '/admin/v1/endpoints/doomed')).status, 404);

    // --yes goes ahead without asking, in a script too.
    await server.createEndpoint({ slug: 'doomed', name: 'Doomed', schema: { type: 'object' } });
    const forced = await cli('endpoints', 'delete', 'doomed', '--yes');
    assert.equal(forced.code, 0, forced.stderr);
    assert.equal((await server.admin('GET', '/admin/v1/endpoints/doomed')).status, 404);
  });
});

describe('CLI: a command that asks first looks the id up before asking', () => {
  let server: TestServer;

  const cli = (...args: string[]) => managementCli(server)(...args);
  const env = () => ({
    GATEHOUSE_URL: server.url,
    GATEHOUSE_TOKEN: server.token,
    GATEHOUSE_CLI_CREDENTIALS: '/nonexistent',
  });
  const prompt = /(Type \S+ to confirm:|Go ahead\? \[y\/N\]) /g;
  /** The error envelope without its request id (one per request). */
  const envelopeOf = (stdout: string) => {
    const { request_id: _, ...rest } = JSON.parse(stdout) as { request_id?: string };
    return rest;
  };
  const unknown = [
    ['endpoints', 'delete', 'no-such-endpoint'],
    ['apps', 'delete', 'no-such-app'],
    ['keys', 'revoke', 'key_nosuchkey'],
    ['webhooks', 'delete', 'whk_nosuchsubscription'],
    ['tokens', 'revoke', 'gmt_nosuchtoken'],
  ];

  before(async () => {
    server = await startTestServer('sqlite');
  });
  after(async () => server.close());

  test('in a script, an unknown id is the not-found error --yes gets, not cli_not_confirmed', async () => {
    for (const args of unknown) {
      const asked = await cli(...args, '--json');
      assert.equal(asked.code, 1, asked.stdout);
      const forced = await cli(...args, '--yes', '--json');
      assert.equal(forced.code, 1, forced.stdout);
      assert.notEqual(JSON.parse(asked.stdout).code, 'cli_not_confirmed', args.join(' '));
      assert.match(JSON.parse(asked.stdout).code, /not_found$/, args.join(' '));
      assert.deepEqual(envelopeOf(asked.stdout), envelopeOf(forced.stdout), args.join(' '));
      const plain = await cli(...args);
      assert.doesNotMatch(plain.stderr, /--yes|cli_not_confirmed/, args.join(' '));
    }
  });

  test('in a script, a server that does not answer is said at once, not "add --yes"', async () => {
    const url = `http://127.0.0.1:${await freePort()}`;
    for (const args of unknown) {
      const down = await runGatehouse([...args, '--json'], { ...env(), GATEHOUSE_URL: url });
      assert.equal(down.code, 1, down.stdout);
      assert.equal(JSON.parse(down.stdout).code, 'cli_unreachable', args.join(' '));
    }
  });

  test('in a terminal: no question for an unknown id; a known one is named and asked about', async () => {
    const missing = await runInTerminal(['endpoints', 'delete', 'no-such-endpoint'], env(), [], prompt);
    assert.equal(missing.code, 1, missing.screen);
    assert.doesNotMatch(missing.screen, prompt);
    assert.doesNotMatch(missing.screen, /This deletes/);
    assert.match(missing.screen, /not_found\)/);

    await server.createEndpoint({ slug: 'kept', name: 'Kept orders', schema: { type: 'object' } });
    const known = await runInTerminal(['endpoints', 'delete', 'kept'], env(), ['n'], prompt);
    assert.equal(known.code, 1, known.screen);
    assert.match(known.screen, /This deletes endpoint kept \(Kept orders\) with all its records/);
    assert.match(known.screen, /Type kept to confirm: /);
    assert.match(known.screen, /\(cli_not_confirmed\)/);

    // Ctrl-C or Ctrl-D at the question: the refusal on a line of its own, not after the prompt.
    for (const key of ['\u0003', '\u0004']) {
      const cancelled = await runInTerminal(['endpoints', 'delete', 'kept'], env(), [key], prompt);
      assert.equal(cancelled.code, 1, cancelled.screen);
      const refusal = cancelled.screen.split(/\r?\n/).find((line) => line.includes('Not confirmed'));
      assert.ok(refusal, cancelled.screen);
      assert.doesNotMatch(refusal, /to confirm/, JSON.stringify(cancelled.screen));
    }

    const token = await cli('tokens', 'revoke', 'gmt_nosuchtoken');
    assert.match(token.stderr, /No management token gmt_nosuchtoken of yours \(not_found\)/);
    const missingToken = await runInTerminal(['tokens', 'revoke', 'gmt_nosuchtoken'], env(), [], prompt);
    assert.equal(missingToken.code, 1, missingToken.screen);
    assert.doesNotMatch(missingToken.screen, prompt);
    assert.equal((await server.admin('GET', '/admin/v1/endpoints/kept')).status, 200);
  });
});
