import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { startTestServer, type TestServer } from './helpers/server.ts';

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
    key = (await server.createKey({ name: 'k', environment: 'test' })).key;
  });
  after(() => server.close());

  async function details(json: unknown): Promise<unknown> {
    const res = await server.request('POST', '/api/v1/data/shipments', { key, json });
    assert.equal(res.status, 400, res.text);
    assert.equal(res.body.code, 'validation_failed');
    return res.body.details;
  }

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

  test('a const names its value, duplicates name the items, and contains blames no single item', async () => {
    assert.deepEqual(await details({ version: 'v2' }), [{ field: 'version', error: 'Must be "v1"' }]);
    assert.deepEqual(await details({ tags: ['a', 'b', 'a'] }), [
      { field: 'tags', error: 'Must NOT have duplicate items (items 0 and 2 are identical)' },
    ]);
    assert.deepEqual(await details({ parcels: ['a', 'b'] }), [
      { field: 'parcels', error: 'Must contain at least 1 valid item(s)' },
    ]);
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
});
