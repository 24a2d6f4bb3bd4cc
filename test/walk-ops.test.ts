import assert from 'node:assert/strict';
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import BetterSqlite3 from 'better-sqlite3';
import { openDatabase } from '../src/infra/db/database.ts';
import { backupSqlite } from '../src/infra/db/sqlite-backup.ts';
import { createTestDatabase, type TestDatabase } from './helpers/database.ts';
import { runGatehouse } from './helpers/process.ts';

/** The operator's life over time on SQLite: restores. */
describe('operating a SQLite installation (walk)', () => {
  let database: TestDatabase;
  let folder: string;
  let path: string;
  const env = (file: string) => ({ DATABASE_URL: `sqlite:${file}`, LOG_LEVEL: 'warn', PORT: '0' });

  before(async () => {
    database = await createTestDatabase('sqlite');
    path = database.config.kind === 'sqlite' ? database.config.path : '';
    folder = join(path, '..');
    await (await openDatabase(database.config)).close();
  });
  after(async () => {
    await database.drop();
  });

  test("a later release's backup is refused by restore, naming its migration; the database stays in place", async () => {
    const newer = join(folder, 'newer.db');
    backupSqlite(path, newer);
    const db = new BetterSqlite3(newer);
    db.prepare('insert into kysely_migration (name, timestamp) values (?, ?)').run(
      '0099_future',
      new Date().toISOString(),
    );
    db.close();
    const bytes = readFileSync(path);

    const refused = await runGatehouse(['restore', newer, '--json'], env(path));
    assert.equal(refused.code, 1);
    assert.deepEqual(JSON.parse(refused.stdout), {
      success: false,
      error: `${newer} was made by a newer Gatehouse release (migration 0099_future, unknown to this one): restore it with that release, or restore a backup made by this one or an earlier one. Nothing was changed`,
      code: 'restore_failed',
      details: [],
    });
    assert.deepEqual(readFileSync(path), bytes, 'the database is unchanged');
    assert.deepEqual(
      readdirSync(folder).filter((f) => f.includes('before-restore') || f.endsWith('.restoring')),
      [],
    );
  });
});
