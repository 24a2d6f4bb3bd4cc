import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { Ajv2020 } from 'ajv/dist/2020.js';
import { managementCli } from './helpers/process.ts';
import { startTestServer, type TestServer } from './helpers/server.ts';

// A key with no limits of its own read `limits {}` in `keys show` (and create, update) although
// an installation default limited it: only `keys list` said so. One key's answers now carry the
// defaults too (meta.default_limits, as the list's), and the CLI shows the effective limits.
describe('one key shows the installation default limits that apply to it', () => {
  let server: TestServer;
  const cli = (...args: string[]) => managementCli(server)(...args);
  const defaults = { per_minute: null, per_day: 1000, per_month: null };

  before(async () => {
    server = await startTestServer('sqlite', { GATEHOUSE_DEFAULT_PER_DAY: '1000' });
  });
  after(async () => server.close());

  test('GET, PATCH and POST /admin/v1/keys… answer meta.default_limits, as the document says', async () => {
    const created = await server.admin('POST', '/admin/v1/keys', { name: 'p', environment: 'test' });
    assert.equal(created.status, 201);
    assert.deepEqual(created.body.meta, { default_limits: defaults });
    const { id } = created.body.data;
    const read = await server.admin('GET', `/admin/v1/keys/${id}`);
    assert.deepEqual(read.body.meta, { default_limits: defaults });
    const changed = await server.admin('PATCH', `/admin/v1/keys/${id}`, { limits: { per_minute: 5 } });
    assert.deepEqual(changed.body.meta, { default_limits: defaults });

    const doc = (await server.admin('GET', '/admin/v1/openapi.json')).body;
    const ajv = new Ajv2020({ strict: false });
    ajv.addSchema({ ...doc, $id: 'https://doc.invalid/admin.json' });
    const at = (path: string, method: string, status: string) =>
      ajv.compile({
        $ref: `https://doc.invalid/admin.json#/paths/${path.replaceAll('/', '~1')}/${method}/responses/${status}/content/application~1json/schema`,
      });
    for (const [validate, answer] of [
      [at('/admin/v1/keys', 'post', '201'), created],
      [at('/admin/v1/keys/{id}', 'get', '200'), read],
      [at('/admin/v1/keys/{id}', 'patch', '200'), changed],
    ] as const) {
      assert.ok(validate(answer.body), JSON.stringify(validate.errors));
    }
  });

  test('keys create, show and update print the effective limits, a default marked', async () => {
    const created = await cli('keys', 'create', '--name', 'cli', '--env', 'test', '--per-minute', '60');
    assert.equal(created.code, 0, created.stderr);
    assert.match(created.stdout, /^limits\s+\{"per_minute":60\}$/m);
    assert.match(created.stdout, /^effective_limits\s+60\/minute, 1000\/day \(default\)$/m);
    const id = /^id\s+(\S+)$/m.exec(created.stdout)?.[1] as string;

    const cleared = await cli('keys', 'update', id, '--per-minute', 'none');
    assert.equal(cleared.code, 0, cleared.stderr);
    assert.match(cleared.stdout, /^limits\s+\{\}$/m);
    assert.match(cleared.stdout, /^effective_limits\s+1000\/day \(default\)$/m);

    const shown = await cli('keys', 'show', id);
    assert.equal(shown.code, 0, shown.stderr);
    assert.match(shown.stdout, /^effective_limits\s+1000\/day \(default\)$/m);

    // --json stays the key itself.
    const json = JSON.parse((await cli('keys', 'show', id, '--json')).stdout);
    assert.deepEqual(Object.keys(json), ['success', 'data']);
    assert.equal(json.data.effective_limits, undefined);
  });

  test('an unknown key is still the 404, not a crash on a missing meta', async () => {
    const run = await cli('keys', 'show', 'key_nope');
    assert.equal(run.code, 1);
    assert.match(run.stderr, /API key "key_nope" not found \(key_not_found\)/);
  });
});
