import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { compileSchema } from '../src/endpoints/json-schema.ts';
import { startTestServer, type TestServer } from './helpers/server.ts';

/** How long a field name, and a whole field, may be in `details` (json-schema.ts NAME_CHARS, FIELD_CHARS). */
const NAME_CHARS = 100;
const FIELD_CHARS = 1000;

/** The details of the 400 `validation_failed` that a POST of `json` to `path` is answered with. */
async function refusal(server: TestServer, key: string, path: string, json: unknown): Promise<unknown> {
  const res = await server.request('POST', path, { key, json });
  assert.equal(res.status, 400, res.text);
  assert.equal(res.body.code, 'validation_failed');
  return res.body.details;
}

/** The invoices endpoint's schema: alternatives through $refs, nested and recursive. */
const endpointSchema = {
  type: 'object',
  $defs: {
    money: {
      type: 'object',
      properties: { amount: { type: 'integer', minimum: 0 }, currency: { $ref: '#/$defs/currency' } },
      required: ['amount', 'currency'],
    },
    currency: { type: 'string', pattern: '^[A-Z]{3}$' },
    price: { $ref: '#/$defs/money' },
    card: { type: 'object', properties: { number: { type: 'string' } }, required: ['number'] },
    node: {
      type: 'object',
      properties: {
        name: { type: 'string' },
        children: { type: 'array', items: { anyOf: [{ $ref: '#/$defs/node' }, { type: 'string' }] } },
      },
      required: ['name'],
    },
  },
  definitions: { iban: { type: 'string', minLength: 15 }, cents: { type: 'integer' } },
  properties: {
    total: { anyOf: [{ $ref: '#/$defs/money' }, { type: 'string' }] },
    payment: { oneOf: [{ $ref: '#/$defs/card' }, { $ref: '#/definitions/iban' }] },
    discount: { anyOf: [{ $ref: '#/$defs/price' }, { type: 'integer' }] },
    tax: { anyOf: [{ $ref: '#/$defs/money' }, { type: 'null' }] },
    tree: { anyOf: [{ $ref: '#/$defs/node' }, { type: 'null' }] },
    quantity: { oneOf: [{ $ref: '#/definitions/cents' }, { type: 'number' }] },
  },
};

/**
 * The `details` of a 400 name what is wrong with each field, and only that: a field that may be
 * null, or one of several shapes, is not told about the branches its value was never meant for.
 */
