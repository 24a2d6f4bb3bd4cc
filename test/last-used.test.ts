import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import pg from 'pg';
import { databaseKinds } from './helpers/database.ts';
import { runGatehouse } from './helpers/process.ts';
import { ordersSchema, startPeerServer, startTestServer, type TestServer } from './helpers/server.ts';

/**
 * When each credential was last used: noted in memory on each use and written in batches (every
 * few seconds, and when a server stops), not once per request. The tests call the flush.
 */
for (const kind of databaseKinds) {
  describe(`management tokens and API keys say when they were last used (${kind})`, () => {
    let server: TestServer;

    before(async () => {
      server = await startTestServer(kind);
    });
    after(async () => {
      await server.close();
    });

    type Listed = { id: string; name: string; last_used_at: string | null };
    const listed = async (token = server.token): Promise<Listed[]> => {
      const res = await server.request('GET', '/admin/v1/tokens', { token });
      assert.equal(res.status, 200, res.text);
      return res.body.data;
    };
    /** The last use written to the database, not the one noted in memory. */
    const stored = async (id: string, table: 'management_tokens' | 'api_keys' = 'management_tokens') =>
      (
        await server.services.database.db
          .selectFrom(table)
          .select('last_used_at')
          .where('id', '=', id)
          .executeTakeFirstOrThrow()
      ).last_used_at;
    const make = async (name: string) => {
      const res = await server.admin('POST', '/admin/v1/tokens', { name });
      assert.equal(res.status, 201, res.text);
      assert.equal(res.body.data.last_used_at, null, 'a new token was never used');
      return res.body.data as { id: string; token: string };
    };

    test('a token used shows when, written by the flush; one never used shows null', async () => {
      const used = await make('deploy script');
      const unused = await make('spare');
      const from = new Date().toISOString();
      assert.equal((await server.request('GET', '/admin/v1/endpoints', { token: used.token })).status, 200);
      assert.equal((await server.request('GET', '/admin/v1/keys', { token: used.token })).status, 200);
      const until = new Date().toISOString();

      await server.services.owners.flushLastUsed();
      const at = await stored(used.id);
      assert.ok(at !== null && at >= from && at <= until, `last used ${at}, between ${from} and ${until}`);
      assert.equal(await stored(unused.id), null);
      const byName = new Map((await listed()).map((t) => [t.name, t.last_used_at]));
      assert.equal(byName.get('deploy script'), at);
      assert.equal(byName.get('spare'), null);

      const revoked = await server.admin('DELETE', `/admin/v1/tokens/${used.id}`);
      assert.equal(revoked.status, 200, revoked.text);
      assert.equal(revoked.body.data.last_used_at, at);
      const spare = await server.admin('DELETE', `/admin/v1/tokens/${unused.id}`);
      assert.equal(spare.body.data.last_used_at, null);
      await server.services.owners.flushLastUsed();
    });

    test("the list shows a use not yet written; a server stopping writes its tokens' uses", async () => {
      const token = await make('other machine');
      const peer = await startPeerServer(server, {});
      const status = (
        await fetch(`${peer.url}/admin/v1/keys`, { headers: { authorization: `Bearer ${token.token}` } })
      ).status;
      assert.equal(status, 200);
      // On the peer, before any flush, its own list answers the use it noted.
      const onPeer = await fetch(`${peer.url}/admin/v1/tokens`, {
        headers: { authorization: `Bearer ${token.token}` },
      });
      const mine = ((await onPeer.json()) as { data: Listed[] }).data.find((t) => t.id === token.id);
      assert.ok(mine?.last_used_at, 'noted at once');
      await peer.close();
      const after = (await listed()).find((t) => t.id === token.id);
      assert.equal(after?.last_used_at, mine.last_used_at, 'written when the peer stopped');
    });

    test('CLI: tokens list shows when each was last used, "never" for one unused', async () => {
      await make('never used');
      await server.services.owners.flushLastUsed();
      const cli = await runGatehouse(['tokens', 'list'], {
        GATEHOUSE_URL: server.url,
        GATEHOUSE_TOKEN: server.token,
      });
      assert.equal(cli.code, 0, cli.stderr);
      assert.match(cli.stdout, /^ID\s+NAME\s+CREATED_AT\s+LAST_USED_AT\s+CURRENT$/m);
      assert.match(cli.stdout, /\binit\s+\S+\s+\d{4}-\d\d-\d\dT\S+Z\s+yes \(this CLI\)$/m);
      assert.match(cli.stdout, /\bnever used\s+\S+\s+never$/m);
    });

    test('a flush does not wait for a token another transaction holds (PostgreSQL)', {
      skip: kind !== 'postgres',
    }, async () => {
      // A password change deletes its user's tokens in an order of its own; a flush holding some of
      // them while it waited for another could deadlock with it, and fail the change.
      const held = await make('held elsewhere');
      const free = await make('free');
      for (const token of [held, free]) {
        assert.equal((await server.request('GET', '/admin/v1/keys', { token: token.token })).status, 200);
      }
      const client = new pg.Client({ connectionString: server.database.url });
      await client.connect();
      try {
        await client.query('begin');
        await client.query('select id from management_tokens where id = $1 for update', [held.id]);
        const outcome = await Promise.race([
          server.services.owners.flushLastUsed().then(() => 'flushed'),
          new Promise((resolve) => setTimeout(resolve, 3_000, 'waited')),
        ]);
        assert.equal(outcome, 'flushed');
        await client.query('rollback');
      } finally {
        await client.end();
      }
      assert.notEqual(await stored(free.id), null, 'the rows not held are written');
    });

    test('a flush never moves a last use back (another server wrote a later one)', async () => {
      const token = await make('shared');
      const later = new Date(Date.now() + 60_000).toISOString();
      // As another server's flush of a use noted after this one's.
      await server.services.database.db
        .updateTable('management_tokens')
        .set({ last_used_at: later })
        .where('id', '=', token.id)
        .execute();
      assert.equal((await server.request('GET', '/admin/v1/keys', { token: token.token })).status, 200);
      await server.services.owners.flushLastUsed();
      assert.equal(await stored(token.id), later);
      await server.admin('DELETE', `/admin/v1/tokens/${token.id}`);
    });

    test('an API key used shows when, written by the same flush; one never used shows null', async () => {
      await server.createEndpoint({ slug: 'orders', name: 'Orders', schema: ordersSchema });
      const used = await server.createKey({ name: 'partner', environment: 'test' });
      const unused = await server.createKey({ name: 'spare key', environment: 'test' });
      const from = new Date().toISOString();
      assert.equal((await server.request('GET', '/api/v1/data/orders', { key: used.key })).status, 200);
      const until = new Date().toISOString();
      await server.services.keys.flushLastUsed();
      const at = await stored(used.id, 'api_keys');
      assert.ok(at !== null && at >= from && at <= until, `last used ${at}, between ${from} and ${until}`);
      assert.equal((await server.admin('GET', `/admin/v1/keys/${used.id}`)).body.data.last_used_at, at);
      assert.equal((await server.admin('GET', `/admin/v1/keys/${unused.id}`)).body.data.last_used_at, null);
    });
  });
}
