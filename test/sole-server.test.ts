import assert from 'node:assert/strict';
import type { ChildProcess } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync, symlinkSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { basename, dirname, join } from 'node:path';
import { after, describe, test } from 'node:test';
import BetterSqlite3 from 'better-sqlite3';
import { freePort } from '../bench/lib.ts';
import { createServices } from '../src/app.ts';
import { loadConfig } from '../src/config.ts';
import { claimSqliteInstance, InstanceLockedError } from '../src/infra/db/instance-lock.ts';
import { claimSqliteServer, startServer } from '../src/server/serve.ts';
import { createTestDatabase, type TestDatabase } from './helpers/database.ts';
import { runGatehouse, spawnGatehouse, waitHealthy } from './helpers/process.ts';
import { countRows } from './helpers/server.ts';

/**
 * One server per SQLite file (infra/db/instance-lock.ts). Without Redis its limits and caches
 * live in the process, so a second server on the file is refused; the one server then counts
 * its own writes to know when records it keeps in memory changed (`PRAGMA data_version`, a
 * read transaction per GET, is only asked where other processes share the file).
 */
describe('one server per SQLite file', () => {
  const databases: TestDatabase[] = [];
  const children: ChildProcess[] = [];
  const fresh = async () => {
    const database = await createTestDatabase('sqlite');
    databases.push(database);
    return database;
  };
  const pathOf = (database: TestDatabase) => (database.config.kind === 'sqlite' ? database.config.path : '');

  after(async () => {
    for (const child of children) child.kill('SIGKILL');
    for (const database of databases) await database.drop();
  });

  test('the lock is held once: a second claim waits, then fails; released, it is free again', async () => {
    const path = pathOf(await fresh());
    const first = claimSqliteInstance(path, 50);
    assert.ok(existsSync(`${path}.lock`));
    assert.throws(() => claimSqliteInstance(path, 50), InstanceLockedError);
    assert.throws(
      () => claimSqliteInstance(path, 50),
      /Another Gatehouse server is already running on .*--workers N/,
    );
    first.release();
    first.release(); // twice is harmless
    const again = claimSqliteInstance(path, 50);
    again.release();
  });

  test('the same file under another name (a symlink, a path with ..) takes the same lock', async () => {
    const path = pathOf(await fresh());
    new BetterSqlite3(path).close();
    const alias = join(mkdtempSync(join(tmpdir(), 'gatehouse-alias-')), 'alias.db');
    symlinkSync(path, alias);
    const linkedFolder = `${alias}-dir`;
    symlinkSync(dirname(path), linkedFolder);
    try {
      const first = claimSqliteInstance(path, 50);
      for (const other of [
        alias,
        join(linkedFolder, basename(path)),
        join(dirname(path), '..', basename(dirname(path)), basename(path)),
      ]) {
        assert.throws(() => claimSqliteInstance(other, 50), InstanceLockedError, other);
      }
      first.release();
      claimSqliteInstance(alias, 50).release();
    } finally {
      rmSync(dirname(alias), { recursive: true, force: true });
    }
  });

  test('who takes it: a server on a SQLite file without Redis; not PostgreSQL, Redis or memory', async () => {
    const path = pathOf(await fresh());
    const lock = claimSqliteServer(loadConfig({ DATABASE_URL: `sqlite:${path}` }));
    assert.ok(lock);
    lock.release();
    assert.equal(
      claimSqliteServer(loadConfig({ DATABASE_URL: `sqlite:${path}`, REDIS_URL: 'redis://127.0.0.1:6379' })),
      undefined,
    );
    assert.equal(
      claimSqliteServer(loadConfig({ DATABASE_URL: 'postgres://postgres@127.0.0.1/x' })),
      undefined,
    );
    assert.equal(claimSqliteServer(loadConfig({ DATABASE_URL: 'sqlite::memory:' })), undefined);
  });

  test('a second `gatehouse serve` on the file exits with a clear message and changes nothing', async () => {
    const database = await fresh();
    const setup = await createServices(loadConfig({ DATABASE_URL: database.url, LOG_LEVEL: 'silent' }));
    await setup.endpoints.create({ slug: 'orders', name: 'Orders', schema: { type: 'object' } });
    const { key } = await setup.keys.create({ name: 'k', environment: 'test' });
    await setup.close();
    const env = { DATABASE_URL: database.url, LOG_LEVEL: 'warn' };
    const port = await freePort();
    const first = spawnGatehouse(['serve'], { ...env, PORT: String(port) });
    children.push(first);
    await waitHealthy(port);
    const post = await fetch(`http://127.0.0.1:${port}/api/v1/data/orders`, {
      method: 'POST',
      headers: { authorization: `Bearer ${key}`, 'content-type': 'application/json' },
      body: '{"n":1}',
    });
    assert.equal(post.status, 202);
    const { id } = (await post.json()) as { id: string };

    for (const args of [['serve'], ['start', '--workers', '2']]) {
      const second = await runGatehouse(args, { ...env, PORT: String(await freePort()) });
      assert.equal(second.code, 1, args.join(' '));
      assert.match(second.stderr, /Another Gatehouse server is already running on .*gatehouse\.db/);
      assert.doesNotMatch(second.stderr, /\n\s+at /, 'no stack trace');
    }
    // The first server never noticed: same record, same answer.
    const get = await fetch(`http://127.0.0.1:${port}/api/v1/data/orders/${id}`, {
      headers: { authorization: `Bearer ${key}` },
    });
    assert.equal(get.status, 200);
    assert.deepEqual(((await get.json()) as { data: { data: unknown } }).data.data, { n: 1 });

    // A server that dies, even by SIGKILL, frees the file for the next one.
    first.kill('SIGKILL');
    await new Promise((resolve) => first.once('exit', resolve));
    const nextPort = await freePort();
    children.push(spawnGatehouse(['serve'], { ...env, PORT: String(nextPort) }));
    await waitHealthy(nextPort);
    const again = await fetch(`http://127.0.0.1:${nextPort}/api/v1/data/orders/${id}`, {
      headers: { authorization: `Bearer ${key}` },
    });
    assert.equal(again.status, 200);
  });

  test('the one server sees each of its own writes at once on the next read', async () => {
    const database = await fresh();
    const server = await startServer(
      loadConfig({ DATABASE_URL: database.url, LOG_LEVEL: 'silent', PORT: '0', HOST: '127.0.0.1' }),
      { worker: false },
    );
    try {
      const { dialect } = server.services.database;
      // Sole writer: the version is this process's own count of writes (negative), no system call.
      assert.ok((dialect.dataVersion?.() ?? 0) < 0);
      await server.services.endpoints.create({ slug: 'orders', name: 'Orders', schema: { type: 'object' } });
      const { key } = await server.services.keys.create({ name: 'k', environment: 'test' });
      const call = (method: string, path: string, body?: unknown) =>
        fetch(`${server.url}/api/v1/data/orders${path}`, {
          method,
          headers: { authorization: `Bearer ${key}`, 'content-type': 'application/json' },
          body: body === undefined ? undefined : JSON.stringify(body),
        });
      const read = async (id: string) => {
        const res = await call('GET', `/${id}`);
        return res.status === 200
          ? ((await res.json()) as { data: { data: unknown; version: number } }).data
          : res.status;
      };

      const created = await call('POST', '', { v: 1 });
      assert.equal(created.status, 202);
      const { id } = (await created.json()) as { id: string };
      assert.deepEqual(((await read(id)) as { data: unknown }).data, { v: 1 });

      assert.equal((await call('PUT', `/${id}`, { v: 2 })).status, 202);
      const replaced = (await read(id)) as { data: unknown; version: number };
      assert.deepEqual(replaced.data, { v: 2 });
      assert.equal(replaced.version, 2);

      // A change made through the database layer (Kysely), not the record writer, counts too.
      await server.services.database.db
        .updateTable('records')
        .set({ data: '{"v":3}', version: 3 })
        .where('id', '=', id)
        .execute();
      assert.deepEqual(((await read(id)) as { data: unknown }).data, { v: 3 });

      assert.equal((await call('DELETE', `/${id}`)).status, 202);
      assert.equal(await read(id), 404);
      assert.equal(await countRows(server, 'records'), 0);
    } finally {
      await server.stop();
    }
    // Stopped, it let go of the file.
    claimSqliteInstance(pathOf(database), 50).release();
  });
});
