import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { databaseKinds } from './helpers/database.ts';
import { heldInserts } from './helpers/held-inserts.ts';
import { type ApiResponse, startTestServer, type TestServer } from './helpers/server.ts';
import { until } from './helpers/until.ts';

/** The advisory locks the tests hold while an invite, or a user, being made waits to be written. */
const HOLD_INVITES = 727_201;
const HOLD_OWNERS = 727_202;
const SENT_AT_ONCE = 20;

const tokenOf = (res: ApiResponse) => new URL(res.body.data.url).hash.replace('#/invite/', '');

/**
 * Invites to one email sent at the same moment, and an invite accepted while another is sent: one
 * email has at most one pending invite, and its link is the one that works. On PostgreSQL a
 * trigger holds the first invite's insert until a second request is waiting too, so the two
 * overlap for certain (SQLite has one writer at a time: there they take turns anyway).
 */
for (const kind of databaseKinds) {
  describe(`invites sent at once (${kind})`, () => {
    let server: TestServer;
    let held: Awaited<ReturnType<typeof heldInserts>> | undefined;
    let heldOwners: Awaited<ReturnType<typeof heldInserts>> | undefined;

    before(async () => {
      server = await startTestServer(kind);
      if (kind !== 'postgres') return;
      const holdTo = (table: string, email: string, lock: number) =>
        heldInserts(server.database.url, { table, when: `new.email = '${email}'`, lock });
      held = await holdTo('invites', 'gil@example.com', HOLD_INVITES);
      heldOwners = await holdTo('owners', 'hal@example.com', HOLD_OWNERS);
    });
    after(async () => {
      await held?.end();
      await heldOwners?.end();
      await server.close();
    });

    const pendingTo = async (email: string) =>
      await server.services.database.db
        .selectFrom('invites')
        .select('id')
        .where('email', '=', email)
        .where('accepted_at', 'is', null)
        .execute();
    /** How many of the database's connections wait for a lock (PostgreSQL). */
    const lockWaits = async () => (held ? (await held.waits()).length : 0);

    test(`${SENT_AT_ONCE} invites to one email at once: each answers 201, one stays pending, and only its link works`, async () => {
      await held?.hold();
      const sending = Array.from({ length: SENT_AT_ONCE }, () =>
        server.admin('POST', '/admin/v1/invites', { email: 'gil@example.com' }),
      );
      if (held) {
        // The first insert is held; another request is waiting as well (for the insert or its turn).
        assert.ok((await until(lockWaits, (n) => n >= 2)) >= 2, 'two invites overlap');
        await held.release();
      }
      const sent = await Promise.all(sending);
      for (const res of sent) assert.equal(res.status, 201, res.text);

      const pending = await pendingTo('gil@example.com');
      assert.equal(pending.length, 1, `one pending invite, not ${pending.length}`);
      const listed = await server.admin('GET', '/admin/v1/invites');
      assert.deepEqual(
        (listed.body.data as Array<{ id: string; email: string }>)
          .filter((invite) => invite.email === 'gil@example.com')
          .map((invite) => invite.id),
        pending.map((invite) => invite.id),
      );
      const winner = sent.find((res) => res.body.data.id === pending[0]?.id);
      assert.ok(winner, 'the pending invite is one of those sent');
      for (const res of sent) {
        const lookup = await server.request('GET', `/admin/v1/invites/lookup?token=${tokenOf(res)}`);
        if (res === winner) assert.equal(lookup.status, 200, lookup.text);
        else {
          assert.equal(lookup.status, 404, lookup.text);
          assert.equal(lookup.body.code, 'invite_not_found');
        }
      }
      // Each invite replaced the one before it: the audit log names every other one once.
      const audited = await until(
        async () => (await server.admin('GET', '/admin/v1/audit?action=invite.create')).body.data,
        (entries: unknown[]) => entries.length === SENT_AT_ONCE,
      );
      const replaced = (audited as Array<{ details: { replaced?: string[] } }>).flatMap(
        (entry) => entry.details.replaced ?? [],
      );
      assert.deepEqual(
        replaced.sort(),
        sent
          .filter((res) => res !== winner)
          .map((res) => res.body.data.id as string)
          .sort(),
      );

      // Its link accepted twice at once makes one user.
      const accepts = await Promise.all(
        [1, 2].map(() =>
          server.request('POST', '/admin/v1/invites/accept', {
            json: { token: tokenOf(winner), password: 'gil password' },
          }),
        ),
      );
      assert.deepEqual(
        accepts.map((res) => res.status).sort(),
        [201, 404],
        accepts.map((r) => r.text).join(),
      );
      const users = await server.admin('GET', '/admin/v1/collaborators');
      assert.equal(
        (users.body.data as Array<{ email: string }>).filter((u) => u.email === 'gil@example.com').length,
        1,
      );
      assert.deepEqual(await pendingTo('gil@example.com'), []);
    });

    test('an invite sent while the email accepts another is refused, not left pending', {
      skip: kind !== 'postgres' && 'SQLite has one writer at a time: the two cannot overlap',
    }, async () => {
      const first = await server.admin('POST', '/admin/v1/invites', { email: 'hal@example.com' });
      assert.equal(first.status, 201, first.text);
      await heldOwners?.hold();
      const accepting = server.request('POST', '/admin/v1/invites/accept', {
        json: { token: tokenOf(first), password: 'hal password' },
      });
      // The acceptance has claimed the invite and waits to make the user.
      assert.equal(await until(lockWaits, (n) => n === 1), 1);
      const again = server.admin('POST', '/admin/v1/invites', { email: 'hal@example.com' });
      // The re-invite waits for the acceptance (its turn, or the claimed invite's row).
      assert.equal(await until(lockWaits, (n) => n === 2), 2);
      await heldOwners?.release();
      const accepted = await accepting;
      assert.equal(accepted.status, 201, accepted.text);
      const refused = await again;
      assert.equal(refused.status, 409, refused.text);
      assert.equal(refused.body.code, 'conflict');
      assert.equal(refused.body.error, 'A user with the email hal@example.com exists');
      assert.deepEqual(await pendingTo('hal@example.com'), []);
    });
  });
}
