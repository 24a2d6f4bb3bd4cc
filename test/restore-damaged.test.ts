import assert from 'node:assert/strict';
import { readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { after, describe, test } from 'node:test';
import { createServices } from '../src/app.ts';
import { loadConfig } from '../src/config.ts';
import { createTestDatabase, type TestDatabase } from './helpers/database.ts';
import { runGatehouse } from './helpers/process.ts';

/**
 * A backup cut short (a copy or a download that did not finish) or empty: SQLite alone says
 * "database disk image is malformed" or reads it as an empty database; the restore says what the
 * file is, and changes nothing.
 */
describe('restore of a backup cut short or empty', () => {
  let database: TestDatabase;
  after(async () => {
    await database?.drop();
  });

  test('says cut short (how many bytes of how many) or empty; the database is untouched', async () => {
    database = await createTestDatabase('sqlite');
    const path = database.config.kind === 'sqlite' ? database.config.path : '';
    const env = { DATABASE_URL: database.url, LOG_LEVEL: 'warn' };
    await (await createServices(loadConfig({ ...env, LOG_LEVEL: 'silent' }))).close();
    const backup = join(dirname(path), 'b.db');
    assert.equal((await runGatehouse(['backup', backup], env)).code, 0);
    const whole = readFileSync(backup);
    const cut = join(dirname(path), 'cut.db');
    writeFileSync(cut, whole.subarray(0, Math.floor(whole.length / 2)));
    const stub = join(dirname(path), 'stub.db');
    writeFileSync(stub, whole.subarray(0, 50));
    const empty = join(dirname(path), 'empty.db');
    writeFileSync(empty, '');
    const bytes = readFileSync(path);
    for (const [file, message] of [
      [
        cut,
        new RegExp(
          `cut short: ${Math.floor(whole.length / 2)} bytes of the ${whole.length} its header counts .*Use another backup`,
        ),
      ],
      [stub, /cut short \(50 bytes\)/],
      [empty, /is empty: not a backup/],
    ] as const) {
      const refused = await runGatehouse(['restore', file, '--yes', '--json'], env);
      assert.equal(refused.code, 1, file);
      const envelope = JSON.parse(refused.stdout);
      assert.equal(envelope.code, 'restore_failed');
      assert.match(envelope.error, message);
      assert.doesNotMatch(envelope.error, /malformed|not a Gatehouse database/);
    }
    assert.deepEqual(readFileSync(path), bytes, 'the database is untouched');
    assert.deepEqual(
      readdirSync(dirname(path)).filter((f) => /before-restore|restoring/.test(f)),
      [],
    );
  });
});
