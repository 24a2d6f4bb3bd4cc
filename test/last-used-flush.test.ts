import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import type { Db } from '../src/infra/db/database.ts';
import { createLastUsed } from '../src/infra/db/last-used.ts';
import { databaseKinds } from './helpers/database.ts';
import { deferred } from './helpers/deferred.ts';
import { startTestServer, type TestServer } from './helpers/server.ts';

for (const kind of databaseKinds) {
  describe(`a credential's last use while it is being written (${kind})`, () => {
    let server: TestServer;
    before(async () => {
      server = await startTestServer(kind);
    });
    after(async () => {
      await server.close();
    });

    /** The database, with its next transaction held until the test lets it go, or failing once. */
    function gatedDb(outcome: 'hold' | 'fail') {
      const started = deferred();
      const goOn = deferred();
      const real = server.services.database.db;
      let failed = false;
      const db = new Proxy(real, {
        get(target, prop) {
          const value = Reflect.get(target, prop, target);
          if (prop !== 'transaction') return typeof value === 'function' ? value.bind(target) : value;
          return () => ({
            async execute(work: Parameters<ReturnType<Db['transaction']>['execute']>[0]) {
              started.resolve();
              if (outcome === 'fail' && !failed) {
                failed = true;
                throw new Error('the database went away');
              }
              if (outcome === 'hold') await goOn.promise;
              return real.transaction().execute(work);
            },
          });
        },
      }) as Db;
      return { db, started: started.promise, release: () => goOn.resolve() };
    }

    const stored = async (id: string) =>
      (
        await server.services.database.db
          .selectFrom('api_keys')
          .select(['id', 'last_used_at'])
          .where('id', '=', id)
          .executeTakeFirstOrThrow()
      ).last_used_at;

    test('a use being flushed shows in a row read before the flush commits', {
      timeout: 60_000,
    }, async () => {
      const { id } = await server.createKey({ name: 'flushing', environment: 'test' });
      const gate = gatedDb('hold');
      const lastUsed = createLastUsed(gate.db, server.services.database.dialect, 'api_keys');
      const at = Date.parse('2026-12-03T10:00:00.000Z');
      lastUsed.note(id, at);
      const flushed = lastUsed.flush();
      await gate.started;
      // A revoke's answer, say, reads the row now: the stored use is still the old one.
      assert.equal(await stored(id), null);
      assert.equal(lastUsed.of({ id, last_used_at: await stored(id) }), '2026-12-03T10:00:00.000Z');
      gate.release();
      await flushed;
      assert.equal(await stored(id), '2026-12-03T10:00:00.000Z');
      assert.equal(lastUsed.of({ id, last_used_at: await stored(id) }), '2026-12-03T10:00:00.000Z');
    });

    test('a flush that fails keeps its uses for the next one', { timeout: 60_000 }, async () => {
      const { id } = await server.createKey({ name: 'failing', environment: 'test' });
      const failing = gatedDb('fail');
      const lastUsed = createLastUsed(failing.db, server.services.database.dialect, 'api_keys');
      lastUsed.note(id, Date.parse('2026-12-03T11:00:00.000Z'));
      await assert.rejects(lastUsed.flush(), /the database went away/);
      assert.equal(lastUsed.of({ id, last_used_at: null }), '2026-12-03T11:00:00.000Z');
      // The database is back: the next flush writes it.
      await lastUsed.flush();
      assert.equal(await stored(id), '2026-12-03T11:00:00.000Z');
    });

    test('a later use stored by another process wins over an earlier one noted here', async () => {
      const lastUsed = createLastUsed(
        server.services.database.db,
        server.services.database.dialect,
        'api_keys',
      );
      lastUsed.note('key_x', Date.parse('2026-12-03T09:00:00.000Z'));
      assert.equal(
        lastUsed.of({ id: 'key_x', last_used_at: '2026-12-03T09:30:00.000Z' }),
        '2026-12-03T09:30:00.000Z',
      );
      assert.equal(
        lastUsed.of({ id: 'key_x', last_used_at: '2026-12-03T08:30:00.000Z' }),
        '2026-12-03T09:00:00.000Z',
      );
    });
  });
}
