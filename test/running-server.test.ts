import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, test } from 'node:test';
import { announceServer, runningServer, withdrawServer } from '../src/cli/running-server.ts';
import { loadConfig } from '../src/config.ts';

/** A process that stays alive until killed: stands for a server started from the same folder. */
async function aliveProcess() {
  const child = spawn(process.execPath, ['-e', 'setInterval(() => {}, 1000)'], { stdio: 'ignore' });
  await once(child, 'spawn');
  return child;
}

describe('./data/server.json with several servers started from one folder', () => {
  const dir = mkdtempSync(join(tmpdir(), 'gatehouse-running-'));
  const config = loadConfig({ GATEHOUSE_CLI_CREDENTIALS: join(dir, 'cli.json'), LOG_LEVEL: 'silent' });
  const file = join(dir, 'server.json');
  after(() => rmSync(dir, { recursive: true, force: true }));

  test('the CLI finds the newest server still running; one stopping leaves the others findable', async () => {
    const first = await aliveProcess();
    const second = await aliveProcess();
    try {
      announceServer(config, 'http://127.0.0.1:4001', first.pid as number);
      announceServer(config, 'http://127.0.0.1:4002', second.pid as number);
      assert.equal(runningServer(config)?.url, 'http://127.0.0.1:4002');
      // The newer one stops: the older one is found again (it was lost before).
      withdrawServer(config, second.pid as number);
      assert.equal(runningServer(config)?.url, 'http://127.0.0.1:4001');
      // One that died without withdrawing (SIGKILL) is skipped, and dropped at the next change.
      announceServer(config, 'http://127.0.0.1:4002', second.pid as number);
      second.kill('SIGKILL');
      await once(second, 'exit');
      assert.equal(runningServer(config)?.url, 'http://127.0.0.1:4001');
      announceServer(config, 'http://127.0.0.1:4003', process.pid);
      assert.deepEqual(
        JSON.parse(readFileSync(file, 'utf8')).servers.map((s: { url: string }) => s.url),
        ['http://127.0.0.1:4001', 'http://127.0.0.1:4003'],
      );
      // A withdrawal by a server the file does not list changes nothing.
      withdrawServer(config, 999_999_999);
      assert.equal(runningServer(config)?.url, 'http://127.0.0.1:4003');
      withdrawServer(config, process.pid);
      withdrawServer(config, first.pid as number);
      assert.equal(existsSync(file), false, 'the last one out removes the file');
    } finally {
      first.kill('SIGKILL');
      second.kill('SIGKILL');
    }
  });

  test('a file written by an earlier release ({url, pid}) is read, and kept when another server starts', async () => {
    const older = await aliveProcess();
    try {
      writeFileSync(file, JSON.stringify({ url: 'http://127.0.0.1:4100', pid: older.pid }));
      assert.equal(runningServer(config)?.url, 'http://127.0.0.1:4100');
      announceServer(config, 'http://127.0.0.1:4101', process.pid);
      withdrawServer(config, process.pid);
      assert.equal(runningServer(config)?.url, 'http://127.0.0.1:4100');
      writeFileSync(file, 'not json');
      assert.equal(runningServer(config), undefined);
    } finally {
      older.kill('SIGKILL');
      rmSync(file, { force: true });
    }
  });
});
