import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { managementCli } from './helpers/process.ts';
import { startTestServer, type TestServer } from './helpers/server.ts';

/**
 * A shorter window's limit above a longer one's (per_minute over per_day, per_day over per_month,
 * per_minute over per_month) can never be reached: refused at creation and on a change, naming
 * both fields, with nothing stored; a change sending one window is compared with the key's others.
 */
describe("a key's limits: a shorter window's above a longer one's is refused", () => {
  let server: TestServer;

  before(async () => {
    server = await startTestServer('sqlite');
  });
  after(() => server.close());

  const keyCount = async () => (await server.admin('GET', '/admin/v1/keys')).body.data.length as number;

  test('create: 400 naming both fields, and no key made', async () => {
    const before = await keyCount();
    const res = await server.admin('POST', '/admin/v1/keys', {
      name: 'partner',
      environment: 'test',
      limits: { per_minute: 5000, per_day: 1000 },
    });
    // Before: 201, a per-minute limit no minute could reach.
    assert.equal(res.status, 400, res.text);
    assert.equal(res.body.code, 'invalid_request');
    assert.equal(
      res.body.error,
      'limits.per_minute (5000) cannot be more than limits.per_day (1000): lower limits.per_minute or raise limits.per_day',
    );
    assert.deepEqual(res.body.details, [
      { field: 'limits.per_minute', error: 'Must be at most limits.per_day (1000)' },
    ]);
    const monthly = await server.admin('POST', '/admin/v1/keys', {
      name: 'partner',
      environment: 'test',
      limits: { per_minute: 60, per_day: 5000, per_month: 1000 },
    });
    assert.equal(monthly.status, 400, monthly.text);
    assert.deepEqual(monthly.body.details, [
      { field: 'limits.per_day', error: 'Must be at most limits.per_month (1000)' },
    ]);
    const skipping = await server.admin('POST', '/admin/v1/keys', {
      name: 'partner',
      environment: 'test',
      limits: { per_minute: 2000, per_month: 1000 },
    });
    assert.equal(skipping.status, 400, skipping.text);
    assert.deepEqual(skipping.body.details, [
      { field: 'limits.per_minute', error: 'Must be at most limits.per_month (1000)' },
    ]);
    assert.equal(await keyCount(), before, 'no key was stored');
    // Equal limits are possible (if strict): taken.
    const equal = await server.admin('POST', '/admin/v1/keys', {
      name: 'partner',
      environment: 'test',
      limits: { per_minute: 100, per_day: 100, per_month: 100 },
    });
    assert.equal(equal.status, 201, equal.text);
  });

  test("update: compared with the key's stored windows; nothing changes when refused", async () => {
    const key = await server.createKey({
      name: 'stored',
      environment: 'test',
      limits: { per_minute: 100, per_day: 1000, per_month: 50_000 },
    });
    const path = `/admin/v1/keys/${key.id}`;
    const before = (await server.admin('GET', path)).body.data;

    const faster = await server.admin('PATCH', path, { limits: { per_minute: 5000 } });
    assert.equal(faster.status, 400, faster.text);
    assert.equal(
      faster.body.error,
      'limits.per_minute (5000) cannot be more than limits.per_day (1000): lower limits.per_minute or raise limits.per_day',
    );
    assert.deepEqual(faster.body.details, [
      { field: 'limits.per_minute', error: "Must be at most limits.per_day (1000, the key's current value)" },
    ]);

    const daily = await server.admin('PATCH', path, { limits: { per_day: 50 } });
    assert.equal(daily.status, 400, daily.text);
    assert.deepEqual(daily.body.details, [
      { field: 'limits.per_day', error: "Must be at least limits.per_minute (100, the key's current value)" },
    ]);

    // Below both stored windows: named once, against the nearer one.
    const monthly = await server.admin('PATCH', path, { name: 'renamed', limits: { per_month: 10 } });
    assert.equal(monthly.status, 400, monthly.text);
    assert.deepEqual(monthly.body.details, [
      { field: 'limits.per_month', error: "Must be at least limits.per_day (1000, the key's current value)" },
    ]);

    assert.deepEqual((await server.admin('GET', path)).body.data, before, 'nothing changed');

    // Both windows moved together, or the longer one removed: taken.
    const both = await server.admin('PATCH', path, { limits: { per_minute: 5000, per_day: 40_000 } });
    assert.equal(both.status, 200, both.text);
    assert.deepEqual(both.body.data.limits, { per_minute: 5000, per_day: 40_000, per_month: 50_000 });
    const removed = await server.admin('PATCH', path, { limits: { per_day: null, per_month: null } });
    assert.equal(removed.status, 200, removed.text);
    assert.deepEqual(removed.body.data.limits, { per_minute: 5000 });
  });

  test('the CLI names the option typed, and the key keeps its limits', async () => {
    const key = await server.createKey({ name: 'cli', environment: 'test', limits: { per_day: 1000 } });
    const run = await managementCli(server)('keys', 'update', key.id, '--per-minute', '5000');
    assert.equal(run.code, 1, run.stdout);
    assert.match(run.stderr, /limits\.per_minute \(5000\) cannot be more than limits\.per_day \(1000\)/);
    assert.match(
      run.stderr,
      /--per-minute.*Must be at most limits\.per_day \(1000, the key's current value\)/,
    );
    const after = await server.admin('GET', `/admin/v1/keys/${key.id}`);
    assert.deepEqual(after.body.data.limits, { per_day: 1000 });
  });
});
