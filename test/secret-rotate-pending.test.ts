import assert from 'node:assert/strict';
import fs, { readFileSync } from 'node:fs';
import { syncBuiltinESMExports } from 'node:module';
import { dirname } from 'node:path';
import { after, before, test } from 'node:test';
import { createServices } from '../src/app.ts';
import { rotateSecret } from '../src/cli/secret-rotate.ts';
import { loadConfig } from '../src/config.ts';
import { commitRotatedSecret } from '../src/infra/installation-secret.ts';
import { pendingSecretFileOf, secretFileOf } from '../src/infra/secret-file.ts';
import { createTestDatabase, type TestDatabase } from './helpers/database.ts';

const NEW = 'the-new-installation-secret-9876543210';
const NEWER = 'the-newer-installation-secret-0123456789';

let database: TestDatabase;
let path: string;

before(async () => {
  database = await createTestDatabase('sqlite');
  path = (database.config as { path: string }).path;
  // A first start: the secret file beside the database and a value sealed with it.
  await (await createServices(loadConfig({ DATABASE_URL: database.url, LOG_LEVEL: 'silent' }))).close();
});
after(async () => {
  await database.drop();
});

/**
 * Runs `body` noting every file opened for writing (node:fs's openSync, which writeFileSync and
 * the rest go through too): a file created in place can be read empty or cut short meanwhile.
 */
async function openedForWriting(body: () => Promise<void> | void): Promise<string[]> {
  const opened: string[] = [];
  const original = fs.openSync;
  fs.openSync = ((...args: Parameters<typeof original>) => {
    const [file, flags] = args;
    if (
      typeof flags === 'string'
        ? /[wa+]/.test(flags)
        : (flags ?? 0) & (fs.constants.O_WRONLY | fs.constants.O_RDWR)
    )
      opened.push(String(file));
    return original(...args);
  }) as typeof fs.openSync;
  syncBuiltinESMExports();
  try {
    await body();
  } finally {
    fs.openSync = original;
    syncBuiltinESMExports();
  }
  return opened;
}

test('the pending secret file of a rotation appears whole: renamed into place, never written in place', async () => {
  const pending = pendingSecretFileOf(path);
  const rotated = await openedForWriting(async () => {
    await rotateSecret(
      loadConfig({ DATABASE_URL: database.url, LOG_LEVEL: 'silent', GATEHOUSE_NEW_SECRET: NEW }),
    );
  });
  assert.ok(rotated.length > 0, 'the rotation was observed writing its files');
  // Before: `<database>.secret.new` was created and then written, so a process starting at that
  // instant could read it empty and refuse to start ("too short").
  assert.deepEqual(
    rotated.filter((file) => file === pending),
    [],
  );
  assert.equal(readFileSync(secretFileOf(path), 'utf8'), `${NEW}\n`);
  assert.equal(fs.existsSync(pending), false);
  assert.deepEqual(
    fs.readdirSync(dirname(path)).filter((name) => name.endsWith('.tmp')),
    [],
    'no temporary file left',
  );
  // After the commit, the pending file gone (a process starting meanwhile took it): written again.
  const rewritten = await openedForWriting(() => commitRotatedSecret(path, NEWER));
  assert.ok(rewritten.length > 0);
  assert.deepEqual(
    rewritten.filter((file) => file === pending),
    [],
  );
  assert.equal(readFileSync(secretFileOf(path), 'utf8'), `${NEWER}\n`);
  assert.equal(fs.statSync(secretFileOf(path)).mode & 0o777, 0o600);
});
