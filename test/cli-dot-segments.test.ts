import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { databaseKinds } from './helpers/database.ts';
import { managementCli } from './helpers/process.ts';
import { startTestServer, type TestServer } from './helpers/server.ts';

/**
 * An id or slug of '', '.' or '..' names nothing: a URL drops `.` and `..` as dot segments (even
 * percent-encoded), so `keys show .` read `/admin/v1/keys/`, the list, and printed it as one key.
 * Each is now the answer an unknown id gets, and nothing is read or changed.
 */
for (const kind of databaseKinds) {
  describe(`CLI: ., .. and '' as an id or slug are not found (${kind})`, () => {
    let server: TestServer;
    let keyId: string;
    const cli = (...args: string[]) => managementCli(server)(...args);

    before(async () => {
      server = await startTestServer(kind);
      await server.createEndpoint({ slug: 'orders', name: 'Orders', schema: { type: 'object' } });
      keyId = (await server.createKey({ name: 'k', environment: 'test' })).id;
    });
    after(() => server.close());

    /** The CLI's --json answer for a command, which must fail as for an id that names nothing. */
    async function notFound(args: string[], unknown: string): Promise<void> {
      const expected = await cli(...args.map((a) => (a === 'ID' ? unknown : a)), '--json');
      assert.equal(expected.code, 1, expected.stdout);
      const want = JSON.parse(expected.stdout);
      for (const id of ['.', '..', '']) {
        const run = await cli(...args.map((a) => (a === 'ID' ? id : a)), '--json');
        assert.equal(run.code, 1, `${args.join(' ')} '${id}': ${run.stdout}`);
        const got = JSON.parse(run.stdout);
        assert.deepEqual(
          { error: got.error, code: got.code, details: got.details },
          { error: want.error.replace(unknown, id), code: want.code, details: want.details },
          `${args.join(' ')} '${id}'`,
        );
      }
    }

    test('show of a key, endpoint, webhook, delivery or app, and a token revoke, answer as for an unknown one', async () => {
      await notFound(['keys', 'show', 'ID'], 'key_unknown');
      await notFound(['endpoints', 'show', 'ID'], 'unknown');
      await notFound(['webhooks', 'show', 'ID'], 'whk_unknown');
      await notFound(['deliveries', 'show', 'ID'], 'dlv_unknown');
      await notFound(['apps', 'show', 'ID'], 'unknown');
      await notFound(['tokens', 'revoke', 'ID', '--yes'], 'mtk_unknown');
    });

    test('without --json it says not found on stderr; a revoke or delete changes nothing', async () => {
      const shown = await cli('keys', 'show', '.');
      assert.equal(shown.code, 1);
      assert.equal(shown.stdout, '');
      assert.match(shown.stderr, /^Error: API key "\." not found \(key_not_found\)/);
      const revoked = await cli('keys', 'revoke', '.', '--yes');
      assert.equal(revoked.code, 1);
      assert.match(revoked.stderr, /key_not_found/);
      const deleted = await cli('endpoints', 'delete', '..', '--yes');
      assert.equal(deleted.code, 1);
      assert.match(deleted.stderr, /endpoint_not_found/);
      const key = await server.admin('GET', `/admin/v1/keys/${keyId}`);
      assert.equal(key.body.data.status, 'active', key.text);
      assert.equal((await server.admin('GET', '/admin/v1/endpoints/orders')).status, 200);
    });
  });
}
