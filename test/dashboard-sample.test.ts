import assert from 'node:assert/strict';
import { test } from 'node:test';
import { compileSchema } from '../src/endpoints/json-schema.ts';
import { samplePayload } from '../web/src/schema/sample.ts';

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