describe('validation details', () => {
  let server: TestServer;
  let key: string;

  before(async () => {
    server = await startTestServer('sqlite');
    await server.createEndpoint({
      slug: 'shipments',
      name: 'Shipments',
      schema: {
        type: 'object',
        properties: {
          address: {
            anyOf: [
              {
                type: 'object',
                properties: { zip: { type: 'string' } },
                required: ['zip'],
              },
              { type: 'null' },
            ],
          },
          weight: { type: ['integer', 'null'], minimum: 1 },
          reference: { oneOf: [{ type: 'string', minLength: 3 }, { type: 'integer' }] },
          contact: {
            type: 'object',
            properties: { email: { type: 'string' }, phone: { type: 'string' } },
            anyOf: [{ required: ['email'] }, { required: ['phone'] }],
          },
          version: { const: 'v1' },
          discount: { anyOf: [{ const: 'none' }, { type: 'integer', minimum: 0 }] },
          size: { oneOf: [{ enum: ['S', 'M', 'L'] }, { type: 'integer', minimum: 1 }] },
          rate: { anyOf: [{ enum: [0.5, null] }, { type: 'string', const: 'market' }] },
          tags: { type: 'array', uniqueItems: true },
          parcels: { type: 'array', contains: { type: 'integer' } },
          codes: {
            type: 'array',
            items: {
              anyOf: [
                { type: 'string', minLength: 3 },
                { type: 'integer', minimum: 0 },
              ],
            },
          },
        },
      },
    });
    await server.createEndpoint({
      slug: 'notes',
      name: 'Notes',
      schema: {
        type: 'object',
        $defs: { tree: { type: 'object', additionalProperties: { $ref: '#/$defs/tree' } } },
        properties: { tree: { $ref: '#/$defs/tree' } },
        additionalProperties: { type: 'array', items: { type: 'integer' } },
      },
    });
    await server.createEndpoint({
      slug: 'remarks',
      name: 'Remarks',
      schema: {
        type: 'object',
        properties: {
          title: { type: 'string' },
          meta: { type: 'object', propertyNames: { pattern: '^[a-z]+$' } },
        },
        dependentRequired: { discount: ['coupon'] },
        unevaluatedProperties: false,
        allOf: [{ properties: { discount: { type: 'integer' }, coupon: { type: 'string' } } }],
      },
    });
    key = (await server.createKey({ name: 'k', environment: 'test' })).key;
  });
  after(() => server.close());

  const details = (json: unknown) => refusal(server, key, '/api/v1/data/shipments', json);

  test('an unevaluated field, a field another requires, and a field name a pattern refuses', async () => {
    // Each was told as "(body)" or the object: "Must NOT have unevaluated properties", "Must have
    // property coupon when property discount is present", "Must match pattern …".
    assert.deepEqual(
      await refusal(server, key, '/api/v1/data/remarks', {
        title: 't',
        extra: 1,
        discount: 5,
        meta: { Bad1: 1 },
      }),
      [
        { field: 'meta.Bad1', error: 'Field name must match pattern "^[a-z]+$"' },
        { field: 'coupon', error: 'Required field is missing (required when discount is present)' },
        { field: 'extra', error: 'Unknown field' },
      ],
    );
  });

  test('a nullable object missing a field it requires is told only that', async () => {
    assert.deepEqual(await details({ address: {} }), [
      { field: 'address.zip', error: 'Required field is missing' },
    ]);
    assert.deepEqual(await details({ address: { zip: 5 } }), [
      { field: 'address.zip', error: 'Must be of type string' },
    ]);
  });

  test('a value of none of the allowed types is told all of them', async () => {
    assert.deepEqual(await details({ address: 'x' }), [
      { field: 'address', error: 'Must be of type object or null' },
    ]);
    assert.deepEqual(await details({ weight: 'x' }), [
      { field: 'weight', error: 'Must be of type integer or null' },
    ]);
    assert.deepEqual(await details({ reference: 1.5 }), [
      { field: 'reference', error: 'Must be of type string or integer' },
    ]);
  });

  test('a value of one allowed type is told what that type requires', async () => {
    assert.deepEqual(await details({ weight: 0 }), [{ field: 'weight', error: 'Must be >= 1' }]);
    assert.deepEqual(await details({ reference: 'ab' }), [
      { field: 'reference', error: 'Must NOT have fewer than 3 characters' },
    ]);
  });

  test('alternatives of one type (email or phone) say that one of them is enough', async () => {
    assert.deepEqual(await details({ contact: {} }), [
      { field: 'contact.email', error: 'Required field is missing' },
      { field: 'contact.phone', error: 'Required field is missing' },
      {
        field: 'contact',
        error: 'Must match at least one of 2 alternatives: fixing what one of them lacks is enough',
      },
    ]);
    assert.equal(
      (await server.request('POST', '/api/v1/data/shipments', { key, json: { contact: { phone: '1' } } }))
        .status,
      202,
    );
  });

  test('each item of an array of several types is told what is wrong with it', async () => {
    assert.deepEqual(await details({ codes: ['a', -1] }), [
      { field: 'codes[0]', error: 'Must NOT have fewer than 3 characters' },
      { field: 'codes[1]', error: 'Must be >= 0' },
    ]);
    assert.deepEqual(await details({ codes: [-1, 'abc', true, 'a'] }), [
      { field: 'codes[0]', error: 'Must be >= 0' },
      { field: 'codes[2]', error: 'Must be of type string or integer' },
      { field: 'codes[3]', error: 'Must NOT have fewer than 3 characters' },
    ]);
  });

  test('an alternative that is a const or an enum admits the types of its values', async () => {
    // Of none of the alternatives' types: told all of them, not only the const's value.
    assert.deepEqual(await details({ discount: true }), [
      { field: 'discount', error: 'Must be of type string or integer' },
    ]);
    assert.deepEqual(await details({ size: [] }), [
      { field: 'size', error: 'Must be of type string or integer' },
    ]);
    assert.deepEqual(await details({ rate: 1 }), [{ field: 'rate', error: 'Must be one of: 0.5, null' }]);
    assert.deepEqual(await details({ rate: false }), [
      { field: 'rate', error: 'Must be of type number, null or string' },
    ]);
    // Of one alternative's type: told what that alternative wants.
    assert.deepEqual(await details({ discount: 'half' }), [{ field: 'discount', error: 'Must be "none"' }]);
    assert.deepEqual(await details({ discount: -1 }), [{ field: 'discount', error: 'Must be >= 0' }]);
    assert.deepEqual(await details({ size: 'XL' }), [
      { field: 'size', error: 'Must be one of: "S", "M", "L"' },
    ]);
    assert.deepEqual(await details({ size: 0 }), [{ field: 'size', error: 'Must be >= 1' }]);
    assert.deepEqual(await details({ rate: 'spot' }), [{ field: 'rate', error: 'Must be "market"' }]);
    for (const json of [
      { discount: 'none' },
      { discount: 3 },
      { size: 'M' },
      { rate: null },
      { rate: 'market' },
    ]) {
      const res = await server.request('POST', '/api/v1/data/shipments', { key, json });
      assert.equal(res.status, 202, JSON.stringify(json));
    }
  });

  test('a const names its value, duplicates name the items, and contains blames no single item', async () => {
    assert.deepEqual(await details({ version: 'v2' }), [{ field: 'version', error: 'Must be "v1"' }]);
    assert.deepEqual(await details({ tags: ['a', 'b', 'a'] }), [
      { field: 'tags', error: 'Must NOT have duplicate items (items 0 and 2 are identical)' },
    ]);
    assert.deepEqual(await details({ parcels: ['a', 'b'] }), [
      { field: 'parcels', error: 'Must contain at least 1 valid item(s)' },
    ]);
  });

  test('duplicates are found by value, in one pass over the items', async () => {
    // Ajv compares every pair of items (a nested loop, O(N²)); the keyword that replaces it
    // keys each item once.
    const validate = compileSchema({
      type: 'object',
      properties: { tags: { type: 'array', uniqueItems: true } },
    });
    assert.doesNotMatch(String(validate), /outer\d*:\s*for/);
    assert.equal(validate({ tags: [{ x: 1, y: 2 }, 3, { y: 2, x: 1 }] }), false, 'key order does not matter');
    // 15 000 different numbers, then one of them again (a 75 KB body).
    const many = [...Array.from({ length: 15_000 }, (_, i) => i), 7];
    assert.deepEqual(await details({ tags: many }), [
      { field: 'tags', error: 'Must NOT have duplicate items (items 7 and 15000 are identical)' },
    ]);
    assert.deepEqual(await details({ tags: [[1, { a: null }], 'x', [1, { a: null }]] }), [
      { field: 'tags', error: 'Must NOT have duplicate items (items 0 and 2 are identical)' },
    ]);
    // Equal only as text, or in another order: all different.
    for (const tags of [
      ['1', 1],
      [true, 'true'],
      [
        [1, 2],
        [2, 1],
      ],
      [null, 'null'],
      [{ a: 1 }, { a: '1' }],
    ]) {
      const res = await server.request('POST', '/api/v1/data/shipments', { key, json: { tags } });
      assert.equal(res.status, 202, `${JSON.stringify(tags)}: ${res.text}`);
    }
  });

  test('a long field name is written once, not once per error below it, and shortened in details', async () => {
    // Ajv escaped the name into every error's instancePath: a copy per error, O(name × errors) in
    // time and memory (a 32 KB body ran the process out of memory).
    const validate = compileSchema({
      type: 'object',
      additionalProperties: { type: 'array', items: { type: 'integer' } },
    });
    assert.doesNotMatch(String(validate), /"\/" \+ key\d+\.replace\(/);
    const name = '~/'.repeat(5_000);
    assert.equal(validate({ [name]: Array(1_000).fill('x') }), false);
    assert.equal(validate.errors?.length, 1_000);
    const shortened = `${'~0~1'.repeat(NAME_CHARS / 2)}…`;
    assert.deepEqual(
      validate.errors?.slice(0, 2).map((e) => e.instancePath),
      [`/${shortened}/0`, `/${shortened}/1`],
    );
    const res = await server.request('POST', '/api/v1/data/notes', {
      key,
      json: { [name]: Array(1_000).fill('x'), short: ['y'] },
    });
    assert.equal(res.status, 400, res.text);
    assert.equal(res.body.details.length, 100);
    assert.deepEqual(res.body.details.slice(0, 2), [
      { field: `${name.slice(0, NAME_CHARS)}…[0]`, error: 'Must be of type integer' },
      { field: `${name.slice(0, NAME_CHARS)}…[1]`, error: 'Must be of type integer' },
    ]);
    // Names nested in names: the field is cut at FIELD_CHARS.
    let nested: unknown = 1;
    for (let level = 0; level < 15; level++) nested = { [`${'n'.repeat(150)}${level}`]: nested };
    const deep = await server.request('POST', '/api/v1/data/notes', { key, json: { tree: nested } });
    assert.equal(deep.status, 400, deep.text);
    const [detail] = deep.body.details as { field: string; error: string }[];
    assert.equal(detail?.field.length, FIELD_CHARS + 1);
    assert.ok(
      detail?.field.startsWith(`tree.${'n'.repeat(NAME_CHARS)}….${'n'.repeat(NAME_CHARS)}…`),
      detail?.field,
    );
    assert.ok(detail?.field.endsWith('…'));
    assert.deepEqual(deep.body.details.length, 1);
    const listed = await server.request('GET', '/api/v1/data/notes', { key });
    assert.deepEqual(listed.body.data, [], 'nothing stored');
  });

  test('the management API says the same of its own nullable fields (a key limit)', async () => {
    const res = await server.admin('POST', '/admin/v1/keys', {
      name: 'limited',
      environment: 'test',
      limits: { per_minute: 0 },
    });
    assert.equal(res.status, 400, res.text);
    assert.deepEqual(res.body.details, [{ field: 'limits.per_minute', error: 'Must be >= 1' }]);
  });

  /**
   * A field whose alternatives are references (`{$ref: "#/$defs/money"}`) is told the types of
   * the schemas they refer to, and only the errors of the alternative its value is meant for.
   */
  describe('through $ref alternatives', () => {
    before(async () => {
      await server.createEndpoint({
        slug: 'invoices',
        name: 'Invoices',
        schema: endpointSchema,
      });
    });

    /** Each body and the details it is refused with. */
    async function refused(cases: [unknown, unknown[]][]): Promise<void> {
      for (const [json, expected] of cases)
        assert.deepEqual(
          await refusal(server, key, '/api/v1/data/invoices', json),
          expected,
          JSON.stringify(json),
        );
    }

    test('a value of none of the alternatives is told all their types, read through the $ref', async () => {
      await refused([
        [{ total: 5 }, [{ field: 'total', error: 'Must be of type object or string' }]],
        [{ payment: 5 }, [{ field: 'payment', error: 'Must be of type object or string' }]],
        [{ discount: 'x' }, [{ field: 'discount', error: 'Must be of type object or integer' }]],
        [{ tax: 'x' }, [{ field: 'tax', error: 'Must be of type object or null' }]],
        [{ tree: 5 }, [{ field: 'tree', error: 'Must be of type object or null' }]],
      ]);
    });

    test('a value of one alternative is told only what that alternative requires', async () => {
      await refused([
        [
          { total: {} },
          [
            { field: 'total.amount', error: 'Required field is missing' },
            { field: 'total.currency', error: 'Required field is missing' },
          ],
        ],
        [{ payment: {} }, [{ field: 'payment.number', error: 'Required field is missing' }]],
        [{ payment: 'DE89' }, [{ field: 'payment', error: 'Must NOT have fewer than 15 characters' }]],
        [{ discount: { amount: 1 } }, [{ field: 'discount.currency', error: 'Required field is missing' }]],
        [
          { tax: { amount: -1, currency: 'eur' } },
          [
            { field: 'tax.amount', error: 'Must be >= 0' },
            { field: 'tax.currency', error: 'Must match pattern "^[A-Z]{3}$"' },
          ],
        ],
      ]);
    });

    test('a recursive $ref: each node is told what is wrong with it, and nothing of the other branch', async () => {
      await refused([
        [
          { tree: { name: 'a', children: [5, { name: 1 }, { children: [true] }] } },
          [
            { field: 'tree.children[0]', error: 'Must be of type object or string' },
            { field: 'tree.children[1].name', error: 'Must be of type string' },
            { field: 'tree.children[2].name', error: 'Required field is missing' },
            { field: 'tree.children[2].children[0]', error: 'Must be of type object or string' },
          ],
        ],
      ]);
    });

    test('a value that two alternatives of a oneOf take is told which', async () => {
      await refused([
        [
          { quantity: 5 },
          [
            {
              field: 'quantity',
              error: 'Must match exactly one of 2 alternatives: it matches alternatives 1 and 2',
            },
          ],
        ],
      ]);
    });

    test('thousands of items failing through a $ref are told in linear time: no error list is copied per item', async () => {
      // Ajv merges a called schema's errors by copying the list so far: O(N²), 36 s of the event
      // loop for 20 000 such items. Compiled now, the validator appends in place.
      const validate = compileSchema(endpointSchema);
      assert.doesNotMatch(String(validate), /vErrors\.concat\(/);
      assert.match(String(validate), /vErrors\.push\(added\$/);
      // 30 000 children that are neither a node nor a string (a 60 KB body).
      const details = (await refusal(server, key, '/api/v1/data/invoices', {
        tree: { name: 'root', children: Array(30_000).fill(1) },
      })) as { field: string; error: string }[];
      assert.equal(details.length, 100, 'the first 100 places');
      assert.deepEqual(details.slice(0, 2), [
        { field: 'tree.children[0]', error: 'Must be of type object or string' },
        { field: 'tree.children[1]', error: 'Must be of type object or string' },
      ]);
    });

    test('a refused body stores nothing', async () => {
      const listed = await server.request('GET', '/api/v1/data/invoices', { key });
      assert.equal(listed.status, 200, listed.text);
      assert.deepEqual(listed.body.data, []);
    });

    test('a valid value through each alternative is accepted', async () => {
      const money = { amount: 100, currency: 'EUR' };
      for (const json of [
        { total: money },
        { total: '100 EUR' },
        { payment: { number: '4242' } },
        { payment: 'DE89370400440532013000' },
        { discount: money },
        { discount: 5 },
        { tax: money },
        { tax: null },
        { tree: { name: 'a', children: ['b', { name: 'c', children: [] }] } },
        { tree: null },
        { quantity: 1.5 },
      ]) {
        const res = await server.request('POST', '/api/v1/data/invoices', { key, json });
        assert.equal(res.status, 202, `${JSON.stringify(json)}: ${res.text}`);
      }
      const listed = await server.request('GET', '/api/v1/data/invoices?limit=100', { key });
      assert.equal(listed.body.data.length, 11, listed.text);
    });
  });
});
