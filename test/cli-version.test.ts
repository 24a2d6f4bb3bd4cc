import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { test } from 'node:test';
import { promisify } from 'node:util';

const run = promisify(execFile);
const { version } = JSON.parse(readFileSync('package.json', 'utf8')) as { version: string };

test('gatehouse --version and -V print the package version and exit 0; an unknown option says so and exits 1', async () => {
  for (const flag of ['--version', '-V']) {
    const { stdout } = await run(process.execPath, ['bin/gatehouse.js', flag]);
    assert.equal(stdout.trim(), version);
  }
  await assert.rejects(
    run(process.execPath, ['bin/gatehouse.js', '--verison']),
    (error: { code: number; stderr: string }) => {
      assert.equal(error.code, 1);
      assert.match(error.stderr, /unknown option '--verison'/);
      return true;
    },
  );
});
