import assert from 'node:assert/strict';
import { monitorEventLoopDelay } from 'node:perf_hooks';
import { after, before, describe, test } from 'node:test';
import BetterSqlite3 from 'better-sqlite3';
import type { FastifyInstance } from 'fastify';
import { buildApp, createServices, type Services } from '../src/app.ts';
import { loadConfig } from '../src/config.ts';
import { createOutageLog } from '../src/infra/db/outage-log.ts';
import { createTestDatabase, type TestDatabase } from './helpers/database.ts';
import { keyCall } from './helpers/key-call.ts';
import { capturedLogger } from './helpers/log-lines.ts';

const ANSWERS_AGAIN = /^The database answers again after \d+\.\d s unavailable: /;

/**
 * Another process holds SQLite's write lock (a `sqlite3` shell in a transaction, a backup tool)
 * for longer than the busy timeout: writes wait for it off the event loop, then answer 503; the
 * server goes on answering meanwhile (/health), and writes work again once it lets go.
 */
describe('the SQLite file locked by another connection', () => {
  let database: TestDatabase;
  let services: Services & { close(): Promise<void> };
  let app: FastifyInstance;
  let url: string;
  let key: string;
  let holder: BetterSqlite3.Database | undefined;
  /** What the management write met while the file was locked. */
  let busy: unknown;
  const { logger, lines } = capturedLogger('info');

  before(async () => {
    database = await createTestDatabase('sqlite');
    services = await createServices(loadConfig({ DATABASE_URL: database.url, LOG_LEVEL: 'silent' }));
    app = buildApp(services, { logger });
    await services.writer.warm();
    // Fastify answers with the address it listens on.
    url = await app.listen({ port: 0, host: '127.0.0.1' });
    await services.endpoints.create({ slug: 'orders', name: 'Orders', schema: { type: 'object' } });
    key = (await services.keys.create({ name: 'k', environment: 'test' })).key;
  });

  after(async () => {
    holder?.close();
    await app.close();
    await services.close();
    await database.drop();
  });

  const call = (method: string, path: string, body?: unknown) => keyCall(url, key, method, path, body);

  test('writes answer 503 after the busy timeout, the event loop never stalls, and writes resume, which the log says once', async () => {
    const first = await call('POST', '/api/v1/data/orders', { n: 1 });
    assert.equal(first.status, 202);
    // Commits with no outage before them say nothing.
    assert.deepEqual(
      lines.filter((line) => ANSWERS_AGAIN.test(line.msg)),
      [],
    );

    holder = new BetterSqlite3(database.config.kind === 'sqlite' ? database.config.path : '');
    holder.exec('BEGIN IMMEDIATE');
    const delay = monitorEventLoopDelay({ resolution: 10 });
    delay.enable();
    // A write on the event loop's connection (a management change), one through the record
    // writer (a data API create), and meanwhile a liveness probe and a read.
    const management = services.endpoints
      .create({ slug: 'refunds', name: 'Refunds', schema: { type: 'object' } })
      .then(
        () => 'created',
        (error: { code?: string }) => {
          busy = error;
          return String(error.code);
        },
      );
    const create = call('POST', '/api/v1/data/orders', { n: 2 });
    await new Promise((resolve) => setTimeout(resolve, 1_000));
    const health = await call('GET', '/health');
    const read = await call('GET', `/api/v1/data/orders/${first.body.id}`);
    const [managed, created] = await Promise.all([management, create]);
    delay.disable();
    holder.exec('COMMIT');

    assert.equal(health.status, 200);
    assert.ok(health.ms < 500, `/health took ${health.ms} ms`);
    // A read may wait behind the writes for the one connection on the event loop (a key's
    // periodic refresh, say), but it is answered.
    assert.equal(read.status, 200);
    assert.equal(managed, 'SQLITE_BUSY');
    assert.equal(created.status, 503);
    assert.equal(created.body.code, 'service_unavailable');
    assert.equal(created.retryAfter, '2');
    // Behind the management write's wait for the connection, then the write thread's busy
    // timeout: not once more on the event loop's connection for each write of the batch.
    assert.ok(created.ms < 12_000, `the create was answered after ${created.ms} ms`);
    const stalledMs = delay.max / 1e6;
    assert.ok(stalledMs < 500, `the event loop stalled for ${Math.round(stalledMs)} ms`);

    // Released: writes go through again; the refused ones left nothing behind.
    const again = await call('POST', '/api/v1/data/orders', { n: 3 });
    assert.equal(again.status, 202);
    await services.endpoints.create({ slug: 'refunds', name: 'Refunds', schema: { type: 'object' } });
    const list = await call('GET', '/api/v1/data/orders');
    assert.equal(list.body.data?.length, 2);
    // The refused create was said in a warning; the first commit after it says the database
    // answers again, once, at info level, and the commits after it nothing more.
    assert.equal(lines.filter((line) => line.level === 40).length, 1, JSON.stringify(lines));
    const back = lines.filter((line) => ANSWERS_AGAIN.test(line.msg));
    assert.equal(back.length, 1, JSON.stringify(lines));
    assert.equal(back[0]?.level, 30);
    // The refused create, and whatever else met the lock meanwhile (a usage flush, say).
    assert.ok(Number(back[0]?.failures) >= 1, JSON.stringify(back[0]));
  });

  test('the outage warning names the SQLite lock, not a server to start', () => {
    const warnings: Array<{ details: object; message: string }> = [];
    const outage = createOutageLog(services.database.dialect);
    assert.equal(
      outage.noted(busy, {
        warn: (details, message) => warnings.push({ details, message }),
        info: () => {},
      }),
      true,
    );
    assert.deepEqual(warnings, [
      {
        details: { cause: { code: 'SQLITE_BUSY', message: 'database is locked' }, failures: 1 },
        message:
          "The database is unavailable: requests are answered 503 service_unavailable and webhook work waits until it answers again. Check what holds the SQLite file's write lock (another process in a long transaction) and that the file and its directory can be read and written",
      },
    ]);
  });
});
