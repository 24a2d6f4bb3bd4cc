import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { existsSync, readFileSync, rmSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { after, describe, test } from 'node:test';
import BetterSqlite3 from 'better-sqlite3';
import { freePort } from '../bench/lib.ts';
import { createServices } from '../src/app.ts';
import { loadConfig } from '../src/config.ts';
import { secretFileOf } from '../src/infra/secret-file.ts';
import { createTestDatabase, type TestDatabase } from './helpers/database.ts';
import { runGatehouse, spawnGatehouse, waitHealthy } from './helpers/process.ts';

const pathOf = (database: TestDatabase) => (database.config.kind === 'sqlite' ? database.config.path : '');

/**
 * A backup from a release that kept the installation secret in the database, restored over a
 * database whose own secret file stays beside it: the restore says that file is in the way and
 * where to move it (beside the database it belongs to), not nothing; the server, started anyway,
 * says the same rather than "restore the file that belongs to it". Moved aside, the restored
 * installation starts and its keys work.
 */
describe('restore of an old backup that holds its own installation secret', () => {
  const databases: TestDatabase[] = [];
  after(async () => {
    for (const database of databases) await database.drop();
  });

  test('a secret file left beside it is named as in the way, with the move to make; then the server starts and keys work', async () => {
    const old = await createTestDatabase('sqlite');
    const here = await createTestDatabase('sqlite');
    databases.push(old, here);
    // The old installation: its secret in the database (as an earlier release kept it), no file.
    const before = await createServices(loadConfig({ DATABASE_URL: old.url, LOG_LEVEL: 'silent' }));
    await before.endpoints.create({ slug: 'orders', name: 'Orders', schema: { type: 'object' } });
    const { key } = await before.keys.create({ name: 'k', environment: 'test' });
    await before.close();
    const oldSecret = readFileSync(secretFileOf(pathOf(old)), 'utf8').trim();
    const db = new BetterSqlite3(pathOf(old));
    db.prepare("insert into settings (key, value) values ('secret', ?)").run(oldSecret);
    db.close();
    rmSync(secretFileOf(pathOf(old)));
    const backup = join(dirname(pathOf(old)), 'old-backup.db');
    const made = await runGatehouse(['backup', backup, '--json'], { DATABASE_URL: old.url });
    assert.equal(made.code, 0, made.stderr);
    assert.equal(JSON.parse(made.stdout).data.holds_installation_secret, true);

    // This machine's installation, with its own secret file.
    await (await createServices(loadConfig({ DATABASE_URL: here.url, LOG_LEVEL: 'silent' }))).close();
    const path = pathOf(here);
    const file = secretFileOf(path);
    const theirs = readFileSync(file, 'utf8');
    const env = { DATABASE_URL: here.url, LOG_LEVEL: 'warn' };

    const restored = await runGatehouse(['restore', backup, '--yes'], env);
    assert.equal(restored.code, 0, restored.stderr);
    const previous = /kept at (\S+)\. Start/.exec(restored.stdout)?.[1] as string;
    assert.ok(previous, restored.stdout);
    const said = restored.stdout.replace(/\s+/g, ' ');
    assert.ok(
      said.includes(
        `This backup holds its own installation secret (it was made by a release that kept it in the database), but ${file} beside it holds another one (the database this restore replaced, kept at ${previous}, was made with it), which does not open it: the server would refuse to start.`,
      ),
      said,
    );
    assert.ok(said.includes(`mv ${file} ${previous}.secret`), said);

    // Started anyway: refused, saying what is in the way, and nothing is changed.
    const settings = () => {
      const db = new BetterSqlite3(path, { readonly: true });
      try {
        return db.prepare('select key, value from settings order by key').all();
      } finally {
        db.close();
      }
    };
    const stored = settings();
    assert.ok(stored.some((row) => (row as { key: string }).key === 'secret'));
    const refused = await runGatehouse(['serve'], { ...env, PORT: String(await freePort()) });
    assert.equal(refused.code, 1, refused.stderr);
    assert.match(
      refused.stderr,
      /This database holds its own installation secret .* but .*\.secret beside it holds another one, which does not open it\. Move .* aside/,
    );
    assert.doesNotMatch(refused.stderr, /restore the file that belongs to it/);
    assert.doesNotMatch(refused.stderr, /\n\s+at /, 'no stack trace');
    assert.equal(readFileSync(file, 'utf8'), theirs, 'the file in the way is untouched');
    assert.deepEqual(settings(), stored, 'the restored database keeps its own secret, and all it sealed');

    // Done as said: the server starts, moves the backup's secret out, and its key works.
    execFileSync('mv', [file, `${previous}.secret`]);
    const port = await freePort();
    const server = spawnGatehouse(['serve'], { ...env, PORT: String(port) });
    try {
      await waitHealthy(port);
      const res = await fetch(`http://127.0.0.1:${port}/api/v1/data/orders`, {
        method: 'POST',
        headers: { authorization: `Bearer ${key}`, 'content-type': 'application/json' },
        body: '{"n":1}',
      });
      assert.equal(res.status, 202);
      assert.equal(readFileSync(file, 'utf8').trim(), oldSecret, 'the backup secret is in the file now');
    } finally {
      const exited = new Promise((resolve) => server.once('exit', resolve));
      server.kill('SIGTERM');
      await exited;
    }
    // The replaced database still opens with the file moved beside it.
    assert.ok(existsSync(`${previous}.secret`));
    const check = await runGatehouse(['restore', backup, '--json', '--yes'], {
      ...env,
      DATABASE_URL: `sqlite:${join(dirname(path), 'elsewhere', 'g.db')}`,
    });
    assert.equal(check.code, 0, check.stderr);
    assert.equal(check.stderr, '', 'no secret file in the way there: nothing to say');
  });
});
