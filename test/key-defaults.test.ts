import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { createServices, type Services } from '../src/app.ts';
import { loadConfig } from '../src/config.ts';
import { ApiError } from '../src/errors.ts';
import { createTestDatabase, type TestDatabase } from './helpers/database.ts';
import { startTestServer } from './helpers/server.ts';

/**
 * The installation's default limits are the owner's policy for keys: a collaborator's key may be
 * stricter, never looser (its own limit wins over the default, so it could otherwise escape it).
 */
describe("a collaborator's keys stay within the installation's default limits", () => {
  let database: TestDatabase;
  let services: Services & { close(): Promise<void> };
  const collaborator = { userId: 'owner_collaborator', testOnly: true };

  before(async () => {
    database = await createTestDatabase('sqlite');
    services = await createServices(
      loadConfig({
        DATABASE_URL: database.url,
        LOG_LEVEL: 'silent',
        GATEHOUSE_DEFAULT_PER_MINUTE: '60',
        GATEHOUSE_DEFAULT_PER_DAY: '1000',
      }),
    );
    // A key's maker must exist when it is made (a removed collaborator makes none).
    await services.database.db
      .insertInto('owners')
      .values({
        id: collaborator.userId,
        email: 'collaborator@example.com',
        role: 'collaborator',
        password_hash: 'unused',
        created_at: new Date().toISOString(),
        last_sign_in_at: null,
      })
      .execute();
  });
  after(async () => {
    await services.close();
    await database.drop();
  });

  const refused = (field: string) => (error: unknown) => {
    assert.ok(error instanceof ApiError);
    assert.equal(error.code, 'forbidden');
    assert.equal(error.details?.[0]?.field, field);
    return true;
  };

  test('create: above a default is refused and nothing is made; at or below it, or with none, is fine', async () => {
    await assert.rejects(
      services.keys.create(
        { name: 'loose', environment: 'test', limits: { per_minute: 1_000_000_000_000 } },
        collaborator,
      ),
      refused('limits.per_minute'),
    );
    assert.deepEqual(await services.keys.list(), []);
    const strict = await services.keys.create(
      { name: 'strict', environment: 'test', limits: { per_minute: 60, per_day: 100, per_month: 5_000_000 } },
      collaborator,
    );
    assert.deepEqual(strict.limits, { per_minute: 60, per_day: 100, per_month: 5_000_000 });
    const plain = await services.keys.create({ name: 'plain', environment: 'test' }, collaborator);
    assert.deepEqual(plain.limits, {});
    // The owner sets the policy and is not bound by it.
    const owners = await services.keys.create(
      { name: 'owners', environment: 'test', limits: { per_minute: 100_000 } },
      { userId: null },
    );
    assert.deepEqual(owners.limits, { per_minute: 100_000 });
  });

  test('update: raising a limit past a default is refused and nothing changes; other changes are fine', async () => {
    const [key] = (await services.keys.list()).filter((k) => k.name === 'strict');
    assert.ok(key);
    await assert.rejects(
      services.keys.update(key.id, { limits: { per_day: 5000 } }, { testOnly: true }),
      refused('limits.per_day'),
    );
    assert.deepEqual((await services.keys.get(key.id)).limits, key.limits);
    const renamed = await services.keys.update(
      key.id,
      { name: 'renamed', limits: { per_day: 1000 } },
      { testOnly: true },
    );
    assert.equal(renamed.name, 'renamed');
    assert.equal(renamed.limits.per_day, 1000);
    // Removing a window's own limit lets the default apply: allowed.
    const removed = await services.keys.update(key.id, { limits: { per_minute: null } }, { testOnly: true });
    assert.equal(removed.limits.per_minute, undefined);
  });
});

/** The keys list tells what a window a key leaves empty is limited to, so its effective limits can be shown. */
test('GET /admin/v1/keys answers the installation default limits in meta.default_limits', async () => {
  const server = await startTestServer('sqlite', {
    GATEHOUSE_DEFAULT_PER_MINUTE: '60',
    GATEHOUSE_DEFAULT_PER_MONTH: '100000',
  });
  try {
    await server.createKey({ name: 'own', environment: 'test', limits: { per_minute: 5 } });
    const listed = await server.admin('GET', '/admin/v1/keys?environment=test');
    assert.equal(listed.status, 200);
    assert.deepEqual(listed.body.meta, {
      default_limits: { per_minute: 60, per_day: null, per_month: 100_000 },
    });
    // The key's own limits stay its own: the defaults are not written into them.
    assert.deepEqual(listed.body.data[0].limits, { per_minute: 5 });
  } finally {
    await server.close();
  }
});
