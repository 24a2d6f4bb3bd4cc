import type { FastifyInstance } from 'fastify';
import { buildApp, createServices, type Services } from '../../src/app.ts';
import { loadConfig } from '../../src/config.ts';
import { createTestDatabase, type DatabaseKind, type TestDatabase } from './database.ts';

export interface ApiResponse {
  status: number;
  headers: Headers;
  // biome-ignore lint/suspicious/noExplicitAny: test assertions walk arbitrary JSON
  body: any;
  text: string;
}

export interface RequestOptions {
  key?: string;
  token?: string;
  /** A value to send as JSON; `raw` sends bytes as they are. */
  json?: unknown;
  raw?: string | Buffer;
  headers?: Record<string, string>;
  /** 'manual' to get a redirect as it is answered (fetch follows it by default). */
  redirect?: 'follow' | 'manual' | 'error';
}

export interface TestServer {
  url: string;
  /** The owner's management token, which admin() sends. */
  token: string;
  services: Services;
  app: FastifyInstance;
  database: TestDatabase;
  request(method: string, path: string, options?: RequestOptions): Promise<ApiResponse>;
  /** Management API call with the owner's token. */
  admin(method: string, path: string, json?: unknown): Promise<ApiResponse>;
  createEndpoint(body: Record<string, unknown>): Promise<void>;
  createKey(body: Record<string, unknown>): Promise<{ id: string; key: string }>;
  /** Stops the server and its services, keeping the database (to start another over it). */
  stop(): Promise<void>;
  /** Stops it and drops the database. */
  close(): Promise<void>;
}

/** The owner every test server is made with (its dashboard sign-in). */
export const TEST_OWNER = { email: 'owner@example.com', password: 'correct horse battery' };

export const ordersSchema = {
  type: 'object',
  properties: {
    order_id: { type: 'string', minLength: 1 },
    amount: { type: 'integer', minimum: 0 },
    items: { type: 'array', items: { type: 'string' } },
    paid: { type: 'boolean' },
    email: { type: 'string', format: 'email' },
  },
  required: ['order_id', 'amount'],
};

/** A SQLite test server whose webhook worker runs and may deliver to receivers on loopback. */
export function startDeliveringServer(): Promise<TestServer> {
  return startTestServer('sqlite', { GATEHOUSE_WEBHOOK_ALLOW_NETS: '127.0.0.0/8' }, { worker: true });
}

/** A real server on 127.0.0.1 and a random port, over a fresh database, with an owner and its token. */
export async function startTestServer(
  kind: DatabaseKind,
  env: Record<string, string> = {},
  options: { worker?: boolean } = {},
): Promise<TestServer> {
  const database = await createTestDatabase(kind);
  const config = loadConfig({
    DATABASE_URL: database.url,
    PORT: '0',
    HOST: '127.0.0.1',
    LOG_LEVEL: 'silent',
    ...env,
  });
  const services = await createServices(config);
  const app = buildApp(services, { logger: false });
  // Its first prune an hour on, as before: a test that ages rows prunes when it means to.
  const worker = options.worker
    ? services.webhooks.createWorker(undefined, { firstPruneMs: 3_600_000 })
    : undefined;
  worker?.start();
  await app.listen({ port: 0, host: '127.0.0.1' });
  const address = app.server.address();
  const url = `http://127.0.0.1:${typeof address === 'object' && address ? address.port : 0}`;
  const { token } = await services.owners.init(TEST_OWNER);

  async function request(method: string, path: string, options: RequestOptions = {}): Promise<ApiResponse> {
    const headers: Record<string, string> = { ...options.headers };
    if (options.key) headers.authorization = `Bearer ${options.key}`;
    if (options.token) headers.authorization = `Bearer ${options.token}`;
    let body: string | Buffer | undefined;
    if (options.json !== undefined) {
      body = JSON.stringify(options.json);
      headers['content-type'] ??= 'application/json';
    } else if (options.raw !== undefined) body = options.raw;
    const response = await fetch(`${url}${path}`, { method, headers, body, redirect: options.redirect });
    const text = await response.text();
    let parsed: unknown;
    try {
      parsed = text === '' ? undefined : JSON.parse(text);
    } catch {
      parsed = undefined;
    }
    return { status: response.status, headers: response.headers, body: parsed, text };
  }

  const server: TestServer = {
    url,
    token,
    services,
    app,
    database,
    request,
    // server.token, not the first one: a test that revokes it (a password change) sets a new one.
    admin: (method, path, json) => request(method, path, { token: server.token, json }),
    async createEndpoint(body) {
      const res = await server.admin('POST', '/admin/v1/endpoints', body);
      if (res.status !== 201) throw new Error(`createEndpoint: ${res.status} ${res.text}`);
    },
    async createKey(body) {
      const res = await server.admin('POST', '/admin/v1/keys', body);
      if (res.status !== 201) throw new Error(`createKey: ${res.status} ${res.text}`);
      return { id: res.body.data.id, key: res.body.data.key };
    },
    async stop() {
      await app.close();
      await worker?.stop();
      await services.close();
    },
    async close() {
      await server.stop();
      await database.drop();
    },
  };
  return server;
}

/** How many rows a table holds now (to show that a refused request wrote nothing). */
export async function countRows(
  server: Pick<TestServer, 'services'>,
  table: 'records' | 'requests',
): Promise<number> {
  const row = await server.services.database.db
    .selectFrom(table)
    .select((eb) => eb.fn.countAll<number>().as('n'))
    .executeTakeFirstOrThrow();
  return Number(row.n);
}

/**
 * A second server process's worth of services over `first`'s database (its own caches; `env`
 * gives it the same Redis bus): what another machine of one installation sees.
 */
export async function startPeerServer(
  first: Pick<TestServer, 'database'>,
  env: Record<string, string>,
): Promise<{ url: string; close(): Promise<void> }> {
  const services = await createServices(
    loadConfig({ ...env, DATABASE_URL: first.database.url, LOG_LEVEL: 'silent' }),
  );
  const app = buildApp(services, { logger: false });
  await app.listen({ port: 0, host: '127.0.0.1' });
  const address = app.server.address();
  return {
    url: `http://127.0.0.1:${typeof address === 'object' && address ? address.port : 0}`,
    async close() {
      await app.close();
      await services.close();
    },
  };
}
