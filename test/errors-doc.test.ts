import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { test } from 'node:test';
import { Command } from 'commander';
import { renderErrorsDoc } from '../scripts/errors-doc.ts';
import { registerAppsCommands } from '../src/cli/apps-commands.ts';
import { registerCommands } from '../src/cli/commands.ts';
import { lazyConfig } from '../src/config.ts';
import { errorCodes } from '../src/errors.ts';

test('docs/errors.md documents every error code exactly as src/errors.ts defines it', () => {
  const doc = readFileSync(new URL('../docs/errors.md', import.meta.url), 'utf8');
  assert.equal(doc, renderErrorsDoc(), 'docs/errors.md is stale: run npm run docs:errors');
  for (const [code, e] of Object.entries(errorCodes))
    assert.ok(doc.includes(`| ${e.status} | \`${code}\` |`), code);
});

/** Every environment variable src/config.ts reads. */
function configVariables(): Set<string> {
  const source = readFileSync(new URL('../src/config.ts', import.meta.url), 'utf8');
  return new Set(
    [...source.matchAll(/env\.([A-Z][A-Z0-9_]+)|env, '([A-Z][A-Z0-9_]+)'/g)].map(
      (m) => (m[1] ?? m[2]) as string,
    ),
  );
}

test('docs/DEPLOY.md lists every environment variable the configuration reads, and no other', () => {
  const read = configVariables();
  assert.ok(read.size > 30, `found ${read.size} variables in src/config.ts`);
  const deploy = readFileSync(new URL('../docs/DEPLOY.md', import.meta.url), 'utf8');
  const table = deploy.slice(deploy.indexOf('## Environment'), deploy.indexOf('## Capacity plan'));
  const listed = new Set([...table.matchAll(/`([A-Z][A-Z0-9_]+)`/g)].map((m) => m[1] as string));
  for (const name of read)
    assert.ok(listed.has(name), `${name} is read by src/config.ts but not in DEPLOY.md`);
  for (const name of listed)
    assert.ok(read.has(name), `${name} is in DEPLOY.md but src/config.ts never reads it`);
});

test("docs/DEPLOY.md's environment file, units, Procfile and compose file name only variables and commands that exist", () => {
  const read = configVariables();
  const deploy = readFileSync(new URL('../docs/DEPLOY.md', import.meta.url), 'utf8');
  const setup = deploy.slice(deploy.indexOf('## Reference topology'), deploy.indexOf('## Environment'));
  const blocks = [...setup.matchAll(/```(\w*)\n([\s\S]*?)```/g)].map((m) => ({
    lang: m[1] as string,
    text: m[2] as string,
  }));
  const assigned = [
    // The environment file (/etc/gatehouse.env): NAME=value lines.
    ...blocks.filter((b) => b.lang === 'sh').flatMap((b) => [...b.text.matchAll(/^([A-Z][A-Z0-9_]+)=/gm)]),
    // The units' Environment= lines.
    ...blocks
      .filter((b) => b.lang === 'ini')
      .flatMap((b) => [...b.text.matchAll(/^Environment=([A-Z][A-Z0-9_]+)=/gm)]),
    // The compose file's Gatehouse environment (the postgres image's is inline, not at this depth).
    ...blocks
      .filter((b) => b.lang === 'yaml')
      .flatMap((b) => [...b.text.matchAll(/^ {6}([A-Z][A-Z0-9_]+):/gm)]),
  ].map((m) => m[1] as string);
  assert.ok(
    assigned.includes('GATEHOUSE_SECRET') && assigned.includes('PORT') && assigned.includes('HOST'),
    assigned.join(),
  );
  for (const name of assigned)
    assert.ok(read.has(name), `DEPLOY.md sets ${name}, which src/config.ts never reads`);

  const program = new Command();
  registerCommands(program, lazyConfig({}));
  registerAppsCommands(program, lazyConfig({}));
  const commands = new Set(program.commands.map((c) => c.name()));
  const readme = readFileSync(new URL('../README.md', import.meta.url), 'utf8');
  const named = [
    ...`${deploy}\n${readme}`.matchAll(/(?:bin\/gatehouse\.js|npx gatehouse|`gatehouse) ([a-z][a-z-]*)/g),
  ].map((m) => m[1] as string);
  for (const needed of ['serve', 'worker', 'start', 'init', 'backup', 'restore'])
    assert.ok(named.includes(needed), `DEPLOY.md or README.md names gatehouse ${needed}`);
  for (const name of named)
    assert.ok(commands.has(name), `the docs run gatehouse ${name}, which the CLI does not have`);
});
