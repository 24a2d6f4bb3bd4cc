import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { promisify } from 'node:util';
import { databaseKinds } from './helpers/database.ts';
import { managementCli } from './helpers/process.ts';
import { startTestServer, type TestServer } from './helpers/server.ts';
import { until } from './helpers/until.ts';

const run = promisify(execFile);

/** docs/apps.md's worked example: its definition (the first JSON block) and its shell session. */
function workedExample(): { definition: string; commands: Array<{ command: string; expected: string[] }> } {
  const doc = readFileSync('docs/apps.md', 'utf8');
  const section = doc.slice(doc.indexOf('## A worked example'), doc.indexOf('## Routes'));
  const definition = /```json\n([\s\S]*?)```/.exec(section)?.[1];
  const shell = /```sh\n([\s\S]*?)```/.exec(section)?.[1];
  assert.ok(definition && shell, 'docs/apps.md has a worked example with a definition and a shell session');
  // Each command (lines joined at a trailing `\`) with the `# …` lines right under it: what it
  // prints. A `#` line after a blank line is a remark.
  const commands: Array<{ command: string; expected: string[] }> = [];
  let pending = '';
  let output = false;
  for (const line of shell.split('\n')) {
    if (pending) {
      pending += ` ${line.trim()}`;
    } else if (line.startsWith('#')) {
      // An output line: up to two spaces before a remark, e.g. `{"error":…}   (status 404)`.
      const last = commands[commands.length - 1];
      if (output && last) last.expected.push(line.slice(2).split(/ {2,}/)[0] as string);
      continue;
    } else if (line.trim() !== '') {
      pending = line.trim();
    } else {
      output = false;
      continue;
    }
    if (pending.endsWith('\\')) {
      pending = pending.slice(0, -1).trim();
      continue;
    }
    commands.push({ command: pending, expected: [] });
    pending = '';
    output = true;
  }
  return { definition, commands };
}

