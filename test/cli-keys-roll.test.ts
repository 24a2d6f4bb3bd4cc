import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { managementCli } from './helpers/process.ts';
import { ordersSchema, startTestServer, type TestServer } from './helpers/server.ts';

describe('CLI: keys roll says when the key it rolled is deactivated', () => {
  let server: TestServer;
  const cli = (...args: string[]) => managementCli(server)(...args);

  before(async () => {
    server = await startTestServer('sqlite');
    await server.createEndpoint({ slug: 'orders', name: 'Orders', schema: ordersSchema });
  });
  after(async () => server.close());

  test('a deactivated key: the new secret is printed with its status and how to make it work', async () => {
    const { id } = await server.createKey({ name: 'partner', environment: 'test' });
    assert.equal((await server.admin('POST', `/admin/v1/keys/${id}/deactivate`)).status, 200);
    const run = await cli('keys', 'roll', id);
    assert.equal(run.code, 0, run.stderr);
    const secret = /^key\s+(\S+)$/m.exec(run.stdout)?.[1] as string;
    // What the output warns about: the new secret is refused until the key is activated.
    const refused = await server.request('GET', '/api/v1/data/orders/rec_x', {
      key: secret,
    });
    assert.equal(refused.body.code, 'api_key_inactive');
    assert.match(run.stdout, /^status\s+inactive$/m);
    assert.match(
      run.stdout,
      new RegExp(
        `The key is deactivated: neither the new secret nor the old one works until it is activated \\(gatehouse keys activate ${id}\\)`,
      ),
    );
  });

  test('an active key: no such warning', async () => {
    const { id } = await server.createKey({ name: 'other', environment: 'test' });
    const run = await cli('keys', 'roll', id, '--grace-seconds', '60');
    assert.equal(run.code, 0, run.stderr);
    assert.match(run.stdout, /^status\s+active$/m);
    assert.doesNotMatch(run.stdout, /deactivated/);
  });

  test("--help names the server's setting as the default grace, not a fixed number", async () => {
    const run = await cli('keys', 'roll', '--help');
    assert.match(run.stdout.replace(/\s+/g, ' '), /GATEHOUSE_KEY_ROLL_GRACE_SECONDS, 86400 unless set/);
  });
});
