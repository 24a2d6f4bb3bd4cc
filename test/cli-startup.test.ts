import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, test } from 'node:test';
import { fileURLToPath } from 'node:url';
import { runGatehouse } from './helpers/process.ts';

const LOADED = 'gatehouse-test: the server was loaded';
const trace = fileURLToPath(new URL('./helpers/trace-server-load.mjs', import.meta.url));

/**
 * Commands that talk to a server over HTTP start without loading the server's own modules
 * (Fastify, Kysely, Ajv, the drivers): about 0.3 s instead of 1.3 s here. Only the commands that
 * run it (init, start, serve, worker) load them, when they run.
 */
describe('CLI start-up', () => {
  const dir = mkdtempSync(join(tmpdir(), 'gatehouse-cli-startup-'));
  after(() => rmSync(dir, { recursive: true, force: true }));
  const env = {
    NODE_OPTIONS: `--import ${trace}`,
    DATABASE_URL: `sqlite:${join(dir, 'g.db')}`,
    GATEHOUSE_CLI_CREDENTIALS: join(dir, 'cli.json'),
  };

  for (const args of [
    ['--version'],
    ['endpoints', 'list', '--url', 'http://127.0.0.1:9', '--token', 'gm_x', '--json'],
    ['types', '--url', 'http://127.0.0.1:9', '--token', 'gm_x'],
    ['backup', join(dir, 'missing-database-backup.db'), '--json'],
    ['start', '--help'],
    ['init', '--help'],
  ]) {
    test(`gatehouse ${args.join(' ')} does not load the server`, async () => {
      const run = await runGatehouse(args, env, 30_000);
      assert.equal(run.stderr.includes(LOADED), false, run.stderr);
      assert.ok(run.stdout.length + run.stderr.length > 0, 'it said something');
    });
  }

  test('gatehouse init loads it (and the trace sees it)', async () => {
    const run = await runGatehouse(
      ['init', '--email', 'o@example.com', '--password', 'correct horse battery', '--json'],
      env,
      60_000,
    );
    assert.equal(run.code, 0, run.stderr);
    assert.ok(run.stderr.includes(LOADED), run.stderr);
  });
});
