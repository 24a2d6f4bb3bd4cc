import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { managementCli } from './helpers/process.ts';
import { startTestServer, type TestServer } from './helpers/server.ts';

/**
 * `gatehouse endpoints update --field/--remove-field` edit the draft's schema field by field: the
 * fields not named stay, with their keywords, and the live version is untouched until a deploy.
 * (`endpoints create --field` builds a whole schema, as before.)
 */
describe('CLI: editing a draft schema field by field', () => {
  let server: TestServer;
  const cli = (...args: string[]) => managementCli(server)(...args);
  const draft = async () => (await server.admin('GET', '/admin/v1/endpoints/orders')).body.data;

  const start = {
    type: 'object',
    properties: {
      order_id: { type: 'string', maxLength: 20 },
      amount: { type: 'integer', minimum: 0, maximum: 100000000000000000000 },
    },
    required: ['order_id', 'amount'],
    additionalProperties: false,
  };

  before(async () => {
    server = await startTestServer('sqlite');
    const made = await cli('endpoints', 'create', '--slug', 'orders', '--schema', JSON.stringify(start));
    assert.equal(made.code, 0, made.stderr);
    assert.equal((await cli('endpoints', 'deploy', 'orders')).code, 0);
  });
  after(async () => server.close());

  test('--field adds a field and keeps the others, their keywords and what is required', async () => {
    const run = await cli(
      'endpoints',
      'update',
      'orders',
      '--field',
      'note:string',
      '--field',
      'paid:boolean',
    );
    assert.equal(run.code, 0, run.stderr);
    const data = await draft();
    assert.deepEqual(data.schema, {
      ...start,
      properties: { ...start.properties, note: { type: 'string' }, paid: { type: 'boolean' } },
    });
    assert.equal(data.draft_revision, 2);
    const live = await server.admin('GET', '/admin/v1/endpoints/orders/versions');
    assert.deepEqual(live.body.data[0].schema, start, 'the live version stays as deployed');
  });

  test('--field redefines a field exactly as given, required or not; --remove-field takes one out', async () => {
    const run = await cli(
      'endpoints',
      'update',
      'orders',
      '--field',
      'amount:number',
      '--field',
      'note:string:required',
      '--remove-field',
      'paid',
      '--json',
    );
    assert.equal(run.code, 0, run.stderr);
    const expected = {
      ...start,
      properties: {
        order_id: start.properties.order_id,
        amount: { type: 'number' },
        note: { type: 'string' },
      },
      required: ['order_id', 'note'],
    };
    assert.deepEqual(JSON.parse(run.stdout).data.schema, expected);
    assert.deepEqual((await draft()).schema, expected);
  });

  test('a field named like an Object member (constructor) is a field like any other', async () => {
    const run = await cli('endpoints', 'update', 'orders', '--field', 'constructor:string');
    assert.equal(run.code, 0, run.stderr);
    assert.deepEqual((await draft()).schema.properties.constructor, { type: 'string' });
    const removed = await cli('endpoints', 'update', 'orders', '--remove-field', 'constructor');
    assert.equal(removed.code, 0, removed.stderr);
    assert.equal(Object.hasOwn((await draft()).schema.properties, 'constructor'), false);
  });

  test('refusals name the option and change nothing', async () => {
    const before = await draft();
    const cases: Array<[string[], RegExp]> = [
      [
        ['--remove-field', 'nope'],
        /--remove-field nope: the draft has no field nope \(its fields: order_id, amount, note\)/,
      ],
      [
        ['--remove-field', 'note', '--field', 'note:integer'],
        /--field note and --remove-field note: give one/,
      ],
      [
        ['--schema', '{"type":"object"}', '--field', 'x:string'],
        /--schema and --field: give the whole schema/,
      ],
      [['--schema', '{"type":"object"}', '--remove-field', 'note'], /--schema and --remove-field/],
      [['--field', 'x:int'], /--field "x:int": use name:type\[:required\]/],
      [
        ['--field', 'customer.email:string'],
        /--field "customer\.email:string": fields given with --field are top-level .*--schema or --schema-file/,
      ],
    ];
    for (const [args, message] of cases) {
      const run = await cli('endpoints', 'update', 'orders', ...args);
      assert.equal(run.code, 1, args.join(' '));
      assert.match(run.stderr, message);
      const json = await cli('endpoints', 'update', 'orders', ...args, '--json');
      assert.equal(JSON.parse(json.stdout).code, 'cli_usage');
    }
    const unknown = await cli('endpoints', 'update', 'nope', '--field', 'x:string', '--json');
    assert.equal(JSON.parse(unknown.stdout).code, 'endpoint_not_found');
    assert.deepEqual(await draft(), before);
  });

  test('a --field name holding "." is refused, not made a top-level field of that name; --schema can', async () => {
    const args = ['endpoints', 'create', '--slug', 'dotted', '--field', 'id:string', '--field', 'a.b:string'];
    const run = await cli(...args);
    assert.equal(run.code, 1, run.stdout + run.stderr);
    assert.match(
      run.stderr,
      /^Error: --field "a\.b:string": fields given with --field are top-level and their names cannot hold "\."; give nested objects with --schema or --schema-file \(cli_usage\)$/m,
      run.stderr,
    );
    const json = await cli(...args, '--json');
    assert.equal(json.code, 1, json.stdout);
    assert.equal(JSON.parse(json.stdout).code, 'cli_usage', json.stdout);
    assert.equal(json.stderr, '', 'the envelope alone');
    assert.equal((await server.admin('GET', '/admin/v1/endpoints/dotted')).status, 404, 'nothing created');
    // A property named with a dot is the API's to allow: given whole, the schema is taken as it is.
    const schema = { type: 'object', properties: { 'a.b': { type: 'string' } } };
    const whole = await cli('endpoints', 'create', '--slug', 'dotted', '--schema', JSON.stringify(schema));
    assert.equal(whole.code, 0, whole.stderr);
    const made = await server.admin('GET', '/admin/v1/endpoints/dotted');
    assert.deepEqual(made.body.data.schema, schema, 'the schema as given');
  });

  test('endpoints create --field still builds the whole schema', async () => {
    const run = await cli('endpoints', 'create', '--slug', 'notes', '--field', 'constructor:string:required');
    assert.equal(run.code, 0, run.stderr);
    const made = await server.admin('GET', '/admin/v1/endpoints/notes');
    assert.deepEqual(made.body.data.schema, {
      type: 'object',
      properties: { constructor: { type: 'string' } },
      required: ['constructor'],
    });
  });
});
