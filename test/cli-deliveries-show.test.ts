import assert from 'node:assert/strict';
import { createServer, type Server } from 'node:http';
import { after, before, describe, test } from 'node:test';
import { databaseKinds } from './helpers/database.ts';
import { managementCli } from './helpers/process.ts';
import { startTestServer, type TestServer } from './helpers/server.ts';
import { until } from './helpers/until.ts';

/** A receiver that refuses every delivery with a body saying why, as a real one would. */
async function refusingReceiver(body: string): Promise<{ url: string; close: () => Promise<void> }> {
  const server: Server = createServer((req, res) => {
    req.resume();
    req.on('end', () => {
      res.writeHead(400, { 'content-type': 'text/plain' });
      res.end(body);
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const address = server.address();
  const port = typeof address === 'object' && address ? address.port : 0;
  return {
    url: `http://127.0.0.1:${port}/hook`,
    close: () =>
      new Promise((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}

for (const kind of databaseKinds) {
  describe(`CLI: deliveries show prints what the receiver answered (${kind})`, () => {
    let server: TestServer;
    let receiver: Awaited<ReturnType<typeof refusingReceiver>>;
    const cli = (...args: string[]) => managementCli(server)(...args);
    // A receiver's answer is its own text: a terminal escape in it must not reach the terminal.
    const answer = `invalid signature: no v1 signature matched\n\u001b[2J\u001b[31mred${'x'.repeat(300)}`;

    before(async () => {
      server = await startTestServer(kind, { GATEHOUSE_WEBHOOK_ALLOW_NETS: '127.0.0.0/8' }, { worker: true });
      receiver = await refusingReceiver(answer);
      await server.createEndpoint({
        slug: 'orders',
        name: 'Orders',
        schema: { type: 'object' },
        retry: { max_retries: 0, interval_seconds: 1 },
      });
      const made = await server.admin('POST', '/admin/v1/endpoints/orders/webhooks', {
        url: receiver.url,
        environment: 'test',
      });
      assert.equal(made.status, 201, made.text);
    });
    after(async () => {
      await server.close();
      await receiver.close();
    });

    test('each attempt shows the start of the response body, on one line, escapes shown as such', async () => {
      const key = (await server.createKey({ name: 'k', environment: 'test' })).key;
      const write = await server.request('POST', '/api/v1/data/orders', { key, json: { a: 1 } });
      assert.equal(write.status, 202);
      const failed = await until(
        () => server.admin('GET', `/admin/v1/deliveries?record_id=${write.body.id}&status=failed`),
        (res) => res.body.data.length === 1,
      );
      const [delivery] = failed.body.data;
      assert.equal(delivery.attempts[0].response_body, answer);

      const shown = await cli('deliveries', 'show', delivery.id);
      assert.equal(shown.code, 0, shown.stderr);
      // Before, the table had no response column: the receiver's reason could only be read with --json.
      assert.match(shown.stdout, /ATTEMPTED_AT\s+DURATION_MS\s+STATUS_CODE\s+ERROR\s+RESPONSE_BODY/);
      const line = shown.stdout.split('\n').find((l) => /^\d{4}-.*answered 400/.test(l));
      assert.ok(line, shown.stdout);
      assert.match(line, /invalid signature: no v1 signature matched\\n\\u001b\[2J\\u001b\[31mredx+…$/);
      assert.ok(!shown.stdout.includes('\u001b'), 'no raw escape reaches the terminal');
      assert.ok(line.length < 250, `one short line, not ${line.length} characters`);
      assert.match(shown.stdout, /response bodies are cut at 120 characters: --json shows them whole/);

      // --json keeps the body as stored.
      const json = JSON.parse((await cli('deliveries', 'show', delivery.id, '--json')).stdout);
      assert.equal(json.data.attempts[0].response_body, answer);
    });
  });
}
