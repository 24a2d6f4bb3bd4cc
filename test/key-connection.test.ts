import assert from 'node:assert/strict';
import { Agent, request } from 'node:http';
import { after, before, test } from 'node:test';
import { countRows, ordersSchema, startTestServer, type TestServer } from './helpers/server.ts';

/**
 * A keep-alive connection keeps the hash of the secret it presented last (key-service.ts), so
 * that the SHA-256 is not computed on every request. The verdict is never kept: on one and the
 * same connection, another key is that key, a changed secret is refused, and a key revoked
 * between two requests is refused on the next one, on the fast path and on Fastify's.
 */

let server: TestServer;
let agent: Agent;
const sockets = new Set<unknown>();

interface Answer {
  status: number;
  code: string | undefined;
}

function call(method: string, path: string, key: string, body?: unknown): Promise<Answer> {
  const text = body === undefined ? undefined : JSON.stringify(body);
  return new Promise((resolve, reject) => {
    const req = request(
      `${server.url}${path}`,
      {
        method,
        agent,
        headers: {
          authorization: `Bearer ${key}`,
          ...(text === undefined ? {} : { 'content-type': 'application/json' }),
        },
      },
      (res) => {
        sockets.add(req.socket);
        const chunks: Buffer[] = [];
        res.on('data', (chunk: Buffer) => chunks.push(chunk));
        res.on('end', () => {
          const parsed = JSON.parse(Buffer.concat(chunks).toString()) as { code?: string };
          resolve({ status: res.statusCode ?? 0, code: parsed.code });
        });
      },
    );
    req.on('error', reject);
    req.end(text);
  });
}

const recordCount = () => countRows(server, 'records');

before(async () => {
  server = await startTestServer('sqlite');
  await server.createEndpoint({ slug: 'orders', name: 'Orders', schema: ordersSchema });
  // One socket for every request of this file.
  agent = new Agent({ keepAlive: true, maxSockets: 1 });
});

after(async () => {
  agent.destroy();
  await server.close();
});

test('one connection, several secrets: each request is judged on the secret it carries', async () => {
  const writer = await server.createKey({ name: 'writer', environment: 'test' });
  const reader = await server.createKey({ name: 'reader', environment: 'test', scopes: ['orders:read'] });
  const order = { order_id: 'A-1', amount: 5 };

  assert.deepEqual(await call('POST', '/api/v1/data/orders', writer.key, order), {
    status: 202,
    code: undefined,
  });
  const written = await recordCount();

  // The reader's key on the same connection is the reader: no write scope.
  assert.deepEqual(await call('POST', '/api/v1/data/orders', reader.key, order), {
    status: 403,
    code: 'insufficient_scope',
  });
  assert.equal((await call('GET', '/api/v1/data/orders', reader.key)).status, 200);

  // A secret one character off, after the good one on this connection, is refused.
  const flipped = writer.key.slice(0, -1) + (writer.key.endsWith('A') ? 'B' : 'A');
  assert.deepEqual(await call('POST', '/api/v1/data/orders', flipped, order), {
    status: 401,
    code: 'invalid_api_key',
  });
  assert.deepEqual(await call('GET', '/api/v1/data/orders', flipped), {
    status: 401,
    code: 'invalid_api_key',
  });

  // Back to the writer, then revoked between two requests: the next one is refused.
  assert.equal((await call('POST', '/api/v1/data/orders', writer.key, order)).status, 202);
  assert.equal((await server.admin('POST', `/admin/v1/keys/${writer.id}/revoke`)).status, 200);
  assert.deepEqual(await call('POST', '/api/v1/data/orders', writer.key, order), {
    status: 401,
    code: 'api_key_revoked',
  });
  assert.deepEqual(await call('GET', '/api/v1/data/orders', writer.key), {
    status: 401,
    code: 'api_key_revoked',
  });

  // Only the two accepted writes were written, and every request went over one connection.
  assert.equal(await recordCount(), written + 1);
  assert.equal(sockets.size, 1);
});
