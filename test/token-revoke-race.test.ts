import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { ApiError } from '../src/errors.ts';
import { databaseKinds } from './helpers/database.ts';
import { heldInserts } from './helpers/held-inserts.ts';
import { startTestServer, type TestServer } from './helpers/server.ts';
import { until } from './helpers/until.ts';

/** The advisory locks the tests hold while a token, or a key, being made waits to be written. */
const HOLD = 727_001;
const HOLD_KEYS = 727_101;

/**
 * A credential made by someone losing access, on PostgreSQL (SQLite has one writer at a time: the
 * two cannot overlap there): a token made with a token being revoked, a key made by a collaborator
 * being removed. A trigger holds the new row's insert until the test lets it go, after the making
 * has found its credential still there: the revocation or removal runs in that gap.
 */
describe('revoking access while a credential is made with it (PostgreSQL)', {
  skip: !databaseKinds.includes('postgres'),
}, () => {
  let server: TestServer;
  let inserts: Awaited<ReturnType<typeof heldInserts>>;
  let keyInserts: Awaited<ReturnType<typeof heldInserts>>;

  before(async () => {
    server = await startTestServer('postgres');
    inserts = await heldInserts(server.database.url, {
      table: 'management_tokens',
      when: "new.name = 'made in the race'",
      lock: HOLD,
    });
    keyInserts = await heldInserts(server.database.url, {
      table: 'api_keys',
      when: "new.name = 'made in the race'",
      lock: HOLD_KEYS,
    });
  });
  after(async () => {
    await inserts.end();
    await keyInserts.end();
    await server.close();
  });

  /** How many of the database's connections wait for a lock of this kind. */
  const waiting = async (events: string[]) =>
    (await inserts.waits()).filter((w) => events.includes(w)).length;
  const tokenIds = async () =>
    (
      await server.services.database.db.selectFrom('management_tokens').select('id').orderBy('id').execute()
    ).map((t) => t.id);

  test('once the revocation returns, no token made with the revoked one appears', async () => {
    const made = await server.admin('POST', '/admin/v1/tokens', { name: 'leaked' });
    assert.equal(made.status, 201, made.text);
    const leaked = made.body.data as { id: string; token: string };
    // What a call to POST /admin/v1/tokens authenticated with the leaked token holds.
    const byLeaked = await server.services.owners.verifyToken(leaked.token);

    await inserts.hold();
    const making = server.services.owners.createToken(byLeaked, { name: 'made in the race' }).then(
      (token) => ({ made: token.id }),
      (error: unknown) => ({ error }),
    );
    // The making has found the leaked token and waits to write the new one.
    assert.equal(
      await until(
        () => waiting(['advisory']),
        (n) => n === 1,
      ),
      1,
    );

    let heldOnReturn: string[] | undefined;
    const revoking = server.admin('DELETE', `/admin/v1/tokens/${leaked.id}`).then(async (res) => {
      heldOnReturn = await tokenIds();
      return res;
    });
    // The revocation either returns or waits for the making.
    await until(
      async () => heldOnReturn !== undefined || (await waiting(['transactionid', 'tuple'])) === 1,
      Boolean,
    );
    await inserts.release();
    const revoked = await revoking;
    assert.equal(revoked.status, 200, revoked.text);
    const outcome = await making;

    const held = await tokenIds();
    assert.deepEqual(held, heldOnReturn, 'nothing appears after the revocation returned');
    assert.equal(held.includes(leaked.id), false);
    // It was made before the revocation, and is listed for the owner to revoke too.
    assert.ok('made' in outcome, String('error' in outcome && outcome.error));
    assert.ok(held.includes(outcome.made));

    // Made after the revocation, it is refused.
    await assert.rejects(server.services.owners.createToken(byLeaked, { name: 'after' }), {
      code: 'unauthorized',
    });
    assert.deepEqual(await tokenIds(), held);
  });

  test('removing a collaborator while they make a key: no key of theirs is left active, and a key made after the removal is refused', async () => {
    const invite = await server.admin('POST', '/admin/v1/invites', { email: 'erin@example.com' });
    assert.equal(invite.status, 201, invite.text);
    const token = new URL(invite.body.data.url).hash.replace('#/invite/', '');
    const accepted = await server.request('POST', '/admin/v1/invites/accept', {
      json: { token, password: 'erin password' },
    });
    assert.equal(accepted.status, 201, accepted.text);
    const erin = accepted.body.data.user.id as string;
    const keysOf = async () =>
      await server.services.database.db
        .selectFrom('api_keys')
        .select(['name', 'status'])
        .where('created_by', '=', erin)
        .orderBy('name')
        .execute();

    // What POST /admin/v1/keys does for her once her credential has been checked.
    await keyInserts.hold();
    const making = server.services.keys
      .create({ name: 'made in the race', environment: 'test' }, { userId: erin, testOnly: true })
      .then(
        (key) => ({ made: key.id }),
        (error: unknown) => ({ error }),
      );
    await until(
      async () => (await keyInserts.waits()).filter((w) => w === 'advisory').length,
      (n) => n === 1,
    );
    const removing = server.admin('DELETE', `/admin/v1/collaborators/${erin}`);
    // The removal waits for the making (her row is held) or, before, went ahead without it.
    await until(
      async () => (await keyInserts.waits()).filter((w) => w === 'transactionid' || w === 'tuple').length,
      (n) => n === 1,
      2_000,
    ).catch(() => undefined);
    await keyInserts.release();
    const removed = await removing;
    assert.equal(removed.status, 200, removed.text);
    const outcome = await making;
    assert.ok(
      'made' in outcome,
      `the key made first is made: ${String((outcome as { error?: unknown }).error)}`,
    );
    assert.deepEqual(await keysOf(), [{ name: 'made in the race', status: 'revoked' }]);
    assert.equal(removed.body.data.email, 'erin@example.com');

    // Made after the removal (a request that had checked her token just before): refused.
    await assert.rejects(
      server.services.keys.create(
        { name: 'made after', environment: 'test' },
        { userId: erin, testOnly: true },
      ),
      (error: unknown) =>
        error instanceof ApiError &&
        error.code === 'unauthorized' &&
        error.message === 'Your account was removed',
    );
    assert.deepEqual(await keysOf(), [{ name: 'made in the race', status: 'revoked' }]);
  });
});
