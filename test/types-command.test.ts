import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { promisify } from 'node:util';
import { typesFor } from '../src/cli/types-command.ts';
import { ordersSchema, startTestServer, type TestServer } from './helpers/server.ts';

const run = promisify(execFile);

describe('gatehouse types', () => {
  let server: TestServer;
  const dir = mkdtempSync(join(process.cwd(), '.types-test-'));

  before(async () => {
    server = await startTestServer('sqlite');
    await server.createEndpoint({ slug: 'orders', name: 'Orders', schema: ordersSchema });
    await server.createEndpoint({
      slug: 'line-items',
      name: 'Line items',
      schema: {
        type: 'object',
        properties: {
          sku: { type: 'string' },
          qty: { type: 'integer' },
          count: { type: 'integer', minimum: 0, maximum: 100 },
          // A field named like a keyword whose value is data: still a schema, typed alike.
          default: { type: 'integer' },
          tags: { type: 'array', items: { enum: ['a', 'b'] }, maxItems: 5 },
          // A number or a string: its integers may be past 2^53 too.
          code: { type: ['integer', 'string'] },
        },
        required: ['sku'],
      },
    });
  });
  after(async () => {
    await server.close();
    rmSync(dir, { recursive: true, force: true });
  });

  const cli = (...args: string[]) =>
    run(process.execPath, ['bin/gatehouse.js', ...args], {
      env: {
        ...process.env,
        GATEHOUSE_URL: server.url,
        GATEHOUSE_TOKEN: server.token,
        GATEHOUSE_CLI_CREDENTIALS: '/nonexistent',
      },
    });

  test('--env live names on stderr the endpoints left out for not being deployed', async () => {
    // Before: an empty Endpoints map, and records('orders') failed to compile with no word why.
    const { stdout, stderr } = await cli('types', '--env', 'live');
    assert.match(stdout, /export interface Endpoints \{\}/);
    assert.match(
      stderr,
      /^Not deployed to live, so not in these types: orders, line-items \(gatehouse endpoints deploy <slug>\)$/m,
    );
    const json = await cli('types', '--env', 'live', '--json');
    assert.deepEqual(JSON.parse(json.stdout).data.endpoints, []);
  });

  test('prints types the client accepts, and wrong writes fail to compile', async () => {
    const { stdout } = await cli('types');
    assert.match(stdout, /export interface OrdersData/);
    assert.match(stdout, /export interface LineItemsData/);
    assert.match(stdout, /"line-items": LineItemsData\b/);
    // An unbounded integer may be past 2^53 (the client reads it as a bigint); a bounded one not.
    assert.match(stdout, /qty\?: number \| bigint;\n/);
    assert.match(stdout, /code\?: number \| bigint \| string;\n/);
    assert.match(stdout, /count\?: number;\n/);
    assert.match(stdout, /default\?: number \| bigint;\n/);
    // Indented as people write it: members two spaces in.
    assert.match(stdout, /export interface OrdersData \{\n( {2}\S.*\n)+\}\n/);
    // maxItems: an array of up to five, not a union of tuples.
    assert.match(stdout, /tags\?: \("a" \| "b"\)\[\]/);
    writeFileSync(join(dir, 'endpoints.ts'), stdout);
    const client = join(process.cwd(), 'packages/client/src/index.ts');
    writeFileSync(
      join(dir, 'ok.ts'),
      `import { Gatehouse } from ${JSON.stringify(client)};\nimport type { Endpoints } from './endpoints.ts';\nconst gh = new Gatehouse<Endpoints>({ apiKey: 'k' });\nvoid gh.records('orders').create({ order_id: 'x', amount: 1 });\nvoid gh.records('line-items').create({ sku: 's', tags: ['a'] });\nconst tags: Array<'a' | 'b'> = ['a', 'b'];\nvoid gh.records('line-items').create({ sku: 's', tags, qty: 9007199254740993n, count: 3 });\n`,
    );
    writeFileSync(
      join(dir, 'bad.ts'),
      `import { Gatehouse } from ${JSON.stringify(client)};\nimport type { Endpoints } from './endpoints.ts';\nconst gh = new Gatehouse<Endpoints>({ apiKey: 'k' });\nvoid gh.records('line-items').create({ sku: 's', tags: ['c'] });\n`,
    );
    await tscCheck('ok.ts');
    await assert.rejects(tscCheck('bad.ts'), (e: { stdout: string }) =>
      /Type '"c"' is not assignable/.test(e.stdout),
    );

    const one = await cli('types', '--endpoint', 'orders');
    assert.doesNotMatch(one.stdout, /LineItems/);
    const live = await cli('types', '--env', 'live');
    assert.doesNotMatch(live.stdout, /OrdersData/, 'nothing is deployed yet');
    const json = JSON.parse((await cli('types', '--endpoint', 'orders', '--json')).stdout);
    assert.equal(json.success, true);
    assert.match(json.data.types, /export interface OrdersData/);
  });

  test('slugs that read alike, a leading digit and nested titles shared by endpoints still compile, each type its own', async () => {
    const address = (field: string) => ({
      type: 'object',
      title: 'Address',
      properties: { street: { type: 'string' }, [field]: { type: 'string' } },
      required: ['street', field],
    });
    const endpoints: Array<[string, object]> = [
      ['v2', { type: 'object', required: ['alpha'], properties: { alpha: { type: 'string' } } }],
      ['v-2', { type: 'object', required: ['beta'], properties: { beta: { type: 'integer' } } }],
      ['9lives', { type: 'object', properties: { lives: { type: 'integer' } } }],
      ['line--items', { type: 'object', properties: { other: { type: 'string' } } }],
      ['people', { type: 'object', properties: { home: address('zip') } }],
      ['places', { type: 'object', properties: { home: address('city') } }],
      [
        'points',
        {
          type: 'object',
          properties: { at: { $ref: '#/$defs/point' } },
          $defs: { point: { type: 'object', required: ['x'], properties: { x: { type: 'number' } } } },
        },
      ],
      // A nested title that is a later endpoint's type name: that name stays the endpoint's.
      [
        'zz-first',
        {
          type: 'object',
          properties: {
            inner: { type: 'object', title: 'ZzLastData', properties: { deep: { type: 'string' } } },
          },
        },
      ],
      ['zz-last', { type: 'object', required: ['last'], properties: { last: { type: 'string' } } }],
      // A 2020-12 tuple: a string then an integer, nothing after.
      [
        'tuples',
        {
          type: 'object',
          properties: {
            pair: { type: 'array', prefixItems: [{ type: 'string' }, { type: 'integer' }], items: false },
          },
        },
      ],
    ];
    for (const [slug, schema] of endpoints) await server.createEndpoint({ slug, name: slug, schema });
    const { stdout } = await cli('types');
    writeFileSync(join(dir, 'alike.ts'), stdout);
    const usage = (file: string, calls: string[]) => usingTypes(file, 'alike.ts', calls);
    usage('alike-ok.ts', [
      `void gh.records('v2').create({ alpha: 'a' });`,
      `void gh.records('v-2').create({ beta: 1 });`,
      `void gh.records('9lives').create({ lives: 9 });`,
      `void gh.records('line--items').create({ other: 'o' });`,
      `void gh.records('people').create({ home: { street: 'Main St', zip: '1' } });`,
      `void gh.records('places').create({ home: { street: 'Main St', city: 'Oslo' } });`,
      `void gh.records('points').create({ at: { x: 1 } });`,
      `void gh.records('zz-first').create({ inner: { deep: 'd' } });`,
      `void gh.records('zz-last').create({ last: 'l' });`,
      `void gh.records('tuples').create({ pair: ['a', 1] });`,
    ]);
    assert.match(stdout, /"zz-last": ZzLastData;\n/);
    usage('alike-bad.ts', [`void gh.records('v-2').create({ alpha: 'a' });`]);
    await tscCheck('alike-ok.ts');
    await assert.rejects(tscCheck('alike-bad.ts'), (e: { stdout: string }) => /beta/.test(e.stdout));
    usage('tuple-bad.ts', [`void gh.records('tuples').create({ pair: [1, 'a'] });`]);
    await assert.rejects(tscCheck('tuple-bad.ts'), (e: { stdout: string }) =>
      /pair|number|string/.test(e.stdout),
    );
  });

  test('optional fields named like Object.prototype members, and names that are not identifiers, compile and keep their types', async () => {
    // (`__proto__` is refused by the server as JSON; typesFor's own test below has it.)
    const schema = JSON.parse(`{
      "type": "object",
      "required": ["isPrototypeOf"],
      "properties": {
        "constructor": { "type": "integer", "minimum": 0, "maximum": 10 },
        "toString": { "type": "string" },
        "hasOwnProperty": { "type": "boolean" },
        "valueOf": { "type": "string" },
        "isPrototypeOf": { "type": "string" },
        "nested": {
          "type": "object",
          "properties": { "toLocaleString": { "type": "string" }, "hasOwnProperty": { "type": "string" } },
          "required": ["hasOwnProperty"]
        },
        "say \\"hi\\"": { "type": "string" },
        "it's": { "type": "string" },
        "kebab-case": { "type": "string" },
        "9lives": { "type": "string" },
        "ünïcode": { "type": "string" },
        "😀": { "type": "string" },
        "back\\\\slash": { "type": "string" },
        "": { "type": "string" }
      }
    }`);
    await server.createEndpoint({ slug: 'protos', name: 'Protos', schema });
    const { stdout } = await cli('types', '--endpoint', 'protos');
    assert.match(stdout, / {2}constructor\?: number \| \{\}\["constructor"\];\n/);
    assert.match(stdout, / {2}hasOwnProperty\?: boolean \| \{\}\["hasOwnProperty"\];\n/);
    assert.match(stdout, / {2}isPrototypeOf: string;\n/);
    assert.match(stdout, / {4}hasOwnProperty: string;\n/);
    writeFileSync(join(dir, 'protos.ts'), stdout);
    const usage = (file: string, calls: string[]) =>
      usingTypes(file, 'protos.ts', [`const protos = gh.records('protos');`, ...calls]);
    usage('protos-ok.ts', [
      // A record without the optional fields.
      `void protos.create({ isPrototypeOf: 'p' });`,
      `void protos.create({ isPrototypeOf: 'p', nested: { hasOwnProperty: 'h' } });`,
      `void protos.create({ isPrototypeOf: 'p', constructor: 3, toString: 's', hasOwnProperty: true, valueOf: 'v' });`,
      `void protos.create({ isPrototypeOf: 'p', 'say "hi"': 'a', "it's": 'b', 'kebab-case': 'c', '9lives': 'd', ünïcode: 'e', '😀': 'f', 'back\\\\slash': 'g', '': 'h' });`,
      `export const read = async () => {`,
      `  const { data } = await protos.get('rec_1');`,
      `  const s: string | undefined = typeof data.toString === 'string' ? data.toString : undefined;`,
      `  const n: number | undefined = typeof data.constructor === 'number' ? data.constructor : undefined;`,
      `  const p: string | undefined = data.nested?.toLocaleString === undefined ? undefined : String(data.nested.toLocaleString);`,
      `  const q: string = data['say "hi"'] ?? data['back\\\\slash'] ?? data['😀'] ?? data.ünïcode ?? data[''] ?? '';`,
      `  return [s, n, p, q, data.isPrototypeOf.length];`,
      `};`,
    ]);
    await tscCheck('protos-ok.ts');
    for (const [file, call] of [
      ['protos-bad-1.ts', `void protos.create({ isPrototypeOf: 'p', toString: 1 });`],
      ['protos-bad-2.ts', `void protos.create({ isPrototypeOf: 'p', constructor: 'x' });`],
      ['protos-bad-3.ts', `void protos.create({ isPrototypeOf: 'p', hasOwnProperty: 'x' });`],
      ['protos-bad-4.ts', `void protos.create({ toString: 's' });`],
      ['protos-bad-5.ts', `void protos.create({ isPrototypeOf: 'p', 'say "hi"': 1 });`],
      ['protos-bad-6.ts', `void protos.create({ isPrototypeOf: 'p', 'back\\\\slash': 1 });`],
    ] as const) {
      usage(file, [call]);
      await assert.rejects(tscCheck(file), (e: { stdout: string }) => /error TS/.test(e.stdout), file);
    }
  });

  test('keys named hasOwnProperty outside properties ($defs, patterns, dependent schemas, const and enum objects) compile', async () => {
    await server.createEndpoint({
      slug: 'own-keys',
      name: 'Own keys',
      schema: {
        type: 'object',
        $defs: {
          hasOwnProperty: {
            type: 'object',
            properties: { n: { type: 'integer', minimum: 0, maximum: 9 } },
            required: ['n'],
          },
        },
        patternProperties: { hasOwnProperty: { type: 'string' } },
        dependentSchemas: { hasOwnProperty: { required: ['label'] } },
        properties: {
          label: { type: 'string' },
          box: { $ref: '#/$defs/hasOwnProperty' },
          fixed: { const: { hasOwnProperty: 1 } },
          choice: { enum: [{ hasOwnProperty: 'x' }, 2] },
        },
        required: ['label'],
      },
    });
    const { stdout } = await cli('types', '--endpoint', 'own-keys');
    assert.match(stdout, / {2}box\?: HasOwnProperty;\n/);
    assert.doesNotMatch(stdout, /__gatehouse/);
    writeFileSync(join(dir, 'own-keys.ts'), stdout);
    const usage = (file: string, calls: string[]) =>
      usingTypes(file, 'own-keys.ts', [`const own = gh.records('own-keys');`, ...calls]);
    usage('own-keys-ok.ts', [
      `void own.create({ label: 'l', box: { n: 1 }, fixed: { hasOwnProperty: 1 }, choice: { hasOwnProperty: 'x' } });`,
      `void own.create({ label: 'l', choice: 2 });`,
    ]);
    await tscCheck('own-keys-ok.ts');
    for (const [file, call] of [
      ['own-keys-bad-1.ts', `void own.create({ label: 1 });`],
      ['own-keys-bad-2.ts', `void own.create({ label: 'l', box: { n: 'x' } });`],
      ['own-keys-bad-3.ts', `void own.create({ label: 'l', fixed: { hasOwnProperty: 2 } });`],
    ] as const) {
      usage(file, [call]);
      await assert.rejects(tscCheck(file), (e: { stdout: string }) => /error TS/.test(e.stdout), file);
    }
    // `definitions`, the draft-07 spelling (the compiler refuses a schema with both).
    const definitions = await typesFor([
      {
        slug: 'defs',
        schema: {
          type: 'object',
          definitions: { hasOwnProperty: { type: 'string' } },
          properties: { a: { $ref: '#/definitions/hasOwnProperty' } },
        },
      },
    ]);
    assert.match(definitions, /^export type HasOwnProperty = string;\n/m);
    assert.match(definitions, / {2}a\?: HasOwnProperty;\n/);
  });

  /** A file that uses the client with the types in `types`: `calls` are its lines after the set-up. */
  function usingTypes(file: string, types: string, calls: string[]) {
    writeFileSync(
      join(dir, file),
      [
        `import { Gatehouse } from ${JSON.stringify(join(process.cwd(), 'packages/client/src/index.ts'))};`,
        `import type { Endpoints } from './${types}';`,
        `const gh = new Gatehouse<Endpoints>({ apiKey: 'k' });`,
        ...calls,
        '',
      ].join('\n'),
    );
  }

  function tscCheck(file: string) {
    return run(process.execPath, [
      'node_modules/typescript/bin/tsc',
      '--noEmit',
      '--strict',
      '--target',
      'ES2022',
      '--module',
      'NodeNext',
      '--moduleResolution',
      'NodeNext',
      '--allowImportingTsExtensions',
      '--skipLibCheck',
      '--types',
      'node',
      join(dir, file),
    ]);
  }
});

