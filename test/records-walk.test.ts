import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { databaseKinds } from './helpers/database.ts';
import { managementCli } from './helpers/process.ts';
import { startTestServer, type TestServer } from './helpers/server.ts';

// A user moving real data in and out: files from other tools, and the import API called directly.
for (const kind of databaseKinds) {
  describe(`records import and export, walked through (${kind})`, () => {
    let server: TestServer;
    let cli: ReturnType<typeof managementCli>;
    const dir = mkdtempSync(join(tmpdir(), 'gatehouse-records-walk-'));
    const schema = {
      type: 'object',
      properties: { sku: { type: 'string' }, qty: { type: 'integer' }, note: { type: 'string' } },
      required: ['sku'],
    };

    /** The endpoint's records' data, as `records export` writes them. */
    const exported = async (slug: string): Promise<unknown[]> => {
      const res = await cli('records', 'export', slug);
      assert.equal(res.code, 0, res.stderr);
      return res.stdout
        .split('\n')
        .filter((line) => line !== '')
        .map((line) => JSON.parse(line));
    };

    before(async () => {
      server = await startTestServer(kind);
      cli = managementCli(server);
      for (const slug of ['flags', 'latin', 'dupes'])
        await server.createEndpoint({ slug, name: slug, schema });
    });
    after(async () => {
      await server.close();
      rmSync(dir, { recursive: true, force: true });
    });

    test('import refuses strict, webhooks or dry_run other than true or false, importing nothing', async () => {
      // `strict=1` read as false imported the valid rows of a batch meant to be all or nothing.
      const records = [{ sku: 'A-1' }, { qty: 'x' }];
      for (const name of ['strict', 'webhooks', 'dry_run']) {
        for (const value of ['1', 'yes', 'TRUE', '']) {
          const res = await server.admin(
            'POST',
            `/admin/v1/endpoints/flags/import?${name}=${encodeURIComponent(value)}`,
            { records },
          );
          assert.equal(res.status, 400, `${name}=${value}: ${res.text}`);
          assert.equal(res.body.code, 'invalid_request');
          assert.deepEqual(res.body.details, [{ field: name, error: 'Must be true or false' }]);
        }
      }
      assert.deepEqual(await exported('flags'), []);
      const checked = await server.admin(
        'POST',
        '/admin/v1/endpoints/flags/import?dry_run=false&strict=false',
        {
          records,
        },
      );
      assert.equal(checked.status, 200, checked.text);
      assert.equal(checked.body.data.imported, 1);
      const strict = await server.admin('POST', '/admin/v1/endpoints/flags/import?strict=true', { records });
      assert.equal(strict.status, 400);
      assert.equal(strict.body.error, '1 of 2 records are invalid; nothing was imported');
      assert.deepEqual(await exported('flags'), [{ sku: 'A-1' }]);
    });

    test('a file that is not UTF-8 (Latin-1, UTF-16) is refused by its line before anything is sent', async () => {
      // Its bytes were read as U+FFFD and imported as such: "café" became "caf\uFFFD", silently.
      const files: Array<[string, Buffer, number]> = [
        ['latin.ndjson', Buffer.from('{"sku":"ok","qty":1}\n{"sku":"caf\xe9","qty":2}\n', 'latin1'), 2],
        ['latin.csv', Buffer.from('sku,qty\r\nok,1\r\n\r\ncaf\xe9,2\r\n', 'latin1'), 4],
        ['latin.json', Buffer.from('[\n{"sku":"ok"},\n{"sku":"caf\xe9"}\n]', 'latin1'), 3],
        ['utf16.csv', Buffer.concat([Buffer.from([0xff, 0xfe]), Buffer.from('sku\nok\n', 'utf16le')]), 1],
      ];
      for (const [name, bytes, line] of files) {
        const file = join(dir, name);
        writeFileSync(file, bytes);
        const res = await cli('records', 'import', 'latin', file, '--json');
        assert.equal(res.code, 1, `${name}: ${res.stdout}`);
        const envelope = JSON.parse(res.stdout);
        assert.equal(envelope.code, 'cli_usage');
        assert.equal(
          envelope.error,
          `${file} is not UTF-8 text (line ${line}): save it as UTF-8 and import it again; nothing was imported`,
        );
      }
      assert.deepEqual(await exported('latin'), []);
      // UTF-8 with a byte order mark, CRLF and characters beyond the BMP import as they are.
      const good = join(dir, 'good.csv');
      writeFileSync(good, '\uFEFFsku,note\r\ncafé,🧾 ü\r\n');
      const res = await cli('records', 'import', 'latin', good);
      assert.equal(res.code, 0, res.stdout);
      assert.deepEqual(await exported('latin'), [{ sku: 'café', note: '🧾 ü' }]);
    });

    test('a CSV header naming a field twice is refused before anything is sent (one column was dropped)', async () => {
      const file = join(dir, 'dupes.csv');
      writeFileSync(file, 'sku,qty,note,sku\nA-1,1,first,B-1\n');
      const res = await cli('records', 'import', 'dupes', file, '--json');
      assert.equal(res.code, 1, res.stdout);
      const envelope = JSON.parse(res.stdout);
      assert.equal(envelope.code, 'cli_usage');
      assert.equal(
        envelope.error,
        `The header row of ${file} names sku twice (columns 1 and 4): each column must be a different field; nothing was imported`,
      );
      assert.deepEqual(await exported('dupes'), []);
    });

    test('a JSON array: a number past a double is refused by its line, as from NDJSON, never imported as null', async () => {
      // JSON.parse made 1e400 Infinity and JSON.stringify wrote null: the row was imported as null.
      await server.createEndpoint({
        slug: 'edges',
        name: 'edges',
        schema: { type: 'object', properties: { v: { type: ['number', 'null'] } } },
      });
      const file = join(dir, 'edges.json');
      writeFileSync(
        file,
        '[{"v":1e400},\r\n  {"v": -1e400} , {"v":1.5,"s":"c\\"]\\\\"} ,\n\n"x", [1,{"a":[2]}],\n{"v":12345678901234567890}]',
      );
      const res = await cli('records', 'import', 'edges', file, '--json');
      assert.equal(res.code, 2, res.stdout);
      const beyond = [{ field: 'v', error: 'A number beyond what a 64-bit float holds (about ±1.8e308)' }];
      const notObject = [{ field: '(record)', error: 'Must be a JSON object' }];
      const summary = JSON.parse(res.stdout).data;
      assert.equal(summary.imported, 2);
      assert.deepEqual(summary.problems, [
        { line: 1, details: beyond },
        { line: 2, details: beyond },
        { line: 4, details: notObject },
        { line: 4, details: notObject },
      ]);
      const exportedText = (await cli('records', 'export', 'edges')).stdout;
      assert.equal(exportedText, '{"v":1.5,"s":"c\\"]\\\\"}\n{"v":12345678901234567890}\n');
    });

    test("CSV: an object or array cell's long integers keep their digits, and its 1e400 is refused, not null", async () => {
      // The export writes {"big":12345678901234567890} digit for digit; the import parsed the cell
      // and wrote it again: 12345678901234567000, and {"x":1e400} became {"x":null}.
      await server.createEndpoint({
        slug: 'nested',
        name: 'nested',
        schema: {
          type: 'object',
          properties: { id: { type: 'integer' }, meta: { type: 'object' }, list: { type: 'array' } },
        },
      });
      const source = join(dir, 'nested.ndjson');
      writeFileSync(source, '{"id":1,"meta":{"big":12345678901234567890},"list":[-98765432109876543210]}\n');
      assert.equal((await cli('records', 'import', 'nested', source)).code, 0);
      const csv = await cli('records', 'export', 'nested', '--format', 'csv');
      assert.equal(csv.stdout, 'id,meta,list\n1,"{""big"":12345678901234567890}",[-98765432109876543210]\n');
      const file = join(dir, 'nested.csv');
      writeFileSync(file, `${csv.stdout}2,"{""x"":1e400}",\n`);
      const res = await cli('records', 'import', 'nested', file, '--json');
      assert.equal(res.code, 2, res.stdout);
      assert.deepEqual(JSON.parse(res.stdout).data.problems, [
        {
          line: 3,
          details: [{ field: 'meta.x', error: 'A number beyond what a 64-bit float holds (about ±1.8e308)' }],
        },
      ]);
      const exportedText = (await cli('records', 'export', 'nested')).stdout;
      assert.equal(
        exportedText,
        '{"id":1,"meta":{"big":12345678901234567890},"list":[-98765432109876543210]}\n'.repeat(2),
      );
    });

    test('a CSV piped in without --format is read as NDJSON, and its first line says which --format to give', async () => {
      const res = await managementCli(server, 'sku,qty\nA-1,2\n')(
        'records',
        'import',
        'flags',
        '-',
        '--json',
      );
      assert.equal(res.code, 2, res.stdout);
      const { data } = JSON.parse(res.stdout);
      assert.deepEqual([data.imported, data.rejected, data.rows], [0, 2, 2]);
      assert.deepEqual(data.problems, [
        {
          line: 1,
          details: [
            {
              field: '(line)',
              error:
                'Invalid JSON (the file was read as NDJSON, one JSON object per line: for CSV or one JSON array give --format csv or json)',
            },
          ],
        },
        // Only the first line: the rest say what they are.
        { line: 2, details: [{ field: '(line)', error: 'Invalid JSON' }] },
      ]);
      // Said with --format (or by an .ndjson name), the same file is not second-guessed.
      const given = await managementCli(server, 'sku,qty\n')(
        'records',
        'import',
        'flags',
        '-',
        '--format',
        'ndjson',
        '--json',
      );
      assert.deepEqual(JSON.parse(given.stdout).data.problems, [
        { line: 1, details: [{ field: '(line)', error: 'Invalid JSON' }] },
      ]);
    });

    test('broken JSON from stdin is said to be stdin, not the temporary copy it is read from', async () => {
      const res = await managementCli(server, '[{"sku":"A-1"},')(
        'records',
        'import',
        'flags',
        '-',
        '--format',
        'json',
        '--json',
      );
      assert.equal(res.code, 1, res.stdout);
      assert.deepEqual(JSON.parse(res.stdout), {
        success: false,
        error: 'stdin is not valid JSON: Unexpected end of JSON input',
        code: 'cli_usage',
        details: [],
      });
    });
  });
}
