import { type ChildProcess, spawn } from 'node:child_process';
import { readdirSync, readFileSync } from 'node:fs';
import { createServer } from 'node:net';
import autocannon from 'autocannon';

export interface Result {
  name: string;
  rps: number;
  p99: number;
  non2xx: number;
  errors: number;
  /** The server's CPU time (all its threads, user + system) per answered request, in µs. */
  serverMicros?: number;
  /** Of that: its main thread (the event loop), and its busiest other thread (SQLite's writer). */
  mainMicros?: number;
  otherMicros?: number;
}

/** User + system CPU time in a /proc `stat` file (a process's or a thread's), in µs (ticks of 10 ms). */
function statMicros(path: string): number {
  const stat = readFileSync(path, 'utf8');
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  return (Number(fields[11]) + Number(fields[12])) * 10_000;
}

/**
 * CPU time used so far by a process and all its threads, in µs (Linux: /proc/<pid>/stat);
 * undefined where /proc is not available.
 */
export function cpuMicros(pid: number | undefined): number | undefined {
  if (pid === undefined) return undefined;
  try {
    return statMicros(`/proc/${pid}/stat`);
  } catch {
    return undefined;
  }
}

/** CPU time used so far by each thread of a process, in µs, by thread id (Linux only). */
export function threadCpuMicros(pid: number | undefined): Map<number, number> {
  const threads = new Map<number, number>();
  if (pid === undefined) return threads;
  try {
    for (const tid of readdirSync(`/proc/${pid}/task`)) {
      threads.set(Number(tid), statMicros(`/proc/${pid}/task/${tid}/stat`));
    }
  } catch {
    // A thread ended between the listing and the read, or no /proc: what was read is enough.
  }
  return threads;
}

export async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.listen(0, '127.0.0.1', () => {
      const address = server.address();
      const port = typeof address === 'object' && address ? address.port : 0;
      server.close(() => resolve(port));
    });
    server.on('error', reject);
  });
}

/** Starts a child process and waits until `ready` answers. */
export async function startProcess(
  args: string[],
  env: Record<string, string>,
  ready: () => Promise<boolean>,
): Promise<ChildProcess> {
  const child = spawn(process.execPath, args, {
    env: { ...process.env, ...env },
    stdio: ['ignore', 'ignore', 'inherit'],
  });
  for (let i = 0; i < 200; i++) {
    if (await ready().catch(() => false)) return child;
    await new Promise((r) => setTimeout(r, 100));
  }
  child.kill('SIGKILL');
  throw new Error(`process ${args.join(' ')} did not become ready`);
}

export async function load(
  name: string,
  options: {
    url: string;
    method?: 'GET' | 'POST' | 'PUT';
    headers?: Record<string, string>;
    body?: string;
    seconds: number;
    connections: number;
    /** The server's process: its CPU time per request is reported (single-process servers). */
    server?: ChildProcess;
    /** Headers made anew for each request (an Idempotency-Key, say), on top of `headers`. */
    eachRequest?: () => Record<string, string>;
  },
): Promise<Result> {
  const cpuBefore = cpuMicros(options.server?.pid);
  const threadsBefore = threadCpuMicros(options.server?.pid);
  const result = await autocannon({
    url: options.url,
    method: options.method ?? 'GET',
    headers: options.headers,
    body: options.body,
    connections: options.connections,
    duration: options.seconds,
    pipelining: 1,
    ...(options.eachRequest && {
      requests: [
        {
          setupRequest: (request: autocannon.Request) => ({
            ...request,
            headers: { ...request.headers, ...options.eachRequest?.() },
          }),
        },
      ],
    }),
  });
  const cpuAfter = cpuMicros(options.server?.pid);
  const total = result.requests.total;
  let mainMicros: number | undefined;
  let otherMicros: number | undefined;
  for (const [tid, after] of threadCpuMicros(options.server?.pid)) {
    if (total === 0) break;
    const micros = (after - (threadsBefore.get(tid) ?? 0)) / total;
    if (tid === options.server?.pid) mainMicros = micros;
    else otherMicros = Math.max(otherMicros ?? 0, micros);
  }
  return {
    name,
    rps: result.requests.average,
    p99: result.latency.p99,
    non2xx: result.non2xx,
    errors: result.errors + result.timeouts,
    serverMicros:
      cpuBefore !== undefined && cpuAfter !== undefined && total > 0
        ? (cpuAfter - cpuBefore) / total
        : undefined,
    mainMicros,
    otherMicros,
  };
}

export function table(results: Result[], baseline: number): string {
  const lines = [
    'scenario                       req/s     p99 ms  non-2xx  errors  ratio  server µs/req  main  other',
  ];
  const micros = (value: number | undefined, width: number) =>
    value === undefined ? ''.padStart(width) : value.toFixed(1).padStart(width);
  for (const r of results) {
    lines.push(
      `${r.name.padEnd(28)} ${r.rps.toFixed(0).padStart(8)} ${String(r.p99).padStart(10)} ${String(r.non2xx).padStart(8)} ${String(r.errors).padStart(7)}  ${(r.rps / baseline).toFixed(2)}x ${micros(r.serverMicros, 13)} ${micros(r.mainMicros, 5)} ${micros(r.otherMicros, 6)}`.trimEnd(),
    );
  }
  return lines.join('\n');
}
