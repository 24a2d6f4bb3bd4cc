import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { createAuditPruner } from '../src/dashboard/audit-retention.ts';
import { isoAfter } from '../src/time.ts';
import { databaseKinds } from './helpers/database.ts';
import { deliveryRow } from './helpers/delivery-row.ts';
import { runGatehouse } from './helpers/process.ts';
import { startTestServer, TEST_OWNER, type TestServer } from './helpers/server.ts';
import { until } from './helpers/until.ts';

const DAY = 86_400;
const STRANGER = 'nobody@example.com';

/**
 * The audit log is pruned by the worker's prune (a minute after its start, then hourly): entries past GATEHOUSE_AUDIT_RETENTION_DAYS,
 * and failed sign-ins of emails no user has past a day (strangers can write those from any number
 * of addresses). Failures still inside the sign-in limits' window are kept, so they still lock out.
 */
for (const kind of databaseKinds) {
  describe(`audit log retention (${kind})`, () => {
    let server: TestServer;
    before(async () => {
      server = await startTestServer(kind, { GATEHOUSE_AUDIT_RETENTION_DAYS: '90' });
    });
    after(() => server.close());

    let n = 0;
    /** Audit entries written as if `ageSeconds` ago, in one statement per 500. */
    async function backdate(ageSeconds: number, action: string, targetId: string, count = 1): Promise<void> {
      const rows = Array.from({ length: count }, () => ({
        id: `audit_test${String(n++).padStart(8, '0')}`,
        at: isoAfter(-ageSeconds),
        action,
        target_type: 'user',
        target_id: targetId,
        ip: '203.0.113.9',
        client: '203.0.113.9',
      }));
      for (let i = 0; i < rows.length; i += 500) {
        await server.services.database.db
          .insertInto('audit_log')
          .values(rows.slice(i, i + 500))
          .execute();
      }
    }
    const count = async (action: string, targetId: string): Promise<number> => {
      const row = await server.services.database.db
        .selectFrom('audit_log')
        .select((eb) => eb.fn.countAll<number>().as('n'))
        .where('action', '=', action)
        .where('target_id', '=', targetId)
        .executeTakeFirstOrThrow();
      return Number(row.n);
    };
    const signIn = (email: string, password: string) =>
      server.request('POST', '/admin/v1/session', { json: { email, password } });

    test('old entries go in batches, recent ones stay; strangers’ failures go after a day, users’ stay', async () => {
      // More than one batch of each, interleaved, so the walk goes past entries it keeps.
      await backdate(91 * DAY, 'key.create', 'key_old', 2_500);
      await backdate(89 * DAY, 'key.create', 'key_recent', 3);
      for (const age of [2 * DAY, 3 * DAY, 30 * DAY]) {
        await backdate(age, 'session.sign_in_failed', STRANGER, 700);
        await backdate(age, 'session.sign_in_failed', TEST_OWNER.email, 400);
      }
      await backdate(DAY - 600, 'session.sign_in_failed', STRANGER, 2);

      await server.services.webhooks.createWorker().prune();

      assert.equal(await count('key.create', 'key_old'), 0, 'past the retention');
      assert.equal(await count('key.create', 'key_recent'), 3, 'inside the retention');
      assert.equal(await count('session.sign_in_failed', STRANGER), 2, 'a stranger’s, within a day, stay');
      assert.equal(await count('session.sign_in_failed', TEST_OWNER.email), 1_200, 'a user’s stay');

      // A later prune finds those that crossed the day since.
      await backdate(DAY + 600, 'session.sign_in_failed', 'later@example.com', 3);
      await server.services.webhooks.createWorker().prune();
      assert.equal(await count('session.sign_in_failed', 'later@example.com'), 0);
    });

    test('failures inside the window still lock out after a prune, a stranger’s email and a user’s', async () => {
      for (let i = 0; i < 5; i++) {
        assert.equal((await signIn(STRANGER, `guess-${i}`)).status, 401);
        assert.equal((await signIn(TEST_OWNER.email, `guess-${i}`)).status, 401);
      }
      await backdate(100 * DAY, 'key.create', 'key_ancient');
      await server.services.webhooks.createWorker().prune();
      assert.equal(await count('key.create', 'key_ancient'), 0, 'the prune ran');
      assert.equal((await signIn(STRANGER, 'guess-5')).status, 429);
      assert.equal((await signIn(TEST_OWNER.email, TEST_OWNER.password)).status, 429);
    });

    test('a stopping server ends a long prune between batches; the next prune goes on', async () => {
      await backdate(95 * DAY, 'key.create', 'key_stopped', 2_500);
      const pruner = createAuditPruner(server.services.database.db, 90);
      const first = await pruner.prune(() => true);
      assert.equal(first.old, 1_000, 'one batch, then it stopped');
      assert.equal(await count('key.create', 'key_stopped'), 1_500);
      const next = await pruner.prune();
      assert.equal(next.old, 1_500);
      assert.equal(await count('key.create', 'key_stopped'), 0);
    });

    test('a started worker prunes soon after its start, not an hour on (a server restarted hourly pruned never)', async (t) => {
      const db = server.services.database.db;
      await backdate(400 * DAY, 'key.create', 'key_at_start', 3);
      await db
        .insertInto('webhook_deliveries')
        .values(deliveryRow('dlv_at_start', 'succeeded', isoAfter(-40 * DAY)))
        .execute();
      const deliveries = async () =>
        (await db.selectFrom('webhook_deliveries').select('id').where('id', '=', 'dlv_at_start').execute())
          .length;
      assert.equal(await count('key.create', 'key_at_start'), 3);
      assert.equal(await deliveries(), 1);

      // The first prune's delay made short: the default (a minute) is what a server runs with.
      const worker = server.services.webhooks.createWorker(undefined, { firstPruneMs: 20 });
      t.after(() => worker.stop());
      worker.start();
      // Waits for the prune (up to 10 s; an hourly first prune never comes in that time).
      const left = await until(
        async () => [await count('key.create', 'key_at_start'), await deliveries()],
        ([entries, rows]) => entries === 0 && rows === 0,
      );
      assert.deepEqual(left, [0, 0], 'the old audit entries and the old delivery went, with no hour to wait');
      assert.equal(await count('key.create', 'key_recent'), 3, 'entries inside the retention stay');
    });
  });
}

describe('GATEHOUSE_AUDIT_RETENTION_DAYS', () => {
  test('below 30 days (the sign-in limits read 30 days of sign-ins) or not a number: refused at start', async (t) => {
    const dir = mkdtempSync(join(tmpdir(), 'gatehouse-audit-retention-'));
    t.after(() => rmSync(dir, { recursive: true, force: true }));
    const env = {
      DATABASE_URL: `sqlite:${join(dir, 'gatehouse.db')}`,
      GATEHOUSE_CLI_CREDENTIALS: join(dir, 'cli.json'),
      PORT: '0',
    };
    for (const value of ['7', 'a year']) {
      // Killed after 30 s should it start after all.
      const run = await runGatehouse(['serve'], { ...env, GATEHOUSE_AUDIT_RETENTION_DAYS: value }, 30_000);
      assert.equal(run.code, 1, run.stdout + run.stderr);
      assert.match(
        run.stderr,
        new RegExp(
          `GATEHOUSE_AUDIT_RETENTION_DAYS must be an integer between 30 and 36500, got "${value}" \\(config_error\\)`,
        ),
      );
    }
  });
});
