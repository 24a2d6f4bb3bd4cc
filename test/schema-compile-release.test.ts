import assert from 'node:assert/strict';
import { test } from 'node:test';
import { setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';
import { compileSchema } from '../src/endpoints/json-schema.ts';

setFlagsFromString('--expose-gc');
const collectGarbage = runInNewContext('gc') as () => void;

/** A schema compiled and its validator used, then let go of: what still refers to the schema. */
function compiledAndDropped(stored: boolean): WeakRef<object> {
  const schema = {
    type: 'object',
    required: ['sku'],
    properties: { sku: { type: 'string', pattern: '^[A-Z]+$' }, tags: { type: 'array', uniqueItems: true } },
  };
  const validate = compileSchema(schema, 'schema', stored);
  assert.equal(validate({ sku: 'AB' }), true);
  assert.equal(validate({ sku: 'ab' }), false);
  return new WeakRef(schema);
}

test('a compiled schema is freed with its validator: saving schemas again and again holds no memory', async () => {
  // Ajv keeps every schema it compiled, and the values its code uses, for ever: each save of a
  // schema, and each reload of a validator, held its compiled code (0.5 MB for 500 properties).
  const refs = [compiledAndDropped(false), compiledAndDropped(true)];
  // A WeakRef's target is kept until the current job ends.
  await new Promise((resolve) => setImmediate(resolve));
  collectGarbage();
  assert.deepEqual(
    refs.map((ref) => ref.deref() === undefined),
    [true, true],
  );
});
