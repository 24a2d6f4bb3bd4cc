import assert from 'node:assert/strict';
import { existsSync, mkdtempSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { runGatehouse } from './helpers/process.ts';
import { startTestServer, type TestServer } from './helpers/server.ts';

describe('gatehouse restore, walked through (SQLite)', () => {
  let server: TestServer;
  const dir = mkdtempSync(join(tmpdir(), 'gatehouse-cli-records-walk-'));

  before(async () => {
    server = await startTestServer('sqlite');
    await server.createEndpoint({ slug: 'orders', name: 'Orders', schema: { type: 'object' } });
  });
  after(async () => {
    await server.close();
    rmSync(dir, { recursive: true, force: true });
  });

  test("restoring a database in use (its -wal beside it) is refused: the copy missed the WAL's writes", async () => {
    const records = Array.from({ length: 50 }, (_, n) => ({ n }));
    const imported = await server.admin('POST', '/admin/v1/endpoints/orders/import', { records });
    assert.equal(imported.status, 200, imported.text);
    if (server.database.config.kind !== 'sqlite') throw new Error('a SQLite test server');
    const live = server.database.config.path;
    assert.ok(statSync(`${live}-wal`).size > 0, 'the running server has writes in its WAL');
    // Another folder's installation, restored from the running one's file: it reported every
    // record and put in place a copy without those in the WAL.
    const target = join(dir, 'data', 'gatehouse.db');
    const res = await runGatehouse(['restore', live, '--json'], { DATABASE_URL: `sqlite:${target}` });
    assert.equal(res.code, 1, res.stdout);
    assert.deepEqual(JSON.parse(res.stdout), {
      success: false,
      error: `${live} has writes that are not in the file yet (in ${live}-wal beside it): it is a database in use, not a backup. Back it up with gatehouse backup (DATABASE_URL=sqlite:${live}) and restore that. Nothing was changed`,
      code: 'restore_failed',
      details: [],
    });
    assert.equal(existsSync(target), false);
    // As the message says: a backup of it restores with every record.
    const backup = join(dir, 'orders.db');
    const made = await runGatehouse(['backup', backup, '--json'], { DATABASE_URL: `sqlite:${live}` });
    assert.equal(made.code, 0, made.stdout);
    const restored = await runGatehouse(['restore', backup, '--json'], { DATABASE_URL: `sqlite:${target}` });
    assert.equal(restored.code, 0, restored.stdout);
    assert.equal(JSON.parse(restored.stdout).data.records, 50);
  });
});