// A new user copies docs/apps.md's worked example as it is written, after README's first steps.
for (const kind of databaseKinds) {
  describe(`docs/apps.md's worked example, run as written (${kind})`, () => {
    let server: TestServer;
    const dir = mkdtempSync(join(tmpdir(), 'gatehouse-firsttry-apps-'));
    const cli = resolve('bin/gatehouse.js');

    before(async () => {
      server = await startTestServer(kind);
    });
    after(async () => {
      await server.close();
      rmSync(dir, { recursive: true, force: true });
    });

    test('a live App step on an endpoint that is not deployed, inactive or expired names the endpoint', async () => {
      await server.createEndpoint({ slug: 'undeployed', name: 'Undeployed', schema: { type: 'object' } });
      const app = await server.admin('POST', '/admin/v1/apps', {
        slug: 'drafty',
        name: 'Drafty',
        routes: [
          {
            method: 'POST',
            path: '/note',
            auth: 'public',
            steps: [{ name: 'save', type: 'create', endpoint: 'undeployed', data: 'body' }],
          },
        ],
      });
      assert.equal(app.status, 201, app.text);
      // The CLI deploys it, and warns that a live call would be refused.
      const deployed = await managementCli(server)('apps', 'deploy', 'drafty');
      assert.equal(deployed.code, 0, deployed.stderr);
      assert.match(deployed.stdout, /live_version\s+1/);
      assert.equal(
        deployed.stderr,
        'Warning: undeployed is not live (never deployed, or inactive): live calls whose steps use it answer 403 until then (gatehouse endpoints deploy undeployed).\n',
      );
      const asJson = await managementCli(server)('apps', 'deploy', 'drafty', '--json');
      assert.equal(JSON.parse(asJson.stdout).data.live_version, 2);
      assert.match(asJson.stderr, /^Warning: undeployed is not live/);
      const call = () => server.request('POST', '/api/v1/apps/drafty/note', { json: { n: 1 } });
      const refused = await call();
      assert.equal(refused.status, 403, refused.text);
      assert.equal(refused.body.code, 'endpoint_not_deployed');
      assert.equal(
        refused.body.error,
        'Step "save": Endpoint "undeployed" is not deployed to live: deploy it (gatehouse endpoints deploy undeployed)',
      );
      assert.equal((await server.admin('POST', '/admin/v1/endpoints/undeployed/deploy')).status, 201);
      assert.equal((await call()).status, 200);
      const quiet = await managementCli(server)('apps', 'deploy', 'drafty');
      assert.equal(quiet.code, 0, quiet.stderr);
      assert.equal(quiet.stderr, '');
      await server.admin('PATCH', '/admin/v1/endpoints/undeployed', { active: false });
      const inactive = await call();
      assert.equal(inactive.status, 403);
      assert.equal(inactive.body.code, 'endpoint_inactive');
      assert.equal(inactive.body.error, 'Step "save": Endpoint "undeployed" is inactive');
      // The data API's own message is the contract's, unchanged.
      const { key } = await server.createKey({ name: 'k', environment: 'live' });
      const direct = await server.request('POST', '/api/v1/data/undeployed', { key, json: {} });
      assert.equal(direct.status, 403);
      assert.equal(direct.body.error, 'Endpoint inactive');
      // Open again until its subscription expires, a second from now.
      const expiry = { active: true, expires_at: new Date(Date.now() + 1000).toISOString() };
      assert.equal((await server.admin('PATCH', '/admin/v1/endpoints/undeployed', expiry)).status, 200);
      const expired = await until(call, (res) => res.status === 403);
      assert.equal(expired.status, 403, expired.text);
      assert.equal(expired.body.code, 'subscription_expired');
      assert.equal(expired.body.error, 'Step "save": Endpoint "undeployed": its subscription expired');
      const directExpired = await server.request('POST', '/api/v1/data/undeployed', { key, json: {} });
      assert.equal(directExpired.status, 403);
      assert.equal(directExpired.body.error, 'Subscription expired');
    });

    test('every command answers what the doc shows, and after the deploy a public call without ?environment is served', async () => {
      const { definition, commands } = workedExample();
      writeFileSync(join(dir, 'shop.json'), definition);
      const host = new URL(server.url).host;
      // README's `orders` endpoint, which the example names.
      const setup = `node ${cli} endpoints create --slug orders --name Orders --field order_id:string:required --field amount:integer:required --field paid:boolean`;
      // One shell for the session (KEY= carries over), each command's output between markers.
      const script = [setup, ...commands.map((c, i) => `echo "@@${i}"; ${c.command}; echo`)]
        .join('\n')
        .replaceAll('npx gatehouse', `node ${cli}`)
        .replaceAll('localhost:4000', host);
      const { stdout } = await run('bash', ['-e', '-c', script], {
        cwd: dir,
        env: {
          ...process.env,
          GATEHOUSE_URL: server.url,
          GATEHOUSE_TOKEN: server.token,
          GATEHOUSE_CLI_CREDENTIALS: '/nonexistent',
        },
      });
      // The 302 with its location, the status, the 404: what the doc promises, all checked.
      assert.ok(commands.flatMap((c) => c.expected).length >= 4, JSON.stringify(commands));
      const outputs = stdout.split(/^@@\d+\n/m).slice(1);
      assert.equal(outputs.length, commands.length);
      for (const [i, { command, expected }] of commands.entries()) {
        const lines = (outputs[i] as string).split(/\r?\n/);
        for (const want of expected) {
          assert.ok(
            lines.includes(want),
            `${command}\nprints ${JSON.stringify(want)}, the doc says; it printed:\n${outputs[i]}`,
          );
        }
      }
      // The last command's comment: "now live keys, and public calls without ?environment, get version 1".
      assert.match(commands[commands.length - 1]?.command ?? '', /apps deploy shop/);
      const live = await fetch(`${server.url}/api/v1/apps/shop/checkout`, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify({ order_id: 'ORD-2', amount: 100 }),
        redirect: 'manual',
      });
      assert.equal(live.status, 302, await live.text());
      assert.equal(live.headers.get('location'), 'https://shop.example/thanks?order=ORD-2');
    });
  });
}
