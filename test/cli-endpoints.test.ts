import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { managementCli } from './helpers/process.ts';
import { startTestServer, type TestServer } from './helpers/server.ts';

describe('CLI: an endpoint from draft to its deployed versions', () => {
  let server: TestServer;

  const cli = (...args: string[]) => managementCli(server)(...args);

  before(async () => {
    server = await startTestServer('sqlite');
  });
  after(async () => server.close());

  test('create, deploy, change the draft, deploy again: versions lists both, newest first', async () => {
    const created = await cli(
      'endpoints',
      'create',
      '--slug',
      'orders',
      '--name',
      'Orders',
      '--field',
      'order_id:string:required',
      '--field',
      'amount:integer',
    );
    assert.equal(created.code, 0, created.stderr);
    assert.equal((await cli('endpoints', 'versions', 'orders')).stdout.trim(), '(none)', 'a draft only');

    assert.equal((await cli('endpoints', 'deploy', 'orders')).code, 0);
    const schema = JSON.stringify({
      type: 'object',
      properties: { order_id: { type: 'string' }, amount: { type: 'integer' }, paid: { type: 'boolean' } },
      required: ['order_id', 'amount'],
    });
    const updated = await cli('endpoints', 'update', 'orders', '--schema', schema, '--name', 'Orders v2');
    assert.equal(updated.code, 0, updated.stderr);
    assert.equal((await cli('endpoints', 'deploy', 'orders')).code, 0);

    const table = (await cli('endpoints', 'versions', 'orders')).stdout.trim().split('\n');
    assert.match(table[0] as string, /^VERSION\s+NAME\s+FIELDS\s+MAX_BODY_BYTES\s+CREATED_AT$/);
    assert.match(table[1] as string, /^2\s+Orders v2\s+order_id\*, amount\*, paid\s+\d+/);
    assert.match(table[2] as string, /^1\s+Orders\s+order_id\*, amount\s+\d+/);

    const json = JSON.parse((await cli('endpoints', 'versions', 'orders', '--json')).stdout);
    assert.deepEqual(
      json.data.map((v: { version: number; object: string }) => [v.object, v.version]),
      [
        ['endpoint_version', 2],
        ['endpoint_version', 1],
      ],
    );

    const missing = await cli('endpoints', 'versions', 'nope');
    assert.equal(missing.code, 1);
    assert.match(missing.stderr, /endpoint_not_found/);
  });

  test('a bad slug or scope is explained in words, not as a regular expression', async () => {
    const slug = await cli('endpoints', 'create', '--slug', 'A', '--name', 'A', '--field', 'x:string');
    assert.equal(slug.code, 1);
    assert.match(
      slug.stderr,
      /slug: Must be 2-63 lowercase letters, digits or hyphens, starting with a letter or digit/,
    );
    const scope = await cli('keys', 'create', '--name', 'k', '--env', 'test', '--scope', 'orders:delete');
    assert.equal(scope.code, 1);
    assert.match(scope.stderr, /scopes\[0\]: Must be \*, records:read, records:write, <endpoint>:read/);
  });
});
