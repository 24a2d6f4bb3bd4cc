import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { databaseKinds } from './helpers/database.ts';
import { managementCli } from './helpers/process.ts';
import { ordersSchema, startTestServer, type TestServer } from './helpers/server.ts';

// A new user's first tries with `gatehouse records import|export`, as README's "Bulk data" says.
for (const kind of databaseKinds) {
  describe(`records import and export on the first try (${kind})`, () => {
    let server: TestServer;
    let cli: ReturnType<typeof managementCli>;
    const dir = mkdtempSync(join(tmpdir(), 'gatehouse-firsttry-records-'));

    before(async () => {
      server = await startTestServer(kind);
      cli = managementCli(server);
      await server.createEndpoint({ slug: 'orders', name: 'Orders', schema: ordersSchema });
    });
    after(async () => {
      await server.close();
      rmSync(dir, { recursive: true, force: true });
    });

    test('an --env that is neither test nor live is a usage error, before anything is read or sent', async () => {
      // Every row refused by the CLI itself: no request carried the environment to the server,
      // which used to print "Imported 0 of 1 rows into orders (prod)" and exit 2.
      const file = join(dir, 'bad.ndjson');
      writeFileSync(file, '{"order_id":"x"\n');
      for (const args of [
        ['records', 'import', 'orders', file, '--env', 'prod'],
        ['records', 'export', 'orders', '--env', 'prod'],
      ]) {
        const res = await cli(...args, '--json');
        assert.equal(res.code, 1, `${args.join(' ')}: ${res.stdout}`);
        const envelope = JSON.parse(res.stdout);
        assert.equal(envelope.code, 'cli_usage');
        assert.match(envelope.error, /'prod' is invalid\. Allowed choices are test, live/);
        const plain = await cli(...args);
        assert.equal(plain.code, 1);
        assert.doesNotMatch(plain.stdout, /Imported/);
        assert.match(plain.stderr, /Allowed choices are test, live/);
      }
      const help = await cli('records', 'import', '--help');
      assert.match(
        help.stdout,
        /--env <environment>\s+test or live \(choices: "test", "live", default: "test"\)/,
      );
    });
  });
}
