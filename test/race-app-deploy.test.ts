import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { createAppService } from '../src/apps/app-service.ts';
import { ApiError } from '../src/errors.ts';
import { databaseKinds } from './helpers/database.ts';
import { deferred } from './helpers/deferred.ts';
import { heldInserts } from './helpers/held-inserts.ts';
import { type ApiResponse, startTestServer, type TestServer } from './helpers/server.ts';
import { until } from './helpers/until.ts';

const respond = (body: string) => [{ name: 'out', type: 'respond', body }];
const routes = (body: string) => [{ method: 'GET', path: '/v', auth: 'public', steps: respond(body) }];

for (const kind of databaseKinds) {
  describe(`deploying an app while its draft changes (${kind})`, () => {
    let server: TestServer;
    before(async () => {
      server = await startTestServer(kind);
    });
    after(async () => {
      await server.close();
    });

    // The timeout: a deploy that never reaches the held read fails the test instead of hanging it.
    test('a draft changed after deploy validated it is not published: 409, and the next deploy publishes it', {
      timeout: 60_000,
    }, async () => {
      const created = await server.admin('POST', '/admin/v1/apps', {
        slug: 'drafty',
        name: 'Drafty',
        routes: routes("'first'"),
      });
      assert.equal(created.status, 201, created.text);

      // Deploy validates the draft against the endpoints (outside its transaction), then
      // publishes it. This deploy runs on an app service of its own (as another process would)
      // whose endpoint list is held, once read, until the test lets it go: the PATCH lands in
      // that gap, after the validation and before the deploy's transaction.
      const validating = deferred();
      const goOn = deferred();
      let hold = false;
      const real = server.services.endpoints;
      const apps = createAppService({
        db: server.services.database.db,
        bus: server.services.bus,
        dialect: server.services.database.dialect,
        cacheTtlMs: 60_000,
        endpoints: {
          ...real,
          async list() {
            const list = await real.list();
            if (hold) {
              hold = false;
              validating.resolve();
              await goOn.promise;
            }
            return list;
          },
        },
      });

      hold = true;
      const deploying = apps.deploy('drafty').then(
        (deployed) => ({ deployed, error: undefined }),
        (error: unknown) => ({ deployed: undefined, error }),
      );
      await validating.promise;
      const patched = await server.admin('PATCH', '/admin/v1/apps/drafty', { routes: routes("'second'") });
      assert.equal(patched.status, 200, patched.text);
      goOn.resolve();
      const outcome = await deploying;

      assert.ok(
        outcome.error instanceof ApiError,
        `the deploy published what it had not validated: ${JSON.stringify(outcome.deployed)}`,
      );
      assert.equal(outcome.error.code, 'conflict');
      assert.match(outcome.error.message, /The draft changed while it was being deployed/);
      const app = (await server.admin('GET', '/admin/v1/apps/drafty')).body.data;
      assert.equal(app.live_version, null, 'nothing went live');
      assert.deepEqual((await server.admin('GET', '/admin/v1/apps/drafty/versions')).body.data, []);

      // Deploying again publishes the draft now stored, as the message says.
      const again = await server.admin('POST', '/admin/v1/apps/drafty/deploy');
      assert.equal(again.status, 201, again.text);
      assert.equal(again.body.data.deployed.version, 1);
      assert.deepEqual(again.body.data.deployed.routes, routes("'second'"));
      const live = await server.request('GET', '/api/v1/apps/drafty/v');
      assert.equal(live.status, 200, live.text);
      assert.equal(live.body, 'second');
    });
  });
}

/** The advisory lock the test holds while the first deploy waits to write its version. */
const HOLD = 727_002;

/**
 * Two deploys of one app at once, on PostgreSQL (SQLite has one writer at a time: two deploys
 * cannot overlap there). A trigger holds the first deploy's version insert, inside its
 * transaction, until the test lets it go; the second deploy is started in that gap.
 */
describe('two deploys of one app at once (PostgreSQL)', { skip: !databaseKinds.includes('postgres') }, () => {
  let server: TestServer;
  let inserts: Awaited<ReturnType<typeof heldInserts>>;

  before(async () => {
    server = await startTestServer('postgres');
    inserts = await heldInserts(server.database.url, {
      table: 'app_versions',
      when: "new.app_slug = 'twice'",
      lock: HOLD,
    });
  });
  after(async () => {
    await inserts.end();
    await server.close();
  });

  test('the second waits for the first and takes the next version: 1 and 2, both 201', async () => {
    const created = await server.admin('POST', '/admin/v1/apps', {
      slug: 'twice',
      name: 'Twice',
      routes: routes("'one'"),
    });
    assert.equal(created.status, 201, created.text);

    await inserts.hold();
    const deploys: Array<Promise<ApiResponse>> = [];
    let both: string[] = [];
    try {
      deploys.push(server.admin('POST', '/admin/v1/apps/twice/deploy'));
      // The first deploy has locked the app and read the highest version: it waits at its insert.
      assert.deepEqual(await until(inserts.waits, (w) => w.length === 1), ['advisory']);
      deploys.push(server.admin('POST', '/admin/v1/apps/twice/deploy'));
      both = await until(inserts.waits, (w) => w.length === 2);
    } finally {
      await inserts.release();
    }
    const answers = await Promise.all(deploys);
    for (const answer of answers) assert.equal(answer.status, 201, answer.text);
    assert.deepEqual(
      answers.map((a) => a.body.data.deployed.version),
      [1, 2],
    );
    // The second had waited for the first's lock on the app's row, not at an insert of its own:
    // it read the highest version once the first had written it.
    assert.deepEqual(both, ['advisory', 'transactionid'], 'where the two deploys waited');
    const versions = (await server.admin('GET', '/admin/v1/apps/twice/versions')).body.data;
    assert.deepEqual(
      versions.map((v: { version: number }) => v.version),
      [2, 1],
    );
    assert.equal((await server.admin('GET', '/admin/v1/apps/twice')).body.data.live_version, 2);
  });
});
