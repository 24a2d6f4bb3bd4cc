import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { Gatehouse, NotFoundError } from '../packages/client/src/index.ts';
import { typesFor } from '../src/cli/types-command.ts';
import { ordersSchema, startTestServer, type TestServer } from './helpers/server.ts';
import { nodeProjectOptions, tsc } from './helpers/tsc.ts';

/**
 * `lines` compile with tsc against the generated `types` and the client: each file of code after
 * `import { Gatehouse }` and `import type { Endpoints }`.
 */
async function compilesWith(types: string, lines: string[]): Promise<void> {
  const dir = mkdtempSync(join(process.cwd(), '.sdk-walk-'));
  try {
    writeFileSync(join(dir, 'endpoints.ts'), types);
    const client = join(process.cwd(), 'packages/client/src/index.ts');
    writeFileSync(
      join(dir, 'use.ts'),
      [
        `import { Gatehouse } from ${JSON.stringify(client)};`,
        `import type { Endpoints } from './endpoints.ts';`,
        ...lines,
      ].join('\n'),
    );
    writeFileSync(
      join(dir, 'tsconfig.json'),
      JSON.stringify({
        compilerOptions: nodeProjectOptions({ allowImportingTsExtensions: true, skipLibCheck: true }),
        files: ['use.ts'],
      }),
    );
    await tsc(join(dir, 'tsconfig.json'));
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

test('gatehouse types: a field whose schema names no type takes any value, as the server does', async () => {
  const schema = {
    type: 'object',
    properties: {
      note: { description: 'Free-form: a string, a number, anything' },
      code: { minLength: 2 },
      other: { not: { type: 'string' } },
      either: JSON.parse('{ "if": { "type": "string" }, "then": { "maxLength": 3 } }'),
      list: { type: 'array', items: { description: 'anything' } },
      // Still typed as before: a type, an enum, an object's keywords.
      kind: { enum: ['a', 'b'] },
      meta: { properties: { a: { type: 'string' } } },
      pairs: { additionalProperties: { type: 'string' } },
      name: { type: 'string', description: 'A name' },
    },
    dependentRequired: { note: ['code'] },
  };
  const types = await typesFor([{ slug: 'notes', schema }]);
  assert.match(types, /\n {2}note\?: unknown;\n/);
  assert.match(types, /\n {2}code\?: unknown;\n/);
  assert.match(types, /\n {2}other\?: unknown;\n/);
  assert.match(types, /\n {2}either\?: unknown;\n/);
  assert.match(types, /\n {2}list\?: unknown\[\];\n/);
  assert.match(types, /\n {2}kind\?: "a" \| "b";\n/);
  assert.match(types, /\n {2}meta\?: \{\n {4}a\?: string;\n {4}\[k: string\]: unknown;\n {2}\};\n/);
  assert.match(types, /\n {2}pairs\?: \{\n {4}\[k: string\]: string;\n {2}\};\n/);
  assert.match(types, /\n {2}name\?: string;\n/);

  await compilesWith(types, [
    `const gh = new Gatehouse<Endpoints>({ apiKey: 'k' });`,
    // Each a body the server accepts; before, each failed to compile (an object was required).
    `void gh.records('notes').create({ note: 'call back', code: 'AB', other: 5, either: 'abc', list: [1, 'x'] });`,
    `void gh.records('notes').create({ note: 42, code: 7, kind: 'a', name: 'n' });`,
  ]);
});

test('gatehouse types: a schema with both $defs and definitions (the server takes it) compiles, every reference kept', async () => {
  const schema = {
    type: 'object',
    properties: {
      price: { $ref: '#/$defs/money' },
      label: { $ref: '#/definitions/money' },
      tag: { $ref: '#/definitions/tag' },
      deep: { $ref: '#/definitions/outer/definitions/inner' },
    },
    required: ['price'],
    $defs: {
      money: {
        type: 'object',
        properties: { cents: { type: 'integer', minimum: 0, maximum: 100 } },
        required: ['cents'],
      },
    },
    definitions: {
      money: { type: 'string' },
      tag: { enum: ['a', 'b'] },
      outer: { $defs: { x: { type: 'null' } }, definitions: { inner: { type: 'boolean' } } },
    },
  };
  // Before: "Schema must define either definitions or $defs, not both", for every endpoint's types.
  const types = await typesFor([{ slug: 'prices', schema }]);
  assert.match(
    types,
    /export interface PricesData \{\n {2}price: Money;\n {2}label\?: string;\n {2}tag\?: "a" \| "b";\n {2}deep\?: boolean;\n/,
  );
  assert.match(types, /export interface Money \{\n {2}cents: number;\n/);
});

test('gatehouse types: a list of integers is a list of number | bigint, not a number or a list of bigints', async () => {
  const schema = {
    type: 'object',
    properties: {
      scores: { type: 'array', items: { type: 'integer' } },
      codes: { type: 'array', items: { type: ['integer', 'string'] } },
      both: { allOf: [{ type: 'integer' }, { type: 'integer', multipleOf: 2 }] },
    },
  };
  const types = await typesFor([{ slug: 'games', schema }]);
  // Before: `scores?: number | bigint[];`, which refused [1, 2] and took 7.
  assert.match(types, /\n {2}scores\?: \(number \| bigint\)\[\];\n/);
  assert.match(types, /\n {2}codes\?: \(number \| bigint \| string\)\[\];\n/);
  assert.match(types, /\n {2}both\?: number \| bigint;\n/);
  await compilesWith(types, [
    `const games = new Gatehouse<Endpoints>({ apiKey: 'k' }).records('games');`,
    `void games.create({ scores: [1, 2, 9007199254740993n], codes: [1, 'a'], both: 4 });`,
    `// @ts-expect-error a number is not a list`,
    `void games.create({ scores: 7 });`,
    `export const first = async (id: string): Promise<number | bigint | undefined> => (await games.get(id)).data.scores?.[0];`,
  ]);
});

describe('@gatehouse/client, as a partner calls it', () => {
  let server: TestServer;
  let key: string;

  before(async () => {
    server = await startTestServer('sqlite');
    await server.createEndpoint({ slug: 'orders', name: 'Orders', schema: ordersSchema });
    key = (await server.createKey({ name: 'sdk', environment: 'test' })).key;
  });
  after(async () => {
    await server.close();
  });

  test('an empty record id, or . or .., is a record not found, not the first page read as a record', async () => {
    const orders = new Gatehouse<{ orders: { order_id: string; amount: number } }>({
      apiKey: key,
      baseUrl: server.url,
      maxRetries: 0,
    }).records('orders');
    await orders.create({ order_id: 'E-1', amount: 1 });
    const notFound = (e: unknown) =>
      e instanceof NotFoundError &&
      e.status === 404 &&
      e.code === 'record_not_found' &&
      e.message === 'Record not found';
    // Before: get('') answered the list's array as the record; replace and delete a 405.
    await assert.rejects(orders.get(''), notFound);
    await assert.rejects(orders.replace('', { order_id: 'E-2', amount: 2 }), notFound);
    await assert.rejects(orders.delete(''), notFound);
    // Before: the same for '.' (a URL drops it as a dot segment), and '..' a 404 "No route".
    for (const id of ['.', '..']) {
      await assert.rejects(orders.get(id), notFound);
      await assert.rejects(orders.replace(id, { order_id: 'E-2', amount: 2 }), notFound);
      await assert.rejects(orders.delete(id), notFound);
    }
    assert.equal((await orders.listPage()).data.length, 1, 'nothing was written');
  });

  test('a header value fetch cannot send is a TypeError at once, not "unreachable" after retries', async () => {
    let requests = 0;
    const stub: Server = createServer((_req, res) => {
      requests++;
      res.writeHead(503).end();
    });
    await new Promise<void>((r) => stub.listen(0, '127.0.0.1', r));
    const address = stub.address();
    const baseUrl = `http://127.0.0.1:${typeof address === 'object' && address ? address.port : 0}`;
    try {
      const started = Date.now();
      const orders = new Gatehouse<{ orders: { order_id: string; amount: number } }>({
        apiKey: 'gh_test',
        baseUrl,
      }).records('orders');
      const refused = (header: string) => (e: unknown) => {
        assert.ok(e instanceof TypeError, String(e));
        assert.equal(
          e.message,
          `Gatehouse: the ${header} header cannot be sent: its value must be Latin-1 text without line breaks or NUL`,
        );
        return true;
      };
      // Before: ConnectionError "Gatehouse unreachable: Cannot convert argument to a ByteString…",
      // after two retries.
      await assert.rejects(
        orders.create({ order_id: 'x', amount: 1 }, { idempotencyKey: 'order-€' }),
        refused('idempotency-key'),
      );
      await assert.rejects(
        orders.create(
          { order_id: 'x', amount: 1 },
          { callback: { url: 'https://me.example/h', auth: 'a\nb' } },
        ),
        refused('x-webhook-auth'),
      );
      // The key is not repeated in the message.
      await assert.rejects(
        new Gatehouse({ apiKey: 'gh_se\u0000cret', baseUrl }).account(),
        (e: unknown) => refused('authorization')(e) && !(e as Error).message.includes('cret'),
      );
      assert.equal(requests, 0);
      assert.ok(Date.now() - started < 200, 'no backoff');
    } finally {
      stub.closeAllConnections();
      await new Promise((r) => stub.close(r));
    }
  });
});

test('client options out of range are a RangeError when made, not endless retries or "unreachable"', () => {
  const make = (options: { timeoutMs?: number; maxRetries?: number; maxRetryWaitMs?: number }) =>
    new Gatehouse({ apiKey: 'gh_test', baseUrl: 'http://127.0.0.1:9', ...options });
  // Before: maxRetries NaN retried a 5xx forever; timeoutMs Infinity or 1.5 made every call a
  // ConnectionError, "Gatehouse unreachable: The value of \"delay\" is out of range…".
  const cases: Array<[Parameters<typeof make>[0], string]> = [
    [
      { maxRetries: Number(undefined) },
      'maxRetries must be a whole number from 0 to 9007199254740991, not NaN',
    ],
    [{ maxRetries: -1 }, 'maxRetries must be a whole number from 0 to 9007199254740991, not -1'],
    [
      { timeoutMs: Number.POSITIVE_INFINITY },
      'timeoutMs must be a whole number from 1 to 2147483647, not Infinity',
    ],
    [{ timeoutMs: 1.5 }, 'timeoutMs must be a whole number from 1 to 2147483647, not 1.5'],
    [{ timeoutMs: 0 }, 'timeoutMs must be a whole number from 1 to 2147483647, not 0'],
    // Before: accepted, and every call timed out at once (a timer past 2^31 − 1 ms fires in 1 ms).
    [{ timeoutMs: 2 ** 31 }, 'timeoutMs must be a whole number from 1 to 2147483647, not 2147483648'],
    [{ maxRetryWaitMs: Number.NaN }, 'maxRetryWaitMs must be 0 or more, not NaN'],
  ];
  for (const [options, message] of cases) {
    assert.throws(() => make(options), { name: 'RangeError', message: `Gatehouse: ${message}` });
  }
  make({ timeoutMs: 2 ** 31 - 1, maxRetries: 0, maxRetryWaitMs: Number.POSITIVE_INFINITY });
});

test('under exactOptionalPropertyTypes an option or filter may be undefined, as the README says it may', async () => {
  const dir = mkdtempSync(join(process.cwd(), '.sdk-walk-'));
  try {
    const client = join(process.cwd(), 'packages/client/src/index.ts');
    writeFileSync(
      join(dir, 'use.ts'),
      [
        `import { Gatehouse, verifyWebhook } from ${JSON.stringify(client)};`,
        'interface Order { order_id: string; amount: number; paid?: boolean }',
        'const env: Record<string, string | undefined> = {};',
        `const gh = new Gatehouse<{ orders: Order }>({ apiKey: 'k', baseUrl: env.GATEHOUSE_URL });`,
        `const paid: boolean | undefined = env.PAID === undefined ? undefined : env.PAID === 'yes';`,
        // Before: "Type 'undefined' is not assignable to type 'string | number | bigint | boolean | null'".
        `void gh.records('orders').listPage({ filter: { paid }, limit: undefined, order: undefined, after: env.AFTER });`,
        `void gh.records('orders').create({ order_id: 'x', amount: 1 }, { idempotencyKey: env.KEY, callback: undefined });`,
        // Before: "Type 'undefined' is not assignable to type 'number'".
        `export const check = (body: string) => verifyWebhook(body, {}, 'whsec_x', { toleranceSeconds: env.TOLERANCE === undefined ? undefined : Number(env.TOLERANCE), now: undefined });`,
      ].join('\n'),
    );
    writeFileSync(
      join(dir, 'tsconfig.json'),
      JSON.stringify({
        compilerOptions: nodeProjectOptions({
          allowImportingTsExtensions: true,
          skipLibCheck: true,
          exactOptionalPropertyTypes: true,
        }),
        files: ['use.ts'],
      }),
    );
    await tsc(join(dir, 'tsconfig.json'));
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
