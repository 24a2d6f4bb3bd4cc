import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { managementCli } from './helpers/process.ts';
import { ordersSchema, startTestServer, type TestServer } from './helpers/server.ts';

describe('endpoints walk: an owner evolving an endpoint partners use', () => {
  let server: TestServer;

  before(async () => {
    server = await startTestServer('sqlite');
    await server.createEndpoint({ slug: 'orders', name: 'Orders', schema: ordersSchema });
  });
  after(async () => server.close());

  test('a $schema of another draft (draft-07) is refused as invalid_schema naming it, not a 500; nothing is created or changed', async () => {
    const draft07 = { $schema: 'http://json-schema.org/draft-07/schema#', type: 'object' };
    const expected = [
      {
        field: 'schema.$schema',
        error:
          'Only JSON Schema draft 2020-12 is supported: set $schema to "https://json-schema.org/draft/2020-12/schema" or leave it out',
      },
    ];
    const created = await server.admin('POST', '/admin/v1/endpoints', {
      slug: 'legacy',
      name: 'Legacy',
      schema: draft07,
    });
    assert.equal(created.status, 400, created.text);
    assert.equal(created.body.code, 'invalid_schema');
    assert.deepEqual(created.body.details, expected);
    assert.equal((await server.admin('GET', '/admin/v1/endpoints/legacy')).status, 404);

    const before = (await server.admin('GET', '/admin/v1/endpoints/orders')).body.data;
    const patched = await server.admin('PATCH', '/admin/v1/endpoints/orders', { schema: draft07 });
    assert.equal(patched.status, 400, patched.text);
    assert.deepEqual(patched.body.details, expected);
    assert.deepEqual((await server.admin('GET', '/admin/v1/endpoints/orders')).body.data, before);

    const unknown = await server.admin('POST', '/admin/v1/endpoints', {
      slug: 'legacy',
      name: 'Legacy',
      schema: { $schema: 'nope', type: 'object' },
    });
    assert.equal(unknown.status, 400, unknown.text);
    assert.deepEqual(unknown.body.details, expected);

    for (const dialect of [
      'https://json-schema.org/draft/2020-12/schema',
      'https://json-schema.org/draft/2020-12/schema#',
    ]) {
      const ok = await server.admin('POST', '/admin/v1/endpoints', {
        slug: `dialect-${dialect.length}`,
        name: 'Dialect',
        schema: { $schema: dialect, type: 'object' },
      });
      assert.equal(ok.status, 201, ok.text);
    }

    const cli = await managementCli(server)(
      'endpoints',
      'create',
      '--slug',
      'legacy',
      '--schema',
      JSON.stringify(draft07),
    );
    assert.equal(cli.code, 1);
    assert.match(cli.stderr, /^Error: Invalid JSON Schema \(invalid_schema\)/);
    assert.match(cli.stderr, /Only JSON Schema draft 2020-12 is supported/);
  });

  test('a schema of more than 256 KiB of JSON is refused before it is compiled (40 000 properties held every request up for 11 s); nothing is created or changed', async () => {
    const wide = (count: number) => ({
      type: 'object',
      properties: Object.fromEntries(
        Array.from({ length: count }, (_, i) => [`field_${i}`, { type: 'string', maxLength: 50 }]),
      ),
    });
    // 6 000 properties: 270 001 bytes of JSON.
    const large = wide(6000);
    const bytes = Buffer.byteLength(JSON.stringify(large));
    assert.ok(bytes > 256 * 1024, String(bytes));
    const expected = [
      { field: 'schema', error: `Too large: ${Math.ceil(bytes / 1024)} KiB of JSON, at most 256 KiB` },
    ];
    const created = await server.admin('POST', '/admin/v1/endpoints', {
      slug: 'wide',
      name: 'Wide',
      schema: large,
    });
    assert.equal(created.status, 400, created.text.slice(0, 300));
    assert.equal(created.body.code, 'invalid_schema');
    assert.deepEqual(created.body.details, expected);
    assert.equal((await server.admin('GET', '/admin/v1/endpoints/wide')).status, 404);

    const before = (await server.admin('GET', '/admin/v1/endpoints/orders')).body.data;
    const patched = await server.admin('PATCH', '/admin/v1/endpoints/orders', { schema: large });
    assert.equal(patched.status, 400, patched.text.slice(0, 300));
    assert.deepEqual(patched.body.details, expected);
    assert.deepEqual((await server.admin('GET', '/admin/v1/endpoints/orders')).body.data, before);

    // A wide schema within the limit is taken.
    const ok = await server.admin('POST', '/admin/v1/endpoints', {
      slug: 'wide',
      name: 'Wide',
      schema: wide(2000),
    });
    assert.equal(ok.status, 201, ok.text.slice(0, 300));
  });

  test('an unknown format is refused at its keyword, with the formats there are (Ajv said it was "ignored")', async () => {
    const res = await server.admin('PATCH', '/admin/v1/endpoints/orders', {
      schema: {
        type: 'object',
        properties: { when: { type: 'string', format: 'datetime' } },
        $defs: { at: { type: 'string', format: 'datetime' } },
      },
    });
    assert.equal(res.status, 400, res.text);
    assert.equal(res.body.code, 'invalid_schema');
    assert.equal(res.body.details.length, 1);
    assert.equal(res.body.details[0].field, 'schema.properties.when.format');
    assert.match(
      res.body.details[0].error,
      /^Unknown format "datetime": the formats are binary, byte, date, date-time, .* url or uuid$/,
    );
    assert.equal((await server.admin('GET', '/admin/v1/endpoints/orders')).body.data.draft_revision, 1);
  });

  test('a PATCH naming slug (a rename) is refused saying the slug cannot change and what to do instead, not "Unknown field"; nothing changes', async () => {
    const before = (await server.admin('GET', '/admin/v1/endpoints/orders')).body.data;
    const res = await server.admin('PATCH', '/admin/v1/endpoints/orders', {
      slug: 'purchases',
      name: 'Purchases',
    });
    assert.equal(res.status, 400, res.text);
    assert.equal(res.body.code, 'invalid_request');
    assert.deepEqual(res.body.details, [
      {
        field: 'slug',
        error:
          'Cannot be changed: keys, apps and webhooks name the endpoint by it. Create an endpoint with the new slug instead (gatehouse records export and import move the records)',
      },
    ]);
    assert.deepEqual((await server.admin('GET', '/admin/v1/endpoints/orders')).body.data, before);
    assert.equal((await server.admin('GET', '/admin/v1/endpoints/purchases')).status, 404);
    // Other unknown fields are still said as such.
    const other = await server.admin('PATCH', '/admin/v1/endpoints/orders', { live_version: 3 });
    assert.deepEqual(other.body.details, [{ field: 'live_version', error: 'Unknown field' }]);
  });

  test('CLI: a --field with more than three parts is refused (the fourth was dropped without a word); nothing is created or changed', async () => {
    const cli = managementCli(server);
    const created = await cli(
      'endpoints',
      'create',
      '--slug',
      'parts',
      '--field',
      'note:string:required:unique',
    );
    assert.equal(created.code, 1);
    assert.equal(
      created.stderr,
      'Error: --field "note:string:required:unique": use name:type[:required] (3 parts at most, this has 4) (cli_usage)\n',
    );
    assert.equal((await server.admin('GET', '/admin/v1/endpoints/parts')).status, 404);

    const updated = await cli('endpoints', 'update', 'orders', '--field', 'note:string::', '--json');
    assert.equal(updated.code, 1);
    assert.deepEqual(JSON.parse(updated.stdout), {
      success: false,
      error: '--field "note:string::": use name:type[:required] (3 parts at most, this has 4)',
      code: 'cli_usage',
      details: [],
    });
    assert.equal((await server.admin('GET', '/admin/v1/endpoints/orders')).body.data.draft_revision, 1);
  });

  test('a draft-07 tuple (items as a list) is refused saying its 2020-12 form, prefixItems; a property called items keeps the plain message', async () => {
    const res = await server.admin('POST', '/admin/v1/endpoints', {
      slug: 'tuples',
      name: 'Tuples',
      schema: {
        type: 'object',
        properties: {
          point: { type: 'array', items: [{ type: 'number' }, { type: 'number' }] },
          items: [{ type: 'string' }],
        },
      },
    });
    assert.equal(res.status, 400, res.text);
    assert.equal(res.body.code, 'invalid_schema');
    assert.deepEqual(res.body.details, [
      {
        field: 'schema.properties.point.items',
        error:
          'Must be a schema (an object, or true or false): a list of schemas is the tuple form of draft-07; in draft 2020-12 it is prefixItems (and additionalItems is items)',
      },
      { field: 'schema.properties.items', error: 'Must be a schema (an object, or true or false)' },
    ]);
    assert.equal((await server.admin('GET', '/admin/v1/endpoints/tuples')).status, 404);
  });

  test('an unknown keyword (a typo, or draft-07 additionalItems) is said at its place, as the dashboard says it, not at "schema" in Ajv\'s words', async () => {
    for (const [schema, field, keyword] of [
      [
        { type: 'object', properties: { sku: { type: 'string', minLenght: 3 } } },
        'schema.properties.sku.minLenght',
        'minLenght',
      ],
      [
        {
          type: 'object',
          properties: { example: { type: 'string' } },
          anyOf: [{ properties: { tags: { type: 'array', prefixItems: [{}], additionalItems: false } } }],
        },
        'schema.anyOf[0].properties.tags.additionalItems',
        'additionalItems',
      ],
    ] as const) {
      const res = await server.admin('PATCH', '/admin/v1/endpoints/orders', { schema });
      assert.equal(res.status, 400, res.text);
      assert.equal(res.body.code, 'invalid_schema');
      assert.deepEqual(res.body.details, [{ field, error: `Unknown keyword "${keyword}"` }]);
    }
    assert.equal((await server.admin('GET', '/admin/v1/endpoints/orders')).body.data.draft_revision, 1);
  });
});
