import assert from 'node:assert/strict';
import { type ChildProcessWithoutNullStreams, spawn } from 'node:child_process';
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { after, describe, test } from 'node:test';
import { freePort } from '../bench/lib.ts';
import { createServices } from '../src/app.ts';
import { loadConfig } from '../src/config.ts';
import { createTestDatabase, type TestDatabase } from './helpers/database.ts';
import { runGatehouse, spawnGatehouse, waitHealthy } from './helpers/process.ts';

/**
 * A `gatehouse restore` in one terminal, waiting for its answer to "Go ahead?" (it holds the
 * database's instance lock meanwhile), and the same restore started in another: the second is
 * refused naming the first (not "a server is running"), and the database is left as it was.
 */
describe('two restores (or a restore and a server) on one SQLite file at once', () => {
  let database: TestDatabase;
  const children: ChildProcessWithoutNullStreams[] = [];
  after(async () => {
    for (const child of children) child.kill('SIGKILL');
    await database?.drop();
  });

  /** The real CLI in a real terminal (util-linux `script`), left running until it is answered. */
  function inTerminal(args: string[], env: Record<string, string>) {
    const quoted = args.map((a) => `'${a.replaceAll("'", "'\\''")}'`).join(' ');
    const child = spawn('script', ['-qec', `${process.execPath} bin/gatehouse.js ${quoted}`, '/dev/null'], {
      env: { ...process.env, ...env },
      stdio: ['pipe', 'pipe', 'pipe'],
    });
    children.push(child);
    let screen = '';
    const waiters: Array<() => void> = [];
    const onOutput = (chunk: Buffer) => {
      screen += chunk.toString();
      for (const wake of waiters.splice(0)) wake();
    };
    child.stdout.on('data', onOutput);
    child.stderr.on('data', onOutput);
    const exited = new Promise<number>((resolve) => child.on('exit', (code) => resolve(code ?? -1)));
    return {
      screen: () => screen,
      exited,
      async shows(pattern: RegExp) {
        while (!pattern.test(screen)) {
          const more = new Promise<void>((resolve) => waiters.push(resolve));
          if ((await Promise.race([more.then(() => 'more'), exited.then(() => 'exited')])) === 'exited')
            assert.fail(`exited before showing ${pattern}: ${screen}`);
        }
      },
      type(line: string) {
        child.stdin.write(`${line}\r`);
      },
    };
  }

  test('the second restore names the first one, and changes nothing; a server does not start meanwhile either', async () => {
    database = await createTestDatabase('sqlite');
    const path = database.config.kind === 'sqlite' ? database.config.path : '';
    const env = { DATABASE_URL: database.url, LOG_LEVEL: 'warn' };
    const setup = await createServices(loadConfig({ ...env, LOG_LEVEL: 'silent' }));
    await setup.endpoints.create({ slug: 'orders', name: 'Orders', schema: { type: 'object' } });
    await setup.close();
    const backup = join(dirname(path), 'backups', 'b.db');
    assert.equal((await runGatehouse(['backup', backup], env)).code, 0);
    // Something written after the backup: restoring it asks first, and the first restore waits there.
    const later = await createServices(loadConfig({ ...env, LOG_LEVEL: 'silent' }));
    await later.keys.create({ name: 'after the backup', environment: 'test' });
    await later.close();
    const bytes = readFileSync(path);
    const kept = () => readdirSync(dirname(path)).filter((f) => /before-restore|\.restoring/.test(f));

    const first = inTerminal(['restore', backup], env);
    await first.shows(/Go ahead\? \[y\/N\]/);

    const second = await runGatehouse(['restore', backup, '--yes', '--json'], env);
    assert.equal(second.code, 1, second.stdout);
    const refused = JSON.parse(second.stdout);
    assert.equal(refused.code, 'restore_failed');
    assert.match(
      refused.error,
      /^Another `gatehouse restore` is replacing .*gatehouse\.db \(pid \d+, since \S+Z\): let it finish .*Nothing was changed$/,
    );
    assert.doesNotMatch(refused.error, /server is running/);
    // For people too, without --json.
    const plain = await runGatehouse(['restore', backup, '--yes'], env);
    assert.equal(plain.code, 1);
    assert.match(plain.stderr, /Another `gatehouse restore` is replacing/);

    // A server started meanwhile says what holds the file, rather than that another server runs.
    const serve = await runGatehouse(['serve'], { ...env, PORT: String(await freePort()) });
    assert.equal(serve.code, 1, serve.stderr);
    assert.match(
      serve.stderr,
      /A `gatehouse restore` \(pid \d+, since \S+Z\) is under way on .*gatehouse\.db: let it finish/,
    );
    assert.doesNotMatch(serve.stderr, /\n\s+at /, 'no stack trace');

    assert.deepEqual(readFileSync(path), bytes, 'the database is as it was');
    assert.deepEqual(kept(), [], 'nothing was kept aside or copied in');

    // The first one, answered, ends as it was told; then the lock is free and named by nobody.
    first.type('n');
    assert.equal(await first.exited, 1, first.screen());
    assert.match(first.screen(), /Not confirmed: nothing was done/);
    assert.deepEqual(readFileSync(path), bytes);
    assert.deepEqual(kept(), []);
    assert.equal(existsSync(`${path}.lock.holder`), false, 'its note of who holds the lock is gone');
  });

  test('a restore while a server runs names the server (its pid)', async () => {
    const path = database.config.kind === 'sqlite' ? database.config.path : '';
    const port = await freePort();
    const env = { DATABASE_URL: database.url, LOG_LEVEL: 'warn' };
    const server = spawnGatehouse(['serve'], { ...env, PORT: String(port) });
    await waitHealthy(port);
    try {
      const refused = await runGatehouse(['restore', join(dirname(path), 'backups', 'b.db'), '--yes'], env);
      assert.equal(refused.code, 1);
      assert.match(
        refused.stderr,
        new RegExp(
          `A Gatehouse server is running on .*gatehouse\\.db \\(pid ${server.pid}, since \\S+Z\\): stop it, then restore\\. Nothing was changed`,
        ),
      );
    } finally {
      const exited = new Promise((resolve) => server.once('exit', resolve));
      server.kill('SIGTERM');
      await exited;
    }
  });
});
