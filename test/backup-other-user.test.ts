import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { chmodSync, mkdirSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { after, describe, test } from 'node:test';
import { promisify } from 'node:util';
import { createServices } from '../src/app.ts';
import { loadConfig } from '../src/config.ts';
import { createTestDatabase, type TestDatabase } from './helpers/database.ts';

const run = promisify(execFile);

/**
 * `gatehouse backup` run as a user who may read the database but not write its folder (a backup
 * user's cron job): SQLite cannot open a WAL database there even to read it. Said as that, not as
 * a file that "is not a readable SQLite database", which reads as a damaged one. Needs root (to
 * run the command as `nobody`).
 */
describe('gatehouse backup as a user who cannot write the database folder', () => {
  let database: TestDatabase | undefined;
  after(async () => {
    await database?.drop();
  });

  test('says to run it as the server user, not that the database is unreadable', {
    skip: process.getuid?.() !== 0,
  }, async () => {
    database = await createTestDatabase('sqlite');
    const path = database.config.kind === 'sqlite' ? database.config.path : '';
    await (await createServices(loadConfig({ DATABASE_URL: database.url, LOG_LEVEL: 'silent' }))).close();
    chmodSync(dirname(path), 0o755);
    chmodSync(path, 0o644);
    const out = join(dirname(path), 'drop');
    mkdirSync(out);
    chmodSync(out, 0o777);
    const result = await run(
      'runuser',
      ['-u', 'nobody', '--', process.execPath, 'bin/gatehouse.js', 'backup', join(out, 'b.db'), '--json'],
      { env: { ...process.env, DATABASE_URL: database.url, HOME: out } },
    ).then(
      () => assert.fail('the backup went through'),
      (error: { code: number; stdout: string }) => error,
    );
    assert.equal(result.code, 1);
    const envelope = JSON.parse(result.stdout);
    assert.equal(envelope.code, 'backup_failed');
    assert.ok(envelope.error.startsWith(`Could not open ${path} (`), envelope.error);
    assert.match(envelope.error, /run this as the user the server runs as/);
  });
});
