import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import { typesFor } from '../src/cli/types-command.ts';
import { nodeProjectOptions, tsc } from './helpers/tsc.ts';

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

  const dir = mkdtempSync(join(process.cwd(), '.sdk-walk-'));
  try {
    writeFileSync(join(dir, 'endpoints.ts'), types);
    const client = join(process.cwd(), 'packages/client/src/index.ts');
    writeFileSync(
      join(dir, 'use.ts'),
      [
        `import { Gatehouse } from ${JSON.stringify(client)};`,
        `import type { Endpoints } from './endpoints.ts';`,
        `const gh = new Gatehouse<Endpoints>({ apiKey: 'k' });`,
        // Each a body the server accepts; before, each failed to compile (an object was required).
        `void gh.records('notes').create({ note: 'call back', code: 'AB', other: 5, either: 'abc', list: [1, 'x'] });`,
        `void gh.records('notes').create({ note: 42, code: 7, kind: 'a', name: 'n' });`,
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
});