test("a nested title or $defs key that spells a newer endpoint's type name otherwise does not take it", async () => {
  const ts = await typesFor([
    {
      slug: 'archive',
      schema: {
        type: 'object',
        properties: {
          // The compiler names these "OrdersData" and "LineItemsData": the names of the endpoints below.
          copy: { type: 'object', title: 'orders data', properties: { old: { type: 'string' } } },
          line: { $ref: '#/$defs/LineItemsData' },
        },
        $defs: { LineItemsData: { type: 'object', properties: { legacy: { type: 'string' } } } },
      },
    },
    { slug: 'orders', schema: { type: 'object', properties: { order_id: { type: 'string' } } } },
    { slug: 'line-items', schema: { type: 'object', properties: { sku: { type: 'string' } } } },
  ]);
  assert.match(ts, / {2}orders: OrdersData;\n/);
  assert.match(ts, / {2}"line-items": LineItemsData;\n/);
  assert.match(ts, /export interface OrdersData \{\n {2}order_id\?: string;/);
  assert.match(ts, /export interface LineItemsData \{\n {2}sku\?: string;/);
  // The definition keeps a name of its own.
  assert.match(ts, /line\?: LineItemsDataDef;/);
});

test('a field named __proto__ is a field of its own', async () => {
  // JSON.parse, so that `__proto__` is a key (in an object literal it would set the prototype).
  const schema = JSON.parse(
    '{"type":"object","properties":{"__proto__":{"type":"string"},"a":{"type":"integer"}}}',
  );
  const ts = await typesFor([{ slug: 'protos', schema }]);
  assert.match(ts, /export interface ProtosData \{\n {2}__proto__\?: string;\n {2}a\?: number \| bigint;\n/);
});
