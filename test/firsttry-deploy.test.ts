import assert from 'node:assert/strict';
import { createServer, type Server } from 'node:net';
import { after, before, describe, test } from 'node:test';
import { ConfigError, loadConfig } from '../src/config.ts';
import { runGatehouse } from './helpers/process.ts';

// docs/DEPLOY.md on one machine: a DATABASE_URL whose port has something other than PostgreSQL
// (Redis's 6379 given by mistake, a proxy with no backend) accepts and hangs up.
describe('a DATABASE_URL whose port accepts and closes the connection', () => {
  let hangUp: Server;
  let port = 0;

  before(async () => {
    // Hangs up once the client has spoken (its startup message read, so no reset): pg sees the
    // connection end before any answer.
    hangUp = createServer((socket) => socket.once('data', () => socket.end()));
    await new Promise<void>((resolve) => hangUp.listen(0, '127.0.0.1', resolve));
    const address = hangUp.address();
    port = typeof address === 'object' && address ? address.port : 0;
  });
  after(() => new Promise<void>((resolve) => hangUp.close(() => resolve())));

  test('serve, worker and init say the database is unreachable, as the error envelope, without a stack trace', async () => {
    for (const args of [
      ['serve', '--json'],
      ['worker', '--json'],
      ['init', '--email', 'o@example.com', '--password', 'a long passphrase', '--json'],
    ]) {
      const { code, stdout, stderr } = await runGatehouse(
        args,
        {
          DATABASE_URL: `postgres://postgres@127.0.0.1:${port}/gatehouse`,
          REDIS_URL: '',
          PORT: '0',
          LOG_LEVEL: 'silent',
          GATEHOUSE_CLI_CREDENTIALS: '/nonexistent/c.json',
        },
        60_000,
      );
      const said = `${args[0]}: ${stdout}${stderr}`;
      assert.equal(code, 1, said);
      assert.doesNotMatch(stderr, /\n\s+at /, `a stack trace: ${said}`);
      const envelope = JSON.parse(stdout);
      assert.equal(envelope.success, false, said);
      assert.equal(envelope.code, 'database_unreachable', said);
      assert.match(
        envelope.error,
        /^Cannot reach the database: the server closed the connection \(is PostgreSQL listening on that port\?\)/,
      );
    }
  });
});

// DEPLOY.md's DATABASE_URL is `sqlite:<file>`; the URL-like `sqlite://./data/…` opened /data/….
describe('DATABASE_URL sqlite: forms', () => {
  test('sqlite://./data/… is refused with the forms to write; sqlite:./… and sqlite:///… are the paths they say', () => {
    for (const url of ['sqlite://./data/gatehouse.db', 'sqlite://data/gatehouse.db']) {
      assert.throws(
        () => loadConfig({ DATABASE_URL: url }),
        (error: unknown) =>
          error instanceof ConfigError &&
          error.message ===
            `DATABASE_URL "${url}" is not a file path: write sqlite:./data/gatehouse.db for a file relative to the working folder, or sqlite:///var/lib/gatehouse/gatehouse.db for an absolute one`,
        url,
      );
    }
    assert.deepEqual(loadConfig({ DATABASE_URL: 'sqlite:./data/gatehouse.db' }).database, {
      kind: 'sqlite',
      path: './data/gatehouse.db',
    });
    assert.deepEqual(loadConfig({ DATABASE_URL: 'sqlite:///var/lib/gatehouse/gatehouse.db' }).database, {
      kind: 'sqlite',
      path: '/var/lib/gatehouse/gatehouse.db',
    });
  });
});
