import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { databaseKinds } from './helpers/database.ts';
import { heldInserts } from './helpers/held-inserts.ts';
import { startTestServer, type TestServer } from './helpers/server.ts';
import { until } from './helpers/until.ts';

/** The advisory lock the test holds while a token being made waits to be written. */
const HOLD = 727_001;

/**
 * A token made with a token being revoked, on PostgreSQL (SQLite has one writer at a time: the
 * two cannot overlap there). A trigger holds the new token's insert until the test lets it go,
 * after the making has found its credential still there: the revocation runs in that gap.
 */
describe('revoking a token while a token is made with it (PostgreSQL)', {
  skip: !databaseKinds.includes('postgres'),
}, () => {
  let server: TestServer;
  let inserts: Awaited<ReturnType<typeof heldInserts>>;

  before(async () => {
    server = await startTestServer('postgres');
    inserts = await heldInserts(server.database.url, {
      table: 'management_tokens',
      when: "new.name = 'made in the race'",
      lock: HOLD,
    });
  });
  after(async () => {
    await inserts.end();
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
});
