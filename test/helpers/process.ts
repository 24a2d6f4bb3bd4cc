import { type ChildProcess, execFile, spawn } from 'node:child_process';
import { rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';

const execFileAsync = promisify(execFile);

/**
 * Where spawned servers record their address (`server.json` beside the CLI credentials) unless a
 * test says: a folder of this test process, not the checkout's ./data.
 */
const cliFolder = join(tmpdir(), `gatehouse-test-cli-${process.pid}`);
process.once('exit', () => rmSync(cliFolder, { recursive: true, force: true }));

/** The real CLI as a child process (stderr shown, so a crash explains itself). */
export function spawnGatehouse(args: string[], env: Record<string, string>): ChildProcess {
  return spawn(process.execPath, ['bin/gatehouse.js', ...args], {
    env: { ...process.env, GATEHOUSE_CLI_CREDENTIALS: join(cliFolder, 'cli.json'), ...env },
    stdio: ['ignore', 'ignore', 'inherit'],
  });
}

export interface CliRun {
  code: number;
  stdout: string;
  stderr: string;
}

/** Runs the real CLI to its end: its exit code and output, without throwing on a non-zero exit. */
export function runGatehouse(
  args: string[],
  env: Record<string, string | undefined>,
  /** Killed after this long (then `code` is null): for a command that must exit on its own. */
  timeoutMs = 0,
  /** What the command reads on stdin (none: stdin is closed at once). */
  input = '',
): Promise<CliRun> {
  const running = execFileAsync(process.execPath, ['bin/gatehouse.js', ...args], {
    env: { ...process.env, ...env },
    timeout: timeoutMs,
  });
  running.child.stdin?.end(input);
  return running.then(
    ({ stdout, stderr }) => ({ code: 0, stdout, stderr }),
    (error: CliRun) => ({ code: error.code, stdout: error.stdout, stderr: error.stderr }),
  );
}

/**
 * The real CLI in a real terminal (util-linux `script` gives it one): each answer is typed only
 * once as many prompts (matches of `prompt`, which must be global) are on screen. Returns
 * everything the terminal showed and the exit code.
 */
export function runInTerminal(
  args: string[],
  env: Record<string, string | undefined>,
  answers: string[],
  prompt: RegExp,
): Promise<{ code: number; screen: string }> {
  const quoted = args.map((a) => `'${a.replaceAll("'", "'\\''")}'`).join(' ');
  return new Promise((resolve, reject) => {
    const child = spawn('script', ['-qec', `${process.execPath} bin/gatehouse.js ${quoted}`, '/dev/null'], {
      env: { ...process.env, ...env },
      stdio: ['pipe', 'pipe', 'pipe'],
    });
    let screen = '';
    let answered = 0;
    const onOutput = (chunk: Buffer) => {
      screen += chunk.toString();
      const prompts = screen.match(prompt)?.length ?? 0;
      while (answered < prompts && answered < answers.length) child.stdin.write(`${answers[answered++]}\r`);
    };
    child.stdout.on('data', onOutput);
    child.stderr.on('data', onOutput);
    child.on('error', reject);
    child.on('exit', (code) => resolve({ code: code ?? -1, screen }));
    setTimeout(() => child.kill('SIGKILL'), 60_000).unref();
  });
}

/** The management CLI against a test server (its URL and token, no saved credentials). */
export function managementCli(server: { url: string; token: string }, input?: string) {
  return (...args: string[]) =>
    runGatehouse(
      args,
      {
        GATEHOUSE_URL: server.url,
        GATEHOUSE_TOKEN: server.token,
        GATEHOUSE_CLI_CREDENTIALS: '/nonexistent',
      },
      0,
      input,
    );
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
