import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { test } from 'node:test';
import { loadConfig } from '../src/config.ts';

/**
 * An env file's `NAME=` line sets the variable to the empty string. Every variable docs/DEPLOY.md
 * lists takes that as unset (its default), so a line left blank never gives a surprising
 * setting, such as Redis keys with no prefix at all.
 */
test('every variable in DEPLOY.md, set empty, gives the same configuration as unset', () => {
  const deploy = readFileSync(new URL('../docs/DEPLOY.md', import.meta.url), 'utf8');
  const names = new Set<string>();
  for (const line of deploy.split('\n')) {
    if (!line.startsWith('| `')) continue;
    const firstCell = line.split('|')[1] ?? '';
    for (const [, name] of firstCell.matchAll(/`([A-Z][A-Z0-9_]+)`/g)) names.add(name as string);
  }
  assert.ok(names.has('GATEHOUSE_REDIS_PREFIX') && names.size > 30, `read ${names.size} names`);
  const unset = loadConfig({});
  for (const name of names) assert.deepEqual(loadConfig({ [name]: '' }), unset, `${name}=`);
});
