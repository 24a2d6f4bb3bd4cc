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
    test('an export saved as .json (NDJSON) is imported with a hint to --format ndjson, not a parser position', async () => {
      await server.admin('POST', '/admin/v1/endpoints/orders/import?environment=test', {
        records: [
          { order_id: 'E-1', amount: 1 },
          { order_id: 'E-2', amount: 2 },
        ],
      });
      // The natural round trip: `records export orders > orders.json`, then import that file.
      const exported = await cli('records', 'export', 'orders');
      assert.equal(exported.code, 0, exported.stderr);
      const file = join(dir, 'orders.json');
      writeFileSync(file, exported.stdout);
      const res = await cli('records', 'import', 'orders', file, '--json');
      assert.equal(res.code, 1);
      const envelope = JSON.parse(res.stdout);
      assert.equal(envelope.code, 'cli_usage');
      assert.equal(
        envelope.error,
        `${file} is not valid JSON: it holds one JSON value per line (NDJSON, as \`records export\` writes), not one JSON array. Import it with --format ndjson (or name it .ndjson)`,
      );
      // As the hint says.
      const again = await cli('records', 'import', 'orders', file, '--format', 'ndjson', '--json');
      assert.equal(again.code, 0, again.stdout);
      assert.equal(JSON.parse(again.stdout).data.imported, 2);
      // A .json file that is broken JSON, not NDJSON, still gets the parser's reason.
      const broken = join(dir, 'broken.json');
      writeFileSync(broken, '[\n{"order_id": "B-1", "amount": 1},\n');
      const res2 = await cli('records', 'import', 'orders', broken, '--json');
      assert.equal(res2.code, 1);
      assert.doesNotMatch(JSON.parse(res2.stdout).error, /NDJSON/);
    });
    test('a missing file, a folder or a name that tells no format is a usage error, before anything is sent', async () => {
      const before = await server.admin('GET', '/admin/v1/endpoints/orders/export?environment=test');
      const xml = join(dir, 'orders.xml');
      writeFileSync(xml, '{"order_id":"X-1","amount":1}\n');
      for (const [file, message] of [
        [join(dir, 'missing.csv'), `No such file: ${join(dir, 'missing.csv')}`],
        [dir, `${dir} is not a file`],
        [xml, `Cannot tell the format of ${xml} from its name: give --format ndjson, json or csv`],
      ] as const) {
        const res = await cli('records', 'import', 'orders', file, '--json');
        assert.equal(res.code, 1, res.stdout);
        const envelope = JSON.parse(res.stdout);
        assert.equal(envelope.code, 'cli_usage');
        assert.equal(envelope.error, message);
        const plain = await cli('records', 'import', 'orders', file);
        assert.equal(plain.code, 1);
        assert.doesNotMatch(plain.stderr, /ENOENT|EISDIR|stat '/);
      }
      // As the message says: the same file with --format is imported.
      const given = await cli('records', 'import', 'orders', xml, '--format', 'ndjson', '--json');
      assert.equal(given.code, 0, given.stdout);
      // A name with no extension, and .jsonl, read as NDJSON.
      for (const name of ['orders-export', 'orders.jsonl']) {
        const file = join(dir, name);
        writeFileSync(file, '{"order_id":"N-1","amount":1}\n');
        const res = await cli('records', 'import', 'orders', file, '--json');
        assert.equal(res.code, 0, `${name}: ${res.stdout}`);
      }
      const afterwards = await server.admin('GET', '/admin/v1/endpoints/orders/export?environment=test');
      assert.equal(
        afterwards.text.split('\n').filter(Boolean).length,
        before.text.split('\n').filter(Boolean).length + 3,
      );
    });
    test('import --help says what --json prints: the summary, whose fields it names', async () => {
      const help = await cli('records', 'import', '--help');
      assert.equal(help.code, 0);
      const text = help.stdout.replace(/\s+/g, ' ');
      assert.doesNotMatch(text, /--json print the API response/);
      assert.match(text, /endpoint the endpoint’s slug/);
      assert.match(
        text,
        /--format <format> ndjson, json \(one array\) or csv \(default: from the file name: \.csv, \.json, or ndjson for \.ndjson, \.jsonl, no extension and stdin/,
      );
      const named = /--json print the summary as JSON: \{([^}]*)\}/.exec(text)?.[1];
      assert.ok(named, text);
      const file = join(dir, 'one.ndjson');
      writeFileSync(file, '{"order_id":"S-1","amount":1}\n{"order_id":"S-2"}\n');
      const res = await cli('records', 'import', 'orders', file, '--json');
      assert.equal(res.code, 2);
      const summary = JSON.parse(res.stdout).data;
      assert.deepEqual(
        Object.keys(summary),
        [...named.matchAll(/"(\w+)"/g)].map((m) => m[1]).filter((k) => k !== 'line' && k !== 'details'),
      );
      assert.deepEqual(Object.keys(summary.problems[0]), ['line', 'details']);
    });
  });
}
