import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { after, before, describe, test } from 'node:test';
import { promisify } from 'node:util';
import { startTestServer, type TestServer } from './helpers/server.ts';

const run = promisify(execFile);

describe('the CLI in a pipeline', () => {
  let server: TestServer;

  before(async () => {
    server = await startTestServer('sqlite');
    // Enough keys that the listing is far bigger than a pipe's buffer.
    for (let i = 0; i < 1500; i++)
      await server.services.keys.create({ name: `key ${i}`, environment: 'test' });
  });
  after(async () => server.close());

  test('a reader that stops early (head) ends the command quietly, with no EPIPE crash', async () => {
    const command = `node bin/gatehouse.js keys list --url ${server.url} --token ${server.token} | head -n 2; echo "status \${PIPESTATUS[0]}"`;
    const { stdout, stderr } = await run('bash', ['-c', command]);
    assert.match(stdout, /status 0/);
    assert.equal(stdout.trim().split('\n').length, 3);
    assert.doesNotMatch(stderr, /EPIPE|Unhandled/);
  });
});
