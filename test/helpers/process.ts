import { type ChildProcess, spawn } from 'node:child_process';

/** The real CLI as a child process (stderr shown, so a crash explains itself). */
export function spawnGatehouse(args: string[], env: Record<string, string>): ChildProcess {
  return spawn(process.execPath, ['bin/gatehouse.js', ...args], {
    env: { ...process.env, ...env },
    stdio: ['ignore', 'ignore', 'inherit'],
  });
}

/**
 * Waits until `/health` answers on the port: 60 s at most, since several processes starting at
 * once on a slow two-core host each need seconds to load (returns as soon as it answers).
 */
export async function waitHealthy(port: number): Promise<void> {
  const deadline = Date.now() + 60_000;
  while (Date.now() < deadline) {
    const up = await fetch(`http://127.0.0.1:${port}/health`).then(
      (r) => r.ok,
      () => false,
    );
    if (up) return;
    await new Promise((r) => setTimeout(r, 50));
  }
  throw new Error(`no server answered on port ${port}`);
}
