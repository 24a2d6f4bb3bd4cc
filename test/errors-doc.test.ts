import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { test } from 'node:test';
import { renderErrorsDoc } from '../scripts/errors-doc.ts';
import { errorCodes } from '../src/errors.ts';

test('docs/errors.md documents every error code exactly as src/errors.ts defines it', () => {
  const doc = readFileSync(new URL('../docs/errors.md', import.meta.url), 'utf8');
  assert.equal(doc, renderErrorsDoc(), 'docs/errors.md is stale: run npm run docs:errors');
  for (const [code, e] of Object.entries(errorCodes))
    assert.ok(doc.includes(`| ${e.status} | \`${code}\` |`), code);
});
