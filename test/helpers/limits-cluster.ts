import { type ChildProcess, spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { createConnection, createServer, type Server, type Socket } from 'node:net';
import { Redis } from 'ioredis';
import { createServices } from '../../src/app.ts';
import { loadConfig } from '../../src/config.ts';
import { createTestDatabase, type DatabaseKind, type TestDatabase } from './database.ts';
import { ordersSchema } from './server.ts';

export const redisUrl = process.env.GATEHOUSE_TEST_REDIS_URL ?? 'redis://127.0.0.1:6379';

/** A Redis key prefix no other test run uses, so runs sharing one Redis never see each other's counters. */
export function uniquePrefix(): string {
  return `gatehouse-test:${randomBytes(6).toString('hex')}:`;
}

/** Deletes what a test run left in Redis under its prefix (counters would otherwise live to month end). */
export async function dropRedisPrefix(prefix: string): Promise<void> {
  const redis = new Redis(redisUrl);
  try {
    let cursor = '0';
    do {
      const [next, keys] = await redis.scan(cursor, 'MATCH', `${prefix}*`, 'COUNT', 500);
      cursor = next;
      if (keys.length > 0) await redis.del(...keys);
    } while (cursor !== '0');
  } finally {
    redis.disconnect();
  }
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

export interface ServerProcess {
  url: string;
  /** The process started (with --workers, the primary). */
  pid: number;
  /** Everything the process wrote to stderr (its JSON log). */
  log(): string;
  stop(): Promise<void>;
}

/** `node bin/gatehouse.js serve` on 127.0.0.1 and a free port, waiting until /health answers. */
export async function spawnServer(
  env: Record<string, string>,
  args = ['bin/gatehouse.js', 'serve'],
): Promise<ServerProcess> {
  const port = await freePort();
  const child: ChildProcess = spawn(process.execPath, args, {
    env: { ...process.env, HOST: '127.0.0.1', PORT: String(port), LOG_LEVEL: 'warn', ...env },
    stdio: ['ignore', 'ignore', 'pipe'],
  });
  let stderr = '';
  child.stderr?.on('data', (chunk: Buffer) => {
    stderr += chunk.toString();
  });
  const url = `http://127.0.0.1:${port}`;
  const deadline = Date.now() + 30_000;
  for (;;) {
    if (child.exitCode !== null) throw new Error(`server exited: ${stderr}`);
    const ok = await fetch(`${url}/health`).then(
      (r) => r.ok,
      () => false,
    );
    if (ok) break;
    if (Date.now() > deadline) {
      child.kill('SIGKILL');
      throw new Error(`server did not start: ${stderr}`);
    }
    await new Promise((r) => setTimeout(r, 100));
  }
  return {
    url,
    pid: child.pid as number,
    log: () => stderr,
    stop: () =>
      new Promise<void>((resolve) => {
        if (child.exitCode !== null) return resolve();
        child.once('exit', () => resolve());
        child.kill('SIGTERM');
        setTimeout(() => child.kill('SIGKILL'), 10_000).unref();
      }),
  };
}

export interface ClusterSetup {
  database: TestDatabase;
  token: string;
  /** Creates a key through the services directly; returns its secret and id. */
  createKey(limits?: Record<string, number>): Promise<{ id: string; key: string }>;
}

/** A fresh database with the orders endpoint and an owner, set up in this process before servers start. */
export async function setUpDatabase(kind: DatabaseKind): Promise<ClusterSetup> {
  const database = await createTestDatabase(kind);
  const config = loadConfig({ DATABASE_URL: database.url, LOG_LEVEL: 'silent' });
  const services = await createServices(config);
  let token: string;
  try {
    token = (await services.owners.init({ email: 'owner@example.com', password: 'correct horse battery' }))
      .token;
    await services.endpoints.create({ slug: 'orders', name: 'Orders', schema: ordersSchema });
  } finally {
    await services.close();
  }
  return {
    database,
    token,
    async createKey(limits) {
      const s = await createServices(config);
      try {
        const created = await s.keys.create({
          name: 'k',
          environment: 'test',
          ...(limits ? { limits } : {}),
        });
        return { id: created.id, key: created.key };
      } finally {
        await s.close();
      }
    },
  };
}

/**
 * A TCP proxy in front of Redis that a test can freeze (Redis hangs) and thaw, or take down
 * (connections cut, new ones refused) and bring up again on the same port, without touching Redis.
 */
export interface RedisProxy {
  url: string;
  freeze(): void;
  thaw(): void;
  /** Keeps what clients send from Redis, as a stalled network does, until `release`. */
  hold(): void;
  /** Passes on, in order, what `hold` kept. */
  release(): void;
  down(): Promise<void>;
  up(): Promise<void>;
  close(): Promise<void>;
}

export async function startRedisProxy(target = redisUrl): Promise<RedisProxy> {
  const { hostname, port } = new URL(target);
  let frozen = false;
  let holding = false;
  /** Chunks kept by `hold`, each with the socket it is for. */
  const kept: Array<[Socket, Buffer]> = [];
  const pairs = new Set<[Socket, Socket]>();
  const server: Server = createServer((client) => {
    const upstream = createConnection({ host: hostname, port: Number(port || 6379) });
    const pair: [Socket, Socket] = [client, upstream];
    pairs.add(pair);
    const forward = (from: Socket, to: Socket, toRedis: boolean) =>
      from.on('data', (chunk: Buffer) => {
        // Frozen: bytes are swallowed, as if Redis stopped answering.
        if (frozen) return;
        if (holding && toRedis) kept.push([to, chunk]);
        else to.write(chunk);
      });
    forward(client, upstream, true);
    forward(upstream, client, false);
    const end = () => {
      client.destroy();
      upstream.destroy();
      pairs.delete(pair);
    };
    client.on('close', end).on('error', end);
    upstream.on('close', end).on('error', end);
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const address = server.address();
  const proxyPort = typeof address === 'object' && address ? address.port : 0;
  const close = () =>
    new Promise<void>((resolve) => {
      for (const [client, upstream] of pairs) {
        client.destroy();
        upstream.destroy();
      }
      if (!server.listening) return resolve();
      server.close(() => resolve());
    });
  return {
    url: `redis://127.0.0.1:${proxyPort}`,
    freeze: () => {
      frozen = true;
    },
    thaw: () => {
      frozen = false;
      // Connections that lost bytes are out of sync: drop them so clients reconnect cleanly.
      for (const [client, upstream] of pairs) {
        client.destroy();
        upstream.destroy();
      }
    },
    hold: () => {
      holding = true;
    },
    release: () => {
      holding = false;
      for (const [to, chunk] of kept.splice(0)) if (!to.destroyed) to.write(chunk);
    },
    down: close,
    // The same port again: should another process have taken it meanwhile, the test fails saying so.
    up: () =>
      new Promise<void>((resolve, reject) => {
        server.once('error', reject);
        server.listen(proxyPort, '127.0.0.1', () => {
          server.off('error', reject);
          resolve();
        });
      }),
    close,
  };
}

/** A data API answer, its body parsed. */
export interface Reply {
  status: number;
  headers: Headers;
  // biome-ignore lint/suspicious/noExplicitAny: test assertions walk arbitrary JSON
  body: any;
}

/** A data API call with a key (JSON body if given), bounded so that no test hangs on Redis. */
export async function call(
  base: string,
  method: string,
  path: string,
  key: string,
  options: { json?: unknown; headers?: Record<string, string> } = {},
): Promise<Reply> {
  const headers: Record<string, string> = { authorization: `Bearer ${key}`, ...options.headers };
  if (options.json !== undefined) headers['content-type'] = 'application/json';
  const res = await fetch(`${base}${path}`, {
    method,
    headers,
    body: options.json === undefined ? undefined : JSON.stringify(options.json),
    // A bound, not a timing assertion: a request must never hang on Redis.
    signal: AbortSignal.timeout(15_000),
  });
  const text = await res.text();
  return { status: res.status, headers: res.headers, body: text ? JSON.parse(text) : undefined };
}
