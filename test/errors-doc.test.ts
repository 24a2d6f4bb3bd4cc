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

test('docs/DEPLOY.md lists every environment variable the configuration reads, and no other', () => {
  const source = readFileSync(new URL('../src/config.ts', import.meta.url), 'utf8');
  const read = new Set(
    [...source.matchAll(/env\.([A-Z][A-Z0-9_]+)|env, '([A-Z][A-Z0-9_]+)'/g)].map(
      (m) => (m[1] ?? m[2]) as string,
    ),
  );
  assert.ok(read.size > 30, `found ${read.size} variables in src/config.ts`);
  const deploy = readFileSync(new URL('../docs/DEPLOY.md', import.meta.url), 'utf8');
  const table = deploy.slice(deploy.indexOf('## Environment'), deploy.indexOf('## Capacity plan'));
  const listed = new Set([...table.matchAll(/`([A-Z][A-Z0-9_]+)`/g)].map((m) => m[1] as string));
  for (const name of read)
    assert.ok(listed.has(name), `${name} is read by src/config.ts but not in DEPLOY.md`);
  for (const name of listed)
    assert.ok(read.has(name), `${name} is in DEPLOY.md but src/config.ts never reads it`);
});
