import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { once } from 'node:events';
import {
  existsSync,
  mkdtempSync,
  readdirSync,
  readFileSync,
  rmSync,
  utimesSync,
  writeFileSync,
} from 'node:fs';
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

  test('servers starting and stopping at the same moment in several processes keep each other listed, a stale lock among them', {
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
      // They start with a lock left by a process that died holding it: all find it stale at once.
      const gone = await aliveProcess();
      gone.kill('SIGKILL');
      await once(gone, 'exit');
      writeFileSync(`${file}.lock`, String(gone.pid));
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
      assert.equal(existsSync(`${file}.lock`), false);
    } finally {
      for (const child of children) child.kill('SIGKILL');
      rmSync(file, { force: true });
      rmSync(go, { force: true });
    }
  });

  test('a lock left by a process that died holding it is taken over', async () => {
    const gone = await aliveProcess();
    gone.kill('SIGKILL');
    await once(gone, 'exit');
    writeFileSync(`${file}.lock`, String(gone.pid));
    try {
      announceServer(config, 'http://127.0.0.1:4200', process.pid);
      assert.equal(runningServer(config)?.url, 'http://127.0.0.1:4200');
      assert.equal(existsSync(`${file}.lock`), false);
      // Left with the guard of a takeover too: by a taker that died, and by one holding it for
      // longer than a takeover ever takes (the same stale rules).
      for (const guard of [String(gone.pid), String(process.pid)]) {
        writeFileSync(`${file}.lock`, String(gone.pid));
        writeFileSync(`${file}.lock.takeover`, guard);
        if (guard === String(process.pid)) {
          const old = new Date(Date.now() - 60_000);
          utimesSync(`${file}.lock.takeover`, old, old);
        }
        withdrawServer(config, process.pid);
        assert.equal(runningServer(config), undefined);
        assert.deepEqual(
          readdirSync(dir).filter((name) => name.startsWith('server.json')),
          [],
          'the lock and its guards are gone',
        );
        announceServer(config, 'http://127.0.0.1:4200', process.pid);
      }
    } finally {
      withdrawServer(config, process.pid);
      rmSync(`${file}.lock`, { force: true });
      rmSync(`${file}.lock.takeover`, { force: true });
    }
  });

  test('two processes taking over one stale lock: the second never removes the lock the first has just taken', {
    timeout: 60_000,
  }, async () => {
    const lock = `${file}.lock`;
    const gone = await aliveProcess();
    gone.kill('SIGKILL');
    await once(gone, 'exit');
    const dead = gone.pid as number;
    writeFileSync(lock, String(dead));
    const outcome = join(dir, 'outcome');
    // The other process: it took the stale lock over (removed it, created its own) just after this
    // one found the lock stale and before it acted on that. It holds the lock for 300 ms, then
    // releases it, saying whether the lock was still its own.
    const other = `
      const { readFileSync, rmSync, writeFileSync } = require('node:fs');
      setTimeout(() => {
        let own = false;
        try { own = readFileSync(${JSON.stringify(lock)}, 'utf8') === String(process.pid); } catch {}
        if (own) rmSync(${JSON.stringify(lock)});
        writeFileSync(${JSON.stringify(outcome)}, own ? 'released its own lock' : 'its lock was removed by another');
      }, 300);
    `;
    let holder: ReturnType<typeof spawn> | undefined;
    // The hook: this process checks whether the stale lock's holder lives (process.kill(pid, 0))
    // between reading the lock and removing it; the other process takes the lock over right then.
    const kill = process.kill;
    process.kill = ((pid: number, signal?: string | number) => {
      if (pid === dead && signal === 0 && !holder) {
        holder = spawn(process.execPath, ['-e', other], { stdio: 'ignore' });
        rmSync(lock);
        writeFileSync(lock, String(holder.pid), { flag: 'wx' });
      }
      return kill.call(process, pid, signal);
    }) as typeof process.kill;
    try {
      announceServer(config, 'http://127.0.0.1:4300', process.pid);
    } finally {
      process.kill = kill;
    }
    try {
      assert.ok(holder, 'the other process took the lock over');
      await once(holder, 'exit');
      assert.equal(readFileSync(outcome, 'utf8'), 'released its own lock');
      assert.equal(runningServer(config)?.url, 'http://127.0.0.1:4300');
      assert.equal(existsSync(lock), false);
      assert.equal(existsSync(`${lock}.takeover`), false);
    } finally {
      holder?.kill('SIGKILL');
      withdrawServer(config, process.pid);
      rmSync(lock, { force: true });
      rmSync(outcome, { force: true });
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
