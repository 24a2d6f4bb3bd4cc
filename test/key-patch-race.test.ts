import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { createKeyService } from '../src/keys/key-service.ts';
import { databaseKinds } from './helpers/database.ts';
import { deferred } from './helpers/deferred.ts';
import { startTestServer, type TestServer } from './helpers/server.ts';

for (const kind of databaseKinds) {
  describe(`a key edit racing other changes to the key (${kind})`, () => {
    let server: TestServer;
    before(async () => {
      server = await startTestServer(kind);
    });
    after(async () => {
      await server.close();
    });

    /**
     * A key service of its own (as another process's) whose next read of a key row is held, once
     * read, until the test lets it go: the edit has read the key, and has not written yet. The
     * hold is on the read's answer, after the query (SQLite's one connection is free meanwhile).
     */
    function heldKeyService() {
      const read = deferred();
      const goOn = deferred();
      let hold = false;
      const real = server.services.database.db;
      /** A query builder whose executeTakeFirst() waits, once asked to, after its row came back. */
      const holding = <T extends object>(builder: T): T =>
        new Proxy(builder, {
          get(target, prop) {
            const value = Reflect.get(target, prop, target);
            if (typeof value !== 'function') return value;
            if (prop === 'executeTakeFirst') {
              return async (...args: unknown[]) => {
                const row = await value.apply(target, args);
                if (hold && row && 'status' in row && 'scopes' in row) {
                  hold = false;
                  read.resolve();
                  await goOn.promise;
                }
                return row;
              };
            }
            return (...args: unknown[]) => {
              const out = value.apply(target, args);
              return out && typeof out === 'object' && 'executeTakeFirst' in out ? holding(out) : out;
            };
          },
        });
      const db = new Proxy(real, {
        get(target, prop) {
          const value = Reflect.get(target, prop, target);
          if (prop === 'selectFrom') return (...args: unknown[]) => holding(value.apply(target, args));
          return typeof value === 'function' ? value.bind(target) : value;
        },
      });
      const keys = createKeyService({
        db,
        dialect: server.services.database.dialect,
        bus: server.services.bus,
        prefix: 'gk',
        cacheTtlMs: 60_000,
        rollGraceSeconds: 60,
      });
      return {
        keys,
        holdNextRead: () => {
          hold = true;
        },
        read: read.promise,
        release: () => goOn.resolve(),
      };
    }

    test('an edit that read the key before it was revoked does not bring it back', {
      timeout: 60_000,
    }, async () => {
      const { id, key } = await server.createKey({ name: 'partner', environment: 'test' });
      const held = heldKeyService();
      held.holdNextRead();
      const editing = held.keys.update(id, { name: 'partner-renamed' });
      await held.read;
      // Revoked (a leaked key) while the edit waits between its read and its write.
      const revoked = await server.admin('POST', `/admin/v1/keys/${id}/revoke`);
      assert.equal(revoked.status, 200, revoked.text);
      held.release();
      const edited = await editing;
      assert.equal(edited.name, 'partner-renamed');
      assert.equal(edited.status, 'revoked', 'the edit answers the key as stored');
      const stored = (await server.admin('GET', `/admin/v1/keys/${id}`)).body.data;
      assert.equal(stored.status, 'revoked');
      assert.equal(stored.name, 'partner-renamed');
      const refused = await server.request('GET', '/api/v1/account', { key });
      assert.equal(refused.status, 401);
      assert.equal(refused.body.code, 'api_key_revoked');
    });

    test('an activate or deactivate that read the key before it was revoked does not bring it back', {
      timeout: 60_000,
    }, async () => {
      for (const action of ['activate', 'deactivate'] as const) {
        const { id, key } = await server.createKey({ name: `partner-${action}`, environment: 'test' });
        const held = heldKeyService();
        held.holdNextRead();
        const changing = held.keys[action](id);
        await held.read;
        const revoked = await server.admin('POST', `/admin/v1/keys/${id}/revoke`);
        assert.equal(revoked.status, 200, revoked.text);
        held.release();
        await assert.rejects(changing, {
          code: 'conflict',
          message: 'A revoked key cannot be changed; create a new key',
        });
        const stored = (await server.admin('GET', `/admin/v1/keys/${id}`)).body.data;
        assert.equal(stored.status, 'revoked', `${action} after the revoke`);
        const refused = await server.request('GET', '/api/v1/account', { key });
        assert.equal(refused.status, 401);
        assert.equal(refused.body.code, 'api_key_revoked');
      }
    });

    test('a roll that read the key before it was revoked hands out no secret and keeps the old start', {
      timeout: 60_000,
    }, async () => {
      const { id } = await server.createKey({ name: 'partner-roll', environment: 'test' });
      const before = (await server.admin('GET', `/admin/v1/keys/${id}`)).body.data;
      const held = heldKeyService();
      held.holdNextRead();
      const rolling = held.keys.roll(id, {});
      await held.read;
      const revoked = await server.admin('POST', `/admin/v1/keys/${id}/revoke`);
      assert.equal(revoked.status, 200, revoked.text);
      held.release();
      await assert.rejects(rolling, { code: 'conflict', message: 'A revoked key cannot be rolled' });
      const stored = (await server.admin('GET', `/admin/v1/keys/${id}`)).body.data;
      assert.equal(stored.status, 'revoked');
      assert.equal(stored.start, before.start);
    });

    test("an edit racing a roll keeps the roll's new secret start and a callback secret rotation", {
      timeout: 60_000,
    }, async () => {
      const { id } = await server.createKey({ name: 'rolling', environment: 'test' });
      const held = heldKeyService();
      held.holdNextRead();
      const editing = held.keys.update(id, { limits: { per_minute: 10 } });
      await held.read;
      const rolled = await server.admin('POST', `/admin/v1/keys/${id}/roll`, {});
      assert.equal(rolled.status, 200, rolled.text);
      const rotated = await server.admin('POST', `/admin/v1/keys/${id}/rotate-callback-secret`, {});
      assert.equal(rotated.status, 200, rotated.text);
      held.release();
      await editing;
      const stored = (await server.admin('GET', `/admin/v1/keys/${id}`)).body.data;
      assert.equal(stored.start, rolled.body.data.start);
      assert.deepEqual(stored.limits, { per_minute: 10 });
      const secret = (await server.admin('GET', `/admin/v1/keys/${id}/callback-signing-secret`)).body.data;
      assert.equal(secret.secret, rotated.body.data.secret);
      // The new secret works with the edited limits.
      const account = await server.request('GET', '/api/v1/account', { key: rolled.body.data.key });
      assert.equal(account.status, 200, account.text);
      assert.deepEqual(account.body.data.limits, { per_minute: 10 });
    });
  });
}
