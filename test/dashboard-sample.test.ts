import assert from 'node:assert/strict';
import { test } from 'node:test';
import { compileSchema } from '../src/endpoints/json-schema.ts';
import { sampleFor, samplePayload } from '../src/endpoints/sample.ts';

/**
 * The dashboard's sample payload (the test page's prefilled body, the endpoint page's sample)
 * passes the server's own validation of the schema it was made from.
 */
test('sample payloads pass the server validator, patterns included', () => {
  const schemas = [
    {
      type: 'object',
      required: ['sku', 'code', 'email', 'qty'],
      properties: {
        sku: { type: 'string', pattern: '^[A-Z]+-[0-9]+$' },
        code: { type: 'string', pattern: '^ORD-\\d{4}$', minLength: 8 },
        email: { type: 'string', format: 'email' },
        qty: { type: 'integer', minimum: 1, maximum: 10 },
        name: { type: 'string', pattern: '^name' },
        tags: { type: 'array', items: { type: 'string', pattern: '^[a-z]{2,3}$' } },
        status: { enum: ['new', 'paid'] },
      },
    },
    { type: 'object', properties: { id: { type: 'string', pattern: '^id-1$' } } },
    {
      type: 'object',
      required: ['cents', 'share', 'below', 'tenth', 'dozen'],
      properties: {
        cents: { type: 'integer', multipleOf: 100, minimum: 1 },
        share: { type: 'number', exclusiveMinimum: 0, exclusiveMaximum: 1 },
        below: { type: 'integer', exclusiveMaximum: 0 },
        tenth: { type: 'number', multipleOf: 0.1 },
        dozen: { type: 'integer', multipleOf: 12, minimum: 13, maximum: 30 },
      },
    },
  ];
  for (const schema of schemas) {
    const validate = compileSchema(schema);
    const sample = samplePayload(schema);
    assert.ok(validate(sample), `${JSON.stringify(sample)}: ${JSON.stringify(validate.errors)}`);
  }
  // The same sample each time, and a matching default is kept as it is.
  assert.deepEqual(samplePayload(schemas[0]), samplePayload(schemas[0]));
  assert.deepEqual(samplePayload(schemas[1]), { id: 'id-1' });
});

test('a field that is a $ref, or has $ref alternatives, is sampled as the schema it refers to', () => {
  const schema = {
    type: 'object',
    required: ['weight', 'tracking', 'parcel', 'declared', 'boxes', 'pieces'],
    $defs: {
      weight: {
        required: ['grams', 'unit'],
        type: 'object',
        properties: { unit: { $ref: '#/$defs/unit' }, grams: { minimum: 1, type: 'integer' } },
      },
      unit: { pattern: '^(g|kg)$', type: 'string' },
      parcel: { $ref: '#/$defs/weight' },
    },
    definitions: { code: { minLength: 12, type: 'string' } },
    properties: {
      weight: { anyOf: [{ $ref: '#/$defs/weight' }, { type: 'string' }] },
      tracking: { oneOf: [{ $ref: '#/definitions/code' }, { type: 'integer' }] },
      parcel: { $ref: '#/$defs/parcel' },
      declared: { anyOf: [{ $ref: '#/$defs/weight' }, { type: 'null' }] },
      boxes: { $ref: '#/$defs/weight/properties/grams', maximum: 5 },
      pieces: { minItems: 2, items: { $ref: '#/$defs/weight' }, type: 'array' },
    },
  };
  const { value, unmet } = sampleFor(schema);
  assert.deepEqual(unmet, []);
  const validate = compileSchema(schema);
  assert.ok(validate(value), `${JSON.stringify(value)}: ${JSON.stringify(validate.errors)}`);
  assert.equal((value as { boxes: unknown }).boxes, 1);
  // One that refers to itself without end is sampled so far, and said to need filling in.
  const tree = {
    type: 'object',
    $defs: { node: { type: 'object', properties: { child: { $ref: '#/$defs/node' } }, required: ['child'] } },
    properties: { root: { $ref: '#/$defs/node' } },
  };
  assert.equal(sampleFor(tree).unmet.length, 1);
});

test('a sample stays small whatever sizes the schema asks for, and names where it stops', () => {
  // Unbounded, minLength: 1000000000 or arrays of minItems: 1000 inside one another held the event
  // loop for minutes (the string grew one character at a time) or ran the process out of memory.
  const schema = {
    type: 'object',
    required: ['note', 'grid', 'tags'],
    properties: {
      code: { type: 'string', minLength: 900 },
      note: { type: 'string', minLength: 5000 },
      grid: {
        type: 'array',
        minItems: 50,
        items: {
          type: 'array',
          minItems: 50,
          items: { type: 'array', minItems: 50, items: { type: 'integer' } },
        },
      },
      tags: { type: 'array', minItems: 150, items: { type: 'string' } },
    },
  };
  const { value, unmet } = sampleFor(schema);
  assert.ok(JSON.stringify(value).length < 100_000, `${JSON.stringify(value).length} characters`);
  for (const place of ['note', 'tags']) assert.ok(unmet.includes(place), `${place} not in ${unmet}`);
  assert.ok(
    unmet.some((place) => place.startsWith('grid')),
    `grid not in ${unmet}`,
  );
  // Within the bounds the sample still meets the schema.
  const code = (value as { code: string }).code;
  assert.ok([...code].length >= 900, code);
});
