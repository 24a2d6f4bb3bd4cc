import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, test } from 'node:test';
import { freePort } from '../bench/lib.ts';
import { createServices } from '../src/app.ts';
import { loadConfig } from '../src/config.ts';
import { createTestDatabase, databaseKinds } from './helpers/database.ts';
import { heldInserts } from './helpers/held-inserts.ts';
import { runGatehouse } from './helpers/process.ts';
import { until } from './helpers/until.ts';

/** The advisory lock the test holds while an owner being made waits to be written (PostgreSQL). */
const HOLD_OWNERS = 727_301;

const dir = mkdtempSync(join(tmpdir(), 'gatehouse-init-race-'));
after(() => rmSync(dir, { recursive: true, force: true }));

/**
 * Two `gatehouse init` at the same moment against one database: one makes the owner, the other is
 * told the installation is initialized; never two owners. On PostgreSQL a trigger holds the owner
 * inserts until both inits are past their check for an owner, so the two overlap for certain.
 */
for (const kind of databaseKinds) {
  describe(`gatehouse init twice at once (${kind})`, () => {
    test('one owner; the other init is refused with already_initialized', async () => {
      const database = await createTestDatabase(kind);
      const port = await freePort();
      const env = (name: string) => ({
        DATABASE_URL: database.url,
        PORT: String(port),
        GATEHOUSE_CLI_CREDENTIALS: join(dir, `${kind}-${name}`, 'cli-credentials.json'),
      });
      // Migrated before the race, so both inits find the tables (and the trigger can be put on one).
      await (await createServices(loadConfig(env('migrate')))).close();
      const held =
        kind === 'postgres'
          ? await heldInserts(database.url, {
              table: 'owners',
              when: "new.role = 'owner'",
              lock: HOLD_OWNERS,
            })
          : undefined;
      try {
        await held?.hold();
        const inits = ['ann', 'bob'].map((name) =>
          runGatehouse(
            ['init', '--email', `${name}@example.com`, '--password', 'a long password 1', '--json'],
            env(name),
          ),
        );
        if (held) {
          const waiting = await until(
            async () => (await held.waits()).length,
            (n) => n >= 2,
            // Two CLI processes start, migrate-check and hash a password first: slow on a busy host.
            60_000,
          );
          assert.ok(waiting >= 2, `both inits wait to write, not ${waiting}`);
          await held.release();
        }
        const runs = await Promise.all(inits);
        const made = runs.filter((run) => run.code === 0);
        assert.equal(made.length, 1, JSON.stringify(runs));
        const refused = runs.find((run) => run.code !== 0);
        assert.equal(JSON.parse(refused?.stdout ?? '{}').code, 'already_initialized', JSON.stringify(runs));

        const services = await createServices(loadConfig(env('check')));
        try {
          const owners = await services.database.db
            .selectFrom('owners')
            .select('email')
            .where('role', '=', 'owner')
            .execute();
          assert.deepEqual(owners, [{ email: JSON.parse(made[0]?.stdout ?? '{}').data.owner.email }]);
        } finally {
          await services.close();
        }
      } finally {
        await held?.end();
        await database.drop();
      }
    });
  });
}
