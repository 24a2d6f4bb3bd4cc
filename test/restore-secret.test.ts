import assert from 'node:assert/strict';
import { copyFileSync, mkdirSync } from 'node:fs';
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
 * A backup restored on a new machine, where a first start (`gatehouse init`) already made that
 * machine's own installation secret: the secret in place is not the backup's, and the restore
 * says so instead of "Start the server". With the backup's secret file put in place, the restored
 * installation accepts its keys and opens its webhook signing secrets.
 */
describe('restore of a backup onto a machine whose installation secret is another', () => {
  const databases: TestDatabase[] = [];
  after(async () => {
    for (const database of databases) await database.drop();
  });

  test('restore says the secret in place does not open the backup; with its own, keys and webhook secrets work', async () => {
    const old = await createTestDatabase('sqlite');
    const fresh = await createTestDatabase('sqlite');
    databases.push(old, fresh);
    const oldEnv = { DATABASE_URL: old.url, LOG_LEVEL: 'warn' };
    const freshEnv = { DATABASE_URL: fresh.url, LOG_LEVEL: 'warn' };

    const setup = await createServices(loadConfig({ ...oldEnv, LOG_LEVEL: 'silent' }));
    await setup.endpoints.create({ slug: 'orders', name: 'Orders', schema: { type: 'object' } });
    const key = (await setup.keys.create({ name: 'k', environment: 'test' })).key;
    const hook = await setup.webhooks.subscriptions.create('orders', {
      environment: 'test',
      url: 'https://example.com/hook',
    });
    const callbackSecret = setup.webhooks.callbackSecret;
    await setup.close();
    const backup = join(dirname(pathOf(old)), 'backups', 'b.db');
    assert.equal((await runGatehouse(['backup', backup], oldEnv)).code, 0);

    // The new machine was started once: its own database and secret file.
    await (await createServices(loadConfig({ ...freshEnv, LOG_LEVEL: 'silent' }))).close();

    const restored = await runGatehouse(['restore', backup, '--yes'], freshEnv);
    assert.equal(restored.code, 0, restored.stderr);
    assert.match(
      restored.stdout,
      /The installation secret in \S+\.secret is not the one this backup was made with .*the server will not start/,
    );
    // What the note says is so: the server refuses the secret in place.
    const refused = await runGatehouse(['serve'], { ...freshEnv, PORT: String(await freePort()) }, 60_000);
    assert.equal(refused.code, 1);
    assert.match(refused.stderr, /is not the installation secret this database was set up with/);

    // The backup's own secret put in place: the restore says nothing more, on stdout or stderr.
    copyFileSync(secretFileOf(pathOf(old)), secretFileOf(pathOf(fresh)));
    const again = await runGatehouse(['restore', backup, '--yes', '--json'], freshEnv);
    assert.equal(again.code, 0, again.stderr);
    assert.equal(again.stderr, '');

    const port = await freePort();
    const server = spawnGatehouse(['serve'], { ...freshEnv, PORT: String(port) });
    try {
      await waitHealthy(port);
      const created = await fetch(`http://127.0.0.1:${port}/api/v1/data/orders`, {
        method: 'POST',
        headers: { authorization: `Bearer ${key}`, 'content-type': 'application/json' },
        body: JSON.stringify({ n: 1 }),
      });
      assert.equal(created.status, 202, 'the key made before the backup is accepted');
    } finally {
      const exited = new Promise((resolve) => server.once('exit', resolve));
      server.kill('SIGTERM');
      await exited;
    }
    const services = await createServices(loadConfig({ ...freshEnv, LOG_LEVEL: 'silent' }));
    try {
      assert.equal(services.webhooks.callbackSecret, callbackSecret, 'callbacks are signed as before');
      const row = new BetterSqlite3(pathOf(fresh), { readonly: true })
        .prepare('select secret from webhook_subscriptions where id = ?')
        .get(hook.id) as { secret: string };
      assert.equal(services.encryptor.decrypt(row.secret), hook.secret, 'webhooks are signed as before');
    } finally {
      await services.close();
    }
  });

  test('with GATEHOUSE_SECRET set to another secret, restore says so too', async () => {
    const old = await createTestDatabase('sqlite');
    databases.push(old);
    await (await createServices(loadConfig({ DATABASE_URL: old.url, LOG_LEVEL: 'silent' }))).close();
    const backup = join(dirname(pathOf(old)), 'b.db');
    assert.equal((await runGatehouse(['backup', backup], { DATABASE_URL: old.url })).code, 0);
    const target = join(dirname(pathOf(old)), 'elsewhere', 'g.db');
    mkdirSync(dirname(target));
    const restored = await runGatehouse(['restore', backup, '--json'], {
      DATABASE_URL: `sqlite:${target}`,
      GATEHOUSE_SECRET: 'another-secret-of-at-least-32-characters',
    });
    assert.equal(restored.code, 0, restored.stderr);
    assert.match(restored.stderr, /^Warning: GATEHOUSE_SECRET is not the one this backup was made with/);
    assert.equal(JSON.parse(restored.stdout).success, true);
  });
});
