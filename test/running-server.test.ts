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

  test('servers starting and stopping at the same moment in several processes keep each other listed', {
    timeout: 120_000,
  }, async () => {
    const go = join(dir, 'go');
    const module = new URL('../src/cli/running-server.ts', import.meta.url).href;
    // Each process waits for `go`, then announces and withdraws itself many times, checking after
    // each change that the file lists it (or not) as it should; it ends announced.
    const script = `
      import { existsSync, readFileSync } from 'node:fs';
      import { announceServer, withdrawServer } from ${JSON.stringify(module)};
      const config = { cliCredentialsPath: ${JSON.stringify(join(dir, 'cli.json'))} };
      const listed = () => {
        try { return JSON.parse(readFileSync(${JSON.stringify(file)}, 'utf8')).servers.some((s) => s.pid === process.pid); }
        catch { return false; }
      };
      while (!existsSync(${JSON.stringify(go)})) Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, 2);
      let wrong = 0;
      for (let i = 0; i < 150; i++) {
        announceServer(config, 'http://127.0.0.1:' + (5000 + (process.pid % 1000)), process.pid);
        if (!listed()) wrong++;
        if (i === 149) break;
        withdrawServer(config, process.pid);
        if (listed()) wrong++;
      }
      process.stdout.write(String(wrong) + '\\n');
      setInterval(() => {}, 1000);
    `;
    const children = Array.from({ length: 6 }, () =>
      spawn(process.execPath, ['--import', 'tsx', '--input-type=module', '-e', script], {
        stdio: ['ignore', 'pipe', 'inherit'],
      }),
    );
    try {
      await Promise.all(children.map((child) => once(child, 'spawn')));
      writeFileSync(go, '');
      const wrong = await Promise.all(
        children.map(async (child) => {
          const [chunk] = (await once(child.stdout, 'data')) as [Buffer];
          return Number(chunk.toString().trim());
        }),
      );
      assert.deepEqual(
        wrong,
        children.map(() => 0),
        'no process saw its own entry lost or brought back by another',
      );
      assert.deepEqual(
        (JSON.parse(readFileSync(file, 'utf8')).servers as Array<{ pid: number }>).map((s) => s.pid).sort(),
        children.map((child) => child.pid).sort(),
      );
    } finally {
      for (const child of children) child.kill('SIGKILL');
      rmSync(file, { force: true });
      rmSync(go, { force: true });
    }
  });

  test('a process holding the lock keeps it as long as it lives, however long that is; once it dies the lock is free', {
    timeout: 60_000,
  }, async () => {
    const module = new URL('../src/cli/running-server.ts', import.meta.url).href;
    // A server stopped while it holds the lock: it announces itself, and stops for good as it
    // reads the file under the lock (its readFileSync blocks there), alive, until killed.
    const script = `
      import fs, { writeSync } from 'node:fs';
      import { syncBuiltinESMExports } from 'node:module';
      const read = fs.readFileSync;
      fs.readFileSync = (path, ...rest) => {
        if (String(path) === ${JSON.stringify(file)}) {
          writeSync(1, 'holding\\n');
          Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0);
        }
        return read(path, ...rest);
      };
      syncBuiltinESMExports();
      const { announceServer } = await import(${JSON.stringify(module)});
      announceServer({ cliCredentialsPath: ${JSON.stringify(join(dir, 'cli.json'))} }, 'http://127.0.0.1:4400', process.pid);
    `;
    const holder = spawn(process.execPath, ['--import', 'tsx', '--input-type=module', '-e', script], {
      stdio: ['ignore', 'pipe', 'inherit'],
    });
    const exited = once(holder, 'exit');
    try {
      const [chunk] = (await Promise.race([
        once(holder.stdout, 'data'),
        exited.then(() => [Buffer.from('exited')]),
      ])) as [Buffer];
      assert.equal(chunk.toString(), 'holding\n');
      // As if it had held the lock for a minute: the clock moves on (a lock taken over by its
      // age would be taken now), and this process waits 100 ms for it.
      const now = Date.now;
      Date.now = () => now() + 60_000;
      try {
        announceServer(config, 'http://127.0.0.1:4401', process.pid, 100);
      } finally {
        Date.now = now;
      }
      assert.equal(existsSync(file), false, 'nothing was written under the lock its holder holds');
      assert.equal(runningServer(config), undefined);

      // Killed while it holds the lock: the lock goes with it.
      holder.kill('SIGKILL');
      await exited;
      announceServer(config, 'http://127.0.0.1:4401', process.pid, 0);
      assert.equal(runningServer(config)?.url, 'http://127.0.0.1:4401');
    } finally {
      holder.kill('SIGKILL');
      withdrawServer(config, process.pid);
      rmSync(file, { force: true });
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
