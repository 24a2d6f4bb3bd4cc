import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { postgresAdmin as admin, databaseKinds } from './helpers/database.ts';
import { startTestServer, type TestServer } from './helpers/server.ts';

/**
 * While PostgreSQL refuses connections, a scrape of /metrics still answers 200 with the HTTP
 * series (the 503s of the outage are what an operator scrapes for), the queue gauges keeping
 * their last figures, instead of failing whole because those two gauges read the database.
 */
describe('/metrics while the database is unavailable', { skip: !databaseKinds.includes('postgres') }, () => {
  let server: TestServer;
  let name: string;

  before(async () => {
    server = await startTestServer('postgres');
    name = new URL(server.database.url).pathname.slice(1);
  });

  after(async () => {
    await admin(`ALTER DATABASE ${name} ALLOW_CONNECTIONS true`);
    await server?.close();
  });

  test('answers 200 with the HTTP series and the last queue figures', async () => {
    const first = await fetch(`${server.url}/metrics`);
    assert.equal(first.status, 200);
    assert.match(await first.text(), /^gatehouse_webhook_deliveries\{status="pending"\} 0$/m);

    await admin(`ALTER DATABASE ${name} ALLOW_CONNECTIONS false`);
    await admin(
      `SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = '${name}' AND pid <> pg_backend_pid()`,
    );
    const ready = await server.request('GET', '/ready');
    assert.equal(ready.status, 503);
    assert.equal(ready.body.checks.database, 'unreachable');

    const during = await fetch(`${server.url}/metrics`);
    const text = await during.text();
    assert.equal(during.status, 200, text);
    assert.match(text, /^gatehouse_http_requests_total\{method="GET",route="\/ready",status="503"\} 1$/m);
    assert.match(text, /^gatehouse_webhook_deliveries\{status="pending"\} 0$/m);
    assert.match(text, /^gatehouse_outbox_queued 0$/m);
    assert.match(text, /^process_cpu_user_seconds_total /m);
  });
});
