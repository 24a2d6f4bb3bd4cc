import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { mkdtempSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { promisify } from 'node:util';
import { databaseKinds } from './helpers/database.ts';
import { endpointClosings } from './helpers/endpoint-closings.ts';
import { managementCli } from './helpers/process.ts';
import { type Receiver, startReceiver } from './helpers/receiver.ts';
import { startTestServer, type TestServer } from './helpers/server.ts';

const run = promisify(execFile);

for (const kind of databaseKinds) {
  describe(`records import and export (${kind})`, () => {
    let server: TestServer;
    let receiver: Receiver;
    const dir = mkdtempSync(join(tmpdir(), 'gatehouse-transfer-'));

    async function cli(...args: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
      try {
        const { stdout, stderr } = await run(process.execPath, ['bin/gatehouse.js', ...args], {
          env: {
            ...process.env,
            GATEHOUSE_URL: server.url,
            GATEHOUSE_TOKEN: server.token,
            GATEHOUSE_CLI_CREDENTIALS: '/nonexistent',
          },
          maxBuffer: 64 * 1024 * 1024,
        });
        return { code: 0, stdout, stderr };
      } catch (error) {
        const e = error as { code: number; stdout: string; stderr: string };
        return { code: e.code, stdout: e.stdout, stderr: e.stderr };
      }
    }

    const count = async (slug: string) => {
      const res = await server.admin('GET', `/admin/v1/endpoints/${slug}`);
      const rows = await server.services.database.db
        .selectFrom('records')
        .select((eb) => eb.fn.countAll<number>().as('n'))
        .where('endpoint_id', '=', res.body.data.id)
        .executeTakeFirstOrThrow();
      return Number(rows.n);
    };

    /** The endpoint's records' data, as `records export` writes them (NDJSON). */
    const exportedData = async (slug: string) =>
      (await cli('records', 'export', slug)).stdout
        .trim()
        .split('\n')
        .map((l) => JSON.parse(l));

    before(async () => {
      server = await startTestServer(kind, { GATEHOUSE_WEBHOOK_ALLOW_NETS: '127.0.0.0/8' }, { worker: true });
      receiver = await startReceiver();
      const schema = {
        type: 'object',
        properties: {
          sku: { type: 'string' },
          qty: { type: 'integer' },
          ok: { type: 'boolean' },
          tags: { type: 'array', items: { type: 'string' } },
        },
        required: ['sku'],
      };
      for (const slug of ['items', 'strict', 'csv', 'hooked', 'exact', 'large', 'deep', 'many', 'huge'])
        await server.createEndpoint({ slug, name: slug, schema });
      await server.admin('POST', '/admin/v1/endpoints/items/webhooks', {
        url: receiver.url,
        environment: 'test',
      });
      await server.admin('POST', '/admin/v1/endpoints/hooked/webhooks', {
        url: receiver.url,
        environment: 'test',
      });
    });
    after(async () => {
      await server.close();
      await receiver.close();
      rmSync(dir, { recursive: true, force: true });
    });

    test('NDJSON: valid rows imported, invalid ones reported by line, no webhooks; export gives back exactly the data', async () => {
      const rows = Array.from({ length: 2500 }, (_, i) => ({
        sku: `S-${i}`,
        qty: i,
        ok: i % 2 === 0,
        tags: [`t${i % 3}`],
      }));
      const lines = rows.map((r) => JSON.stringify(r));
      lines.splice(10, 0, '{"sku": 5}', 'not json');
      writeFileSync(join(dir, 'items.ndjson'), `${lines.join('\n')}\n`);
      const imported = await cli('records', 'import', 'items', join(dir, 'items.ndjson'), '--json');
      assert.equal(imported.code, 2, imported.stderr);
      const summary = JSON.parse(imported.stdout).data;
      assert.equal(summary.imported, 2500);
      assert.deepEqual(
        summary.problems.map((p: { line: number }) => p.line),
        [11, 12],
      );
      assert.equal(summary.problems[0].details[0].field, 'sku');
      assert.equal(await count('items'), 2500);

      const exported = await cli('records', 'export', 'items');
      assert.equal(exported.code, 0);
      assert.deepEqual(
        exported.stdout.trim().split('\n'),
        rows.map((r) => JSON.stringify(r)),
      );
      await new Promise((r) => setTimeout(r, 1_000));
      assert.equal(receiver.received.length, 0, 'an import fires no webhooks by default');
    });

    test('rows too large for one request of --batch rows go in smaller requests, all imported', async () => {
      // 1 000 rows of 6 KB: one batch of 1 000 would be a 6 MB body, past the 5 MiB limit.
      const rows = Array.from({ length: 1000 }, (_, i) => ({ sku: `L-${i}`, tags: ['x'.repeat(6000)] }));
      writeFileSync(join(dir, 'large.ndjson'), `${rows.map((r) => JSON.stringify(r)).join('\n')}\n`);
      const imported = await cli('records', 'import', 'large', join(dir, 'large.ndjson'), '--json');
      assert.equal(imported.code, 0, imported.stderr);
      assert.equal(JSON.parse(imported.stdout).data.imported, 1000);
      assert.equal(await count('large'), 1000);
    });

    test('numbers beyond what a double holds are imported digit for digit, from NDJSON and JSON files', async () => {
      const ndjson = '{"sku":"big-1","qty":12345678901234567890}\n{"sku":"plain","qty":3}\n';
      writeFileSync(join(dir, 'big.ndjson'), ndjson);
      writeFileSync(
        join(dir, 'big.json'),
        '[\n  {"sku": "big-2", "qty": -9007199254740993, "tags": ["x"]},\n  {"sku": "p2"}\n]',
      );
      for (const file of ['big.ndjson', 'big.json']) {
        const res = await cli('records', 'import', 'exact', join(dir, file), '--json');
        assert.equal(res.code, 0, res.stdout + res.stderr);
        assert.equal(JSON.parse(res.stdout).data.imported, 2);
      }
      // One row with a repeated key does not cost its neighbours their digits; a byte order
      // mark starts a file; a CSV number column keeps a long integer's digits.
      writeFileSync(
        join(dir, 'mixed.ndjson'),
        '\uFEFF{"sku":"m-1","qty":12345678901234567893}\n{"sku":"m-2","qty":1,"qty":2}\n\uFEFF{"sku":"m-3"}\n',
      );
      writeFileSync(join(dir, 'bom.json'), '\uFEFF[{"sku":"j-1","qty":12345678901234567894}]');
      writeFileSync(join(dir, 'long.csv'), 'sku,qty\nc-1,12345678901234567895\nc-2,0012345678901234567\n');
      for (const file of ['mixed.ndjson', 'bom.json', 'long.csv']) {
        const res = await cli('records', 'import', 'exact', join(dir, file), '--json');
        assert.equal(res.code, 0, `${file}: ${res.stdout}${res.stderr}`);
      }
      const exported = await cli('records', 'export', 'exact');
      assert.equal(exported.code, 0, exported.stderr);
      const lines = exported.stdout.trim().split('\n');
      for (const line of [
        '{"sku":"big-1","qty":12345678901234567890}',
        '{"sku":"big-2","qty":-9007199254740993,"tags":["x"]}',
        '{"sku":"plain","qty":3}',
        '{"sku":"m-1","qty":12345678901234567893}',
        '{"sku":"m-2","qty":2}',
        '{"sku":"j-1","qty":12345678901234567894}',
        '{"sku":"c-1","qty":12345678901234567895}',
        '{"sku":"c-2","qty":12345678901234567}',
        '{"sku":"m-3"}',
      ])
        assert.ok(lines.includes(line), `${line} not in ${exported.stdout}`);
      // Through the API as well: each record keeps its own text.
      const direct = await server.request('POST', '/admin/v1/endpoints/exact/import', {
        token: server.token,
        raw: '{"records":[{"sku":"api-1","qty":98765432109876543210},{"sku":"api-2","qty":1}]}',
        headers: { 'content-type': 'application/json' },
      });
      assert.equal(direct.status, 200, direct.text);
      const again = await cli('records', 'export', 'exact');
      assert.ok(again.stdout.includes('{"sku":"api-1","qty":98765432109876543210}'), again.stdout);
    });

    test('a row the server could not store (U+0000, too deep) is rejected by its line; the others are imported', async () => {
      writeFileSync(
        join(dir, 'nul.ndjson'),
        '{"sku":"n-1"}\n{"sku":"n-2","tags":["a\\u0000b"]}\n{"sku":"n-3"}\n',
      );
      const res = await cli('records', 'import', 'exact', join(dir, 'nul.ndjson'), '--batch', '1', '--json');
      assert.equal(res.code, 2, res.stdout + res.stderr);
      const summary = JSON.parse(res.stdout).data;
      assert.equal(summary.imported, 2);
      assert.equal(summary.rejected, 1);
      assert.equal(summary.problems[0].line, 2);
      assert.match(JSON.stringify(summary.problems[0]), /tags\[0\]/);
    });

    test('a row nested as deep as the data API takes is imported (its {"records":[…]} wrapper does not count)', async () => {
      const deep = `{"sku":"d","x":${'['.repeat(127)}${']'.repeat(127)}}`; // 128 levels
      const { key } = await server.createKey({ name: 'deep', environment: 'test' });
      const direct = await server.request('POST', '/api/v1/data/deep', {
        key,
        raw: deep,
        headers: { 'content-type': 'application/json' },
      });
      assert.equal(direct.status, 202, 'the data API takes this record');
      const deeper = `{"sku":"e","x":${'['.repeat(128)}${']'.repeat(128)}}`;
      writeFileSync(join(dir, 'deep.ndjson'), `{"sku":"a"}\n${deep}\n${deeper}\n{"sku":"b"}\n`);
      const res = await cli('records', 'import', 'deep', join(dir, 'deep.ndjson'), '--json');
      assert.equal(res.code, 2, res.stdout + res.stderr);
      const summary = JSON.parse(res.stdout).data;
      assert.deepEqual([summary.imported, summary.rejected, summary.problems[0].line], [3, 1, 3]);
      assert.match(JSON.stringify(summary.problems[0]), /nest at most 128 levels/);
      assert.equal(await count('deep'), 4);
    });

    /** `records import many <file> --batch <rows> --json`: its exit code and summary. */
    const importMany = async (file: string, batch: string) => {
      const res = await cli('records', 'import', 'many', join(dir, file), '--batch', batch, '--json');
      return { code: res.code, summary: JSON.parse(res.stdout).data };
    };

    test('over 1 000 rejected rows in one batch: every one counted, the list says how many more', async () => {
      const lines = [...Array.from({ length: 1500 }, (_, i) => `{"bad":${i}}`), '{"sku":"ok"}'];
      writeFileSync(join(dir, 'many.ndjson'), `${lines.join('\n')}\n`);
      const { code, summary } = await importMany('many.ndjson', '5000');
      assert.equal(code, 2);
      assert.deepEqual([summary.imported, summary.rows, summary.rejected], [1, 1501, 1500]);
      const text = await cli('records', 'import', 'many', join(dir, 'many.ndjson'), '--batch', '5000');
      assert.match(text.stdout, /… and 1450 more/);
    });

    test('rejected rows over many batches, found here and by the server: the first 1 000 by line are listed', async () => {
      // Odd lines are not JSON (found by the CLI), even ones invalid records (found by the server).
      const lines = Array.from({ length: 3000 }, (_, i) => (i % 2 === 0 ? 'x' : `{"bad":${i}}`));
      writeFileSync(join(dir, 'batches.ndjson'), `${lines.join('\n')}\n{"sku":"ok"}\n`);
      const { code, summary } = await importMany('batches.ndjson', '100');
      assert.equal(code, 2);
      assert.deepEqual([summary.imported, summary.rows, summary.rejected], [1, 3001, 3000]);
      assert.deepEqual(
        summary.problems.map((p: { line: number }) => p.line),
        Array.from({ length: 1000 }, (_, i) => i + 1),
      );
      assert.equal(summary.problems[0].details[0].error, 'Invalid JSON');
      assert.equal(summary.problems[1].details[0].field, 'sku');
    });

    test("a row over 5 MiB, or over the endpoint's max_body_bytes, is that row's problem; the others are imported", async () => {
      const huge = JSON.stringify({ sku: 'h', pad: 'x'.repeat(6 * 1024 * 1024) });
      // Over the endpoint's max_body_bytes (100 KiB by default), as the data API's 413.
      const large = JSON.stringify({ sku: 'l', pad: 'x'.repeat(200 * 1024) });
      writeFileSync(join(dir, 'huge.ndjson'), `{"sku":"a"}\n${huge}\n${large}\n{"sku":"b"}\n`);
      const res = await cli('records', 'import', 'huge', join(dir, 'huge.ndjson'), '--json');
      assert.equal(res.code, 2, res.stdout + res.stderr);
      const summary = JSON.parse(res.stdout).data;
      assert.deepEqual([summary.imported, summary.rejected], [2, 2]);
      assert.deepEqual(
        summary.problems.map((p: { line: number; details: Array<{ error: string }> }) => [
          p.line,
          p.details[0]?.error,
        ]),
        [
          [2, 'Larger than 5242866 bytes, the most one import request can carry'],
          [3, "Larger than the endpoint's max_body_bytes (102400)"],
        ],
      );
      assert.equal(await count('huge'), 2);
    });

    test('--strict refuses the whole import when one row is bad', async () => {
      writeFileSync(join(dir, 'strict.json'), JSON.stringify([{ sku: 'a' }, { qty: 1 }, { sku: 'c' }]));
      const res = await cli('records', 'import', 'strict', join(dir, 'strict.json'), '--strict', '--json');
      assert.equal(res.code, 1, 'a refused --strict import is a failure (1), not a partial import (2)');
      assert.equal(JSON.parse(res.stdout).code, 'validation_failed');
      assert.equal(await count('strict'), 0);

      // Many batches, the bad rows in the third and fourth: still nothing imported, lines of the file.
      const lines = Array.from({ length: 1500 }, (_, i) => JSON.stringify({ sku: `S-${i}` }));
      lines[1199] = '{"qty":1}';
      lines[1300] = 'not json';
      writeFileSync(join(dir, 'strict.ndjson'), `${lines.join('\n')}\n`);
      const strictImport = (...more: string[]) =>
        cli('records', 'import', 'strict', join(dir, 'strict.ndjson'), '--strict', '--batch', '400', ...more);
      const many = await strictImport('--json');
      assert.equal(many.code, 1);
      const failure = JSON.parse(many.stdout);
      assert.equal(failure.error, '2 rows are invalid; nothing was imported');
      assert.deepEqual(failure.details, [
        { field: 'line 1200: sku', error: 'Required field is missing' },
        { field: 'line 1301: (line)', error: 'Invalid JSON' },
      ]);
      assert.equal(await count('strict'), 0);
      const plain = await strictImport();
      assert.equal(plain.code, 1);
      assert.match(plain.stderr, /line 1200: sku: Required field is missing/);

      // Fixed, the same file goes in whole.
      lines[1199] = '{"sku":"S-1199"}';
      lines[1300] = '{"sku":"S-1300"}';
      writeFileSync(join(dir, 'strict.ndjson'), `${lines.join('\n')}\n`);
      const fixed = await strictImport('--json');
      assert.equal(fixed.code, 0, fixed.stdout + fixed.stderr);
      assert.equal(JSON.parse(fixed.stdout).data.imported, 1500);
      assert.equal(await count('strict'), 1500);
    });

    test('a file holding no records (empty, a CSV header alone, [], blank lines) is refused, exit 1; nothing is written', async () => {
      await server.createEndpoint({ slug: 'nothing', name: 'nothing', schema: { type: 'object' } });
      const files = {
        'empty.ndjson': '',
        'blank.ndjson': '\n  \n\r\n',
        'empty.csv': '',
        'header.csv': 'sku,qty\n',
        'empty.json': '',
        'array.json': ' [ ]\n',
        noextension: '',
      };
      for (const [name, text] of Object.entries(files)) {
        const file = join(dir, name);
        writeFileSync(file, text);
        // Before: exit 0, "Imported 0 of 0 rows into nothing (test)." (empty.json: "not valid JSON").
        const res = await cli('records', 'import', 'nothing', file);
        assert.equal(res.code, 1, name);
        assert.equal(res.stdout, '', name);
        assert.equal(res.stderr, `Error: ${file} holds no records: nothing was imported (cli_usage)\n`, name);
        const json = await cli('records', 'import', 'nothing', file, '--strict', '--json');
        assert.equal(json.code, 1, name);
        assert.deepEqual(JSON.parse(json.stdout), {
          success: false,
          error: `${file} holds no records: nothing was imported`,
          code: 'cli_usage',
          details: [],
        });
      }
      const piped = await managementCli(server, '')('records', 'import', 'nothing', '-');
      assert.equal(piped.code, 1, piped.stdout);
      assert.equal(piped.stderr, 'Error: stdin holds no records: nothing was imported (cli_usage)\n');
      assert.equal(await count('nothing'), 0);
    });

    const closings = endpointClosings(() => server);
    for (const { state, slug, code, close, reopen } of closings) {
      test(`an import into a ${state} endpoint is refused as the data API refuses a write there; nothing is written`, async () => {
        await server.createEndpoint({ slug, name: slug, schema: { type: 'object' } });
        await server.admin('POST', `/admin/v1/endpoints/${slug}/import`, { records: [{ n: 1 }] });
        const { key } = await server.createKey({ name: slug, environment: 'test' });
        assert.equal((await close(slug)).status, 200);
        const write = await server.request('POST', `/api/v1/data/${slug}`, { key, json: { n: 2 } });
        assert.equal(write.status, 403);
        assert.equal(write.body.code, code);
        for (const query of ['', '?dry_run=true', '?strict=true', '?environment=test']) {
          const res = await server.admin('POST', `/admin/v1/endpoints/${slug}/import${query}`, {
            records: [{ n: 2 }, { n: 3 }],
          });
          assert.equal(res.status, 403, `${query}: ${res.text}`);
          assert.equal(res.body.code, write.body.code);
          assert.equal(res.body.error, write.body.error);
        }
        writeFileSync(join(dir, `${slug}.ndjson`), '{"n":2}\n');
        const cliImport = await cli('records', 'import', slug, join(dir, `${slug}.ndjson`));
        assert.equal(cliImport.code, 1, cliImport.stdout);
        assert.match(cliImport.stderr, new RegExp(`${write.body.error} \\(${code}\\)`));
        assert.equal(await count(slug), 1, `only the record from before it was ${state}`);
        // The owner can still take the data out, and import again once it is open.
        assert.deepEqual(await exportedData(slug), [{ n: 1 }]);
        assert.equal((await reopen(slug)).status, 200);
        const resumed = await server.admin('POST', `/admin/v1/endpoints/${slug}/import`, {
          records: [{ n: 2 }],
        });
        assert.equal(resumed.status, 200, resumed.text);
        assert.equal(await count(slug), 2);
      });
    }

    test('CSV in and out, typed by the schema', async () => {
      writeFileSync(join(dir, 'in.csv'), 'sku,qty,ok,tags\na,1,true,"[""x"",""y""]"\n"b,c",,false,\n');
      const res = await cli('records', 'import', 'csv', join(dir, 'in.csv'), '--json');
      assert.equal(res.code, 0, res.stdout + res.stderr);
      assert.deepEqual(await exportedData('csv'), [
        { sku: 'a', qty: 1, ok: true, tags: ['x', 'y'] },
        { sku: 'b,c', ok: false },
      ]);
      const csv = await cli('records', 'export', 'csv', '--format', 'csv');
      assert.equal(csv.stdout, 'sku,qty,ok,tags\na,1,true,"[""x"",""y""]"\n"b,c",,false,\n');
    });

    test('CSV: a null exported as `null` is imported back as null where the schema allows null', async () => {
      const schema = {
        type: 'object',
        properties: {
          sku: { type: 'string' },
          price: { type: ['number', 'null'] },
          note: { type: ['string', 'null'] },
          ok: { type: ['boolean', 'null'] },
        },
      };
      for (const slug of ['nulls-out', 'nulls-in']) await server.createEndpoint({ slug, name: slug, schema });
      const row = { sku: 'a', price: null, note: null, ok: null };
      const key = await server.createKey({ name: 'nulls', environment: 'test' });
      const sent = await server.request('POST', '/api/v1/data/nulls-out', { key: key.key, json: row });
      assert.equal(sent.status, 202, sent.text);
      const csv = await cli('records', 'export', 'nulls-out', '--format', 'csv');
      assert.equal(csv.stdout, 'sku,price,note,ok\na,null,null,null\n');
      writeFileSync(join(dir, 'nulls.csv'), csv.stdout);
      const res = await cli('records', 'import', 'nulls-in', join(dir, 'nulls.csv'), '--json');
      assert.equal(res.code, 0, res.stdout + res.stderr);
      const back = await cli('records', 'export', 'nulls-in');
      assert.deepEqual(JSON.parse(back.stdout), row);
    });

    test('CSV: null, "", "null" and "NULL" round-trip apart: `null` is null, a quoted `"null"` is the text', async () => {
      const schema = {
        type: 'object',
        properties: {
          id: { type: 'string' },
          maybe: { type: ['string', 'null'] },
          text: { type: 'string' },
          n: { type: ['integer', 'null'] },
        },
        required: ['id'],
      };
      for (const slug of ['null-text-out', 'null-text-in']) {
        await server.createEndpoint({ slug, name: slug, schema });
      }
      const rows = [
        { id: '1', maybe: null, n: null },
        { id: '2', maybe: '', text: '' },
        { id: '3', maybe: 'null', text: 'null' },
        { id: '4', maybe: 'NULL', text: 'NULL' },
        { id: '5', maybe: ' null ', text: ' null ' },
        { id: '6' },
      ];
      const key = await server.createKey({ name: 'null-text', environment: 'test' });
      for (const json of rows) {
        const sent = await server.request('POST', '/api/v1/data/null-text-out', { key: key.key, json });
        assert.equal(sent.status, 202, sent.text);
      }
      const csv = await cli('records', 'export', 'null-text-out', '--format', 'csv');
      assert.equal(
        csv.stdout,
        [
          'id,maybe,text,n',
          '1,null,,null',
          '2,"","",',
          '3,"null","null",',
          '4,NULL,NULL,',
          '5," null "," null ",',
          '6,,,',
          '',
        ].join('\n'),
      );
      // Written by hand: a spreadsheet that quotes every cell (a quoted `"null"` in a column that
      // takes no strings is still null), and an unquoted `null` where the field takes no null.
      writeFileSync(join(dir, 'null-text.csv'), `${csv.stdout}"7","null","null","null"\n8,null,null,\n`);
      const res = await cli('records', 'import', 'null-text-in', join(dir, 'null-text.csv'), '--json');
      assert.equal(res.code, 0, res.stdout + res.stderr);
      assert.deepEqual(await exportedData('null-text-in'), [
        ...rows,
        { id: '7', maybe: 'null', text: 'null', n: null },
        { id: '8', maybe: null, text: 'null' },
      ]);
    });

    test('CSV: in a column of strings and other types, "42", "true" and "null" are quoted and come back strings', async () => {
      const schema = {
        type: 'object',
        properties: {
          id: { type: 'string' },
          si: { type: ['string', 'integer'] },
          sb: { type: ['string', 'boolean'] },
          mix: { enum: ['a', '1', 1] },
          any: { type: ['string', 'integer', 'boolean', 'null'] },
        },
        required: ['id'],
      };
      for (const slug of ['mixed-out', 'mixed-in']) await server.createEndpoint({ slug, name: slug, schema });
      const rows = [
        { id: '1', si: '42', sb: 'true', mix: '1', any: '42' },
        { id: '2', si: 42, sb: true, mix: 1, any: 42 },
        { id: '3', si: ' 7', sb: 'false', mix: 'a', any: 'true' },
        { id: '4', si: 'x', sb: false, any: true },
        { id: '5', si: '', sb: '', any: 'null' },
        { id: '6', any: null },
        { id: '7', any: '' },
      ];
      const key = await server.createKey({ name: 'mixed', environment: 'test' });
      for (const json of rows) {
        const sent = await server.request('POST', '/api/v1/data/mixed-out', { key: key.key, json });
        assert.equal(sent.status, 202, sent.text);
      }
      const csv = await cli('records', 'export', 'mixed-out', '--format', 'csv');
      assert.equal(
        csv.stdout,
        [
          'id,si,sb,mix,any',
          '1,"42","true","1","42"',
          '2,42,true,1,42',
          '3," 7","false",a,"true"',
          '4,x,false,,true',
          '5,"","",,"null"',
          '6,,,,null',
          '7,,,,""',
          '',
        ].join('\n'),
      );
      // Written by hand: unquoted cells are still typed by the schema.
      writeFileSync(join(dir, 'mixed.csv'), `${csv.stdout}8,42,true,1,null\n`);
      const res = await cli('records', 'import', 'mixed-in', join(dir, 'mixed.csv'), '--json');
      assert.equal(res.code, 0, res.stdout + res.stderr);
      assert.equal(
        JSON.stringify(await exportedData('mixed-in')),
        JSON.stringify([...rows, { id: '8', si: 42, sb: true, mix: 1, any: null }]),
      );
    });

    test('CSV: a field typed by its enum, const or $ref is read as that type, so an export imports back', async () => {
      const schema = {
        type: 'object',
        properties: {
          level: { enum: [1, 2, 3] },
          code: { enum: ['007', 'x'] },
          flag: { const: true },
          price: { $ref: '#/$defs/cents' },
        },
        $defs: { cents: { type: 'integer' } },
      };
      for (const slug of ['typed-out', 'typed-in']) await server.createEndpoint({ slug, name: slug, schema });
      const row = { level: 2, code: '007', flag: true, price: 450 };
      const key = await server.createKey({ name: 'typed', environment: 'test' });
      const sent = await server.request('POST', '/api/v1/data/typed-out', { key: key.key, json: row });
      assert.equal(sent.status, 202, sent.text);
      const csv = await cli('records', 'export', 'typed-out', '--format', 'csv');
      assert.equal(csv.stdout, 'level,code,flag,price\n2,007,true,450\n');
      writeFileSync(join(dir, 'typed.csv'), csv.stdout);
      const res = await cli('records', 'import', 'typed-in', join(dir, 'typed.csv'), '--json');
      assert.equal(res.code, 0, res.stdout + res.stderr);
      const back = await cli('records', 'export', 'typed-in');
      assert.deepEqual(JSON.parse(back.stdout), row);
    });

    test('CSV into live: cells are typed by the deployed schema, not by a draft that has changed since', async () => {
      await server.createEndpoint({
        slug: 'deployed-csv',
        name: 'deployed-csv',
        schema: { type: 'object', properties: { code: { type: 'string' }, qty: { type: 'integer' } } },
      });
      assert.equal((await server.admin('POST', '/admin/v1/endpoints/deployed-csv/deploy')).status, 201);
      const draft = await server.admin('PATCH', '/admin/v1/endpoints/deployed-csv', {
        schema: { type: 'object', properties: { code: { type: 'integer' }, qty: { type: 'string' } } },
      });
      assert.equal(draft.status, 200, draft.text);
      writeFileSync(join(dir, 'live.csv'), 'code,qty\n007,5\n');
      const res = await cli(
        'records',
        'import',
        'deployed-csv',
        join(dir, 'live.csv'),
        '--env',
        'live',
        '--json',
      );
      assert.equal(res.code, 0, res.stdout + res.stderr);
      const back = await cli('records', 'export', 'deployed-csv', '--env', 'live');
      assert.deepEqual(JSON.parse(back.stdout), { code: '007', qty: 5 });
    });

    test('CSV export guards formula cells with a leading quote, keeps edge spaces quoted, and imports back exactly', async () => {
      const schema = {
        type: 'object',
        properties: {
          note: { type: 'string' },
          n: { type: ['string', 'integer'] },
          qty: { type: 'integer' },
        },
      };
      for (const slug of ['formula-out', 'formula-in'])
        await server.createEndpoint({ slug, name: slug, schema });
      const key = await server.createKey({ name: 'formula', environment: 'test' });
      const notes = [
        '=HYPERLINK("http://evil.example","x")',
        '+1',
        '-2+3',
        '@SUM(A1)',
        '\tlead tab',
        '\rlead cr',
        "'=already quoted",
        "''+twice",
        "'plain quote",
        '  spaced  ',
        'a=b',
      ];
      const rows = [
        ...notes.map((note) => ({ note })),
        { note: 'num', n: '-5', qty: -5 },
        { note: 'n', n: -7 },
      ];
      for (const json of rows) {
        const sent = await server.request('POST', '/api/v1/data/formula-out', { key: key.key, json });
        assert.equal(sent.status, 202, sent.text);
      }
      const csv = await cli('records', 'export', 'formula-out', '--format', 'csv');
      assert.equal(csv.code, 0, csv.stderr);
      const lines = csv.stdout.split('\n');
      assert.equal(lines[0], 'note,n,qty');
      assert.equal(lines[1], `"'=HYPERLINK(""http://evil.example"",""x"")",,`);
      assert.equal(lines[2], `"'+1",,`);
      assert.equal(lines[3], `"'-2+3",,`);
      assert.equal(lines[4], `"'@SUM(A1)",,`);
      assert.equal(lines[5], `"'\tlead tab",,`);
      assert.equal(lines[6], `"'\rlead cr",,`);
      assert.equal(lines[7], `"''=already quoted",,`);
      assert.equal(lines[8], `"'''+twice",,`);
      assert.equal(lines[9], `'plain quote,,`);
      assert.equal(lines[10], '"  spaced  ",,');
      assert.equal(lines[11], 'a=b,,');
      // A string in a column that also takes integers is guarded too; numbers are numbers.
      assert.equal(lines[12], `num,"'-5",-5`);
      assert.equal(lines[13], 'n,-7,');
      for (const line of lines.slice(1, -1))
        for (const cell of line.split(','))
          assert.doesNotMatch(
            cell.replace(/^"/, ''),
            /^[=+@\t\r]|^-\D/,
            `a cell a spreadsheet runs: ${line}`,
          );

      writeFileSync(join(dir, 'formula.csv'), csv.stdout);
      const res = await cli('records', 'import', 'formula-in', join(dir, 'formula.csv'), '--json');
      assert.equal(res.code, 0, res.stdout + res.stderr);
      assert.deepEqual(await exportedData('formula-in'), rows);
    });

    test('CSV: an empty string is exported as `""` and imported back as one; an empty cell stays no field', async () => {
      const schema = {
        type: 'object',
        properties: { sku: { type: 'string' }, note: { type: 'string' }, qty: { type: 'integer' } },
        required: ['sku'],
      };
      for (const slug of ['empty-out', 'empty-in']) await server.createEndpoint({ slug, name: slug, schema });
      const key = await server.createKey({ name: 'empty', environment: 'test' });
      const sent = await server.request('POST', '/api/v1/data/empty-out', {
        key: key.key,
        json: { sku: '', note: 'n' },
      });
      assert.equal(sent.status, 202, sent.text);
      const csv = await cli('records', 'export', 'empty-out', '--format', 'csv');
      assert.equal(csv.stdout, 'sku,note,qty\n"",n,\n');
      // A spreadsheet that quotes every cell: `""` in a number column is still no value.
      writeFileSync(join(dir, 'empty.csv'), `${csv.stdout}"b","",""\n`);
      const res = await cli('records', 'import', 'empty-in', join(dir, 'empty.csv'), '--json');
      assert.equal(res.code, 0, res.stdout + res.stderr);
      assert.deepEqual(await exportedData('empty-in'), [
        { sku: '', note: 'n' },
        { sku: 'b', note: '' },
      ]);
    });

    test('CSV: a field typed by anyOf or oneOf (a nullable number) is read as its types, so an export imports back', async () => {
      const schema = {
        type: 'object',
        properties: {
          qty: { anyOf: [{ type: 'integer' }, { type: 'null' }] },
          note: { oneOf: [{ type: 'string' }, { type: 'null' }] },
          level: { anyOf: [{ enum: [1, 2] }, { $ref: '#/$defs/none' }] },
        },
        $defs: { none: { type: 'null' } },
      };
      for (const slug of ['union-out', 'union-in']) await server.createEndpoint({ slug, name: slug, schema });
      const rows = [
        { qty: 3, note: 'null', level: 2 },
        { qty: null, note: null, level: null },
      ];
      const key = await server.createKey({ name: 'union', environment: 'test' });
      for (const row of rows) {
        const sent = await server.request('POST', '/api/v1/data/union-out', { key: key.key, json: row });
        assert.equal(sent.status, 202, sent.text);
      }
      const csv = await cli('records', 'export', 'union-out', '--format', 'csv');
      writeFileSync(join(dir, 'union.csv'), csv.stdout);
      const res = await cli('records', 'import', 'union-in', join(dir, 'union.csv'), '--json');
      assert.equal(res.code, 0, res.stdout + res.stderr);
      const back = await cli('records', 'export', 'union-in');
      const byJson = (a: unknown, b: unknown) => JSON.stringify(a).localeCompare(JSON.stringify(b));
      const got = back.stdout
        .trim()
        .split('\n')
        .map((line) => JSON.parse(line) as unknown);
      assert.deepEqual(got.sort(byJson), [...rows].sort(byJson));
    });

    test("CSV: a row of the wrong width, blanks and non-numbers are that row's problems, by the line it starts on", async () => {
      await server.createEndpoint({
        slug: 'ragged',
        name: 'ragged',
        schema: {
          type: 'object',
          properties: { sku: { type: 'string' }, qty: { type: 'integer' }, note: { type: 'string' } },
          required: ['sku'],
        },
      });
      const lines = ['sku,qty,note'];
      for (let i = 0; i < 6; i++) lines.push(`R-${i},${i},plain`);
      lines.push('BAD,1,x,extra'); // line 8: four fields
      lines.push(''); // line 9: blank, skipped
      lines.push('M-1,2,"two'); // line 10: a quoted cell over two lines
      lines.push('lines"');
      lines.push('HEX,0x10,x'); // line 12: not a number
      lines.push('BLANK, ,x'); // line 13: a blank number cell is an absent field
      for (let i = 6; i < 9; i++) lines.push(`R-${i},${i},plain`);
      writeFileSync(join(dir, 'ragged.csv'), `${lines.join('\n')}\n`);
      const res = await cli('records', 'import', 'ragged', join(dir, 'ragged.csv'), '--batch', '2', '--json');
      assert.equal(res.code, 2, res.stdout + res.stderr);
      const out = JSON.parse(res.stdout);
      assert.equal(out.data.imported, 11);
      assert.equal(out.data.rejected, 2);
      assert.deepEqual(out.data.problems, [
        { line: 8, details: [{ field: '(row)', error: 'Has 4 fields; the header row has 3' }] },
        { line: 12, details: [{ field: 'qty', error: 'Must be of type integer' }] },
      ]);
      assert.equal(await count('ragged'), 11);
      const exported = (await cli('records', 'export', 'ragged')).stdout
        .trim()
        .split('\n')
        .map((l) => JSON.parse(l) as { sku: string; qty?: number; note: string });
      assert.deepEqual(
        exported.find((r) => r.sku === 'BLANK'),
        { sku: 'BLANK', note: 'x' },
      );
      assert.equal(exported.find((r) => r.sku === 'M-1')?.note, 'two\nlines');

      // CRLF, blank lines before rows and a CRLF inside a quoted cell: still the row's first line.
      writeFileSync(join(dir, 'crlf.csv'), 'sku,qty\r\n\r\nX,1\r\n"Y\r\nZ",bad\r\n\r\nW,oops\r\n');
      const crlf = await cli('records', 'import', 'ragged', join(dir, 'crlf.csv'), '--json');
      assert.equal(crlf.code, 2, crlf.stdout + crlf.stderr);
      assert.deepEqual(
        JSON.parse(crlf.stdout).data.problems.map((p: { line: number }) => p.line),
        [4, 7],
      );

      // A JSON array: each element is reported by the file line it starts on.
      writeFileSync(join(dir, 'array.json'), '[\n  {"sku": "A"},\n\n  {"qty": 1},\n  {"sku": "C"}\n]\n');
      const array = await cli('records', 'import', 'ragged', join(dir, 'array.json'), '--json');
      assert.equal(array.code, 2, array.stdout + array.stderr);
      assert.deepEqual(
        JSON.parse(array.stdout).data.problems.map((p: { line: number }) => p.line),
        [4],
      );
    });

    test("CSV export: the environment's own columns, every other field too, and numbers digit for digit", async () => {
      await server.createEndpoint({
        slug: 'wide',
        name: 'wide',
        schema: { type: 'object', properties: { legacy: { type: 'string' }, big: { type: 'integer' } } },
      });
      await server.admin('POST', '/admin/v1/endpoints/wide/deploy');
      writeFileSync(
        join(dir, 'wide.ndjson'),
        '{"legacy":"L1","big":12345678901234567890,"color":"red"}\n{"legacy":"L2","size":{"w":1}}\n',
      );
      for (const env of ['test', 'live']) {
        const res = await cli('records', 'import', 'wide', join(dir, 'wide.ndjson'), '--env', env);
        assert.equal(res.code, 0, res.stdout + res.stderr);
      }
      // The draft moves on; live records still follow the deployed version.
      await server.admin('PATCH', '/admin/v1/endpoints/wide', {
        schema: { type: 'object', properties: { modern: { type: 'string' } } },
      });
      const live = await cli('records', 'export', 'wide', '--env', 'live', '--format', 'csv');
      assert.equal(live.code, 0, live.stderr);
      assert.equal(live.stdout, 'legacy,big,color,size\nL1,12345678901234567890,red,\nL2,,,"{""w"":1}"\n');
      const test = await cli('records', 'export', 'wide', '--format', 'csv');
      assert.equal(
        test.stdout,
        'modern,legacy,big,color,size\n,L1,12345678901234567890,red,\n,L2,,,"{""w"":1}"\n',
      );
      // --json shapes errors only: the records stay CSV, a failure is the envelope on stdout.
      assert.equal((await cli('records', 'export', 'wide', '--format', 'csv', '--json')).stdout, test.stdout);
      const missing = await cli('records', 'export', 'nowhere', '--format', 'csv', '--json');
      assert.equal(missing.code, 1);
      assert.equal(JSON.parse(missing.stdout).code, 'endpoint_not_found');
    });

    test('- reads stdin: NDJSON by default, CSV with --format; nothing is left behind', async () => {
      await server.createEndpoint({
        slug: 'piped',
        name: 'piped',
        schema: { type: 'object', properties: { sku: { type: 'string' }, n: { type: 'integer' } } },
      });
      const before = readdirSync(tmpdir()).filter((f) => f.startsWith('gatehouse-import-')).length;
      const ndjson = await managementCli(server, '{"sku":"a","n":1}\n{"sku":"b","n":2}\n')(
        'records',
        'import',
        'piped',
        '-',
      );
      assert.equal(ndjson.code, 0, ndjson.stderr);
      assert.match(ndjson.stdout, /Imported 2 of 2 rows into piped \(test\)/);
      const csv = await managementCli(server, 'sku,n\nc,3\nd,x\n')(
        'records',
        'import',
        'piped',
        '-',
        '--format',
        'csv',
      );
      assert.equal(csv.code, 2, 'one row was refused');
      assert.match(csv.stdout, /Imported 1 of 2 rows/);
      assert.match(csv.stdout, /line 3: n:/);
      assert.equal(await count('piped'), 3);
      assert.equal(readdirSync(tmpdir()).filter((f) => f.startsWith('gatehouse-import-')).length, before);
    });

    test('--webhooks fires them', async () => {
      writeFileSync(join(dir, 'hooked.ndjson'), '{"sku":"h1"}\n{"sku":"h2"}\n');
      const res = await cli('records', 'import', 'hooked', join(dir, 'hooked.ndjson'), '--webhooks');
      assert.equal(res.code, 0, res.stdout + res.stderr);
      await receiver.waitFor(2);
    });
  });
}

test('an export cut off mid-stream says so, with how far it got, and exits 1 (no stack trace)', async () => {
  // A stand-in for a server that dies mid-export: two records, then the connection closes.
  const stub = createServer((req, res) => {
    if (req.url?.startsWith('/admin/v1/endpoints/orders/export')) {
      res.writeHead(200, { 'content-type': 'application/x-ndjson', 'transfer-encoding': 'chunked' });
      res.write('{"a":1}\n{"a":2}\n');
      setTimeout(() => res.socket?.destroy(), 50);
      return;
    }
    res.writeHead(200, { 'content-type': 'application/json' });
    res.end('{"success":true,"data":{"slug":"orders","schema":{"type":"object"},"live_version":null}}');
  });
  await new Promise<void>((resolve) => stub.listen(0, '127.0.0.1', resolve));
  const { port } = stub.address() as AddressInfo;
  try {
    for (const format of ['ndjson', 'csv']) {
      const result = await run(
        process.execPath,
        [
          'bin/gatehouse.js',
          'records',
          'export',
          'orders',
          '--format',
          format,
          '--url',
          `http://127.0.0.1:${port}`,
          '--token',
          'gm_x',
        ],
        { env: { ...process.env, GATEHOUSE_CLI_CREDENTIALS: '/nonexistent' } },
      ).then(
        () => ({ code: 0, stderr: '' }),
        (e: { code: number; stderr: string }) => ({ code: e.code, stderr: e.stderr }),
      );
      assert.equal(result.code, 1, format);
      assert.match(result.stderr, /The export was cut off/, format);
      if (format === 'ndjson') assert.match(result.stderr, /after 2 records/);
      assert.doesNotMatch(result.stderr, /Unhandled| {4}at /, format);
    }
  } finally {
    stub.close();
  }
});
