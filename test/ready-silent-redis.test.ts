import assert from 'node:assert/strict';
import { once } from 'node:events';
import { createServer, type Socket } from 'node:net';
import { test } from 'node:test';
import { startTestServer } from './helpers/server.ts';

/**
 * docs/DEPLOY.md: `/ready` answers 503 when Redis is unreachable or silent for 2 s. A Redis that
 * accepts connections and never answers held a process's first probe for the client's ready
 * check instead: 2.5 s with the defaults, over 12 s with GATEHOUSE_REDIS_TIMEOUT_MS=10000, so a
 * load balancer's probe timed out rather than reading the 503.
 */
test('/ready answers within its 2 s deadline when Redis accepts but never answers', async () => {
  const sockets = new Set<Socket>();
  const silent = createServer((socket) => {
    sockets.add(socket);
    socket.on('error', () => {});
  }).listen(0, '127.0.0.1');
  await once(silent, 'listening');
  const address = silent.address();
  const port = typeof address === 'object' && address ? address.port : 0;
  const server = await startTestServer('sqlite', {
    REDIS_URL: `redis://127.0.0.1:${port}`,
    GATEHOUSE_REDIS_TIMEOUT_MS: '10000',
  });
  try {
    const started = performance.now();
    const ready = await server.request('GET', '/ready');
    const took = performance.now() - started;
    assert.equal(ready.status, 503);
    assert.deepEqual(ready.body, { status: 'not_ready', checks: { database: 'ok', redis: 'unreachable' } });
    assert.ok(took < 4_000, `answered after ${Math.round(took)} ms`);
  } finally {
    await server.close();
    for (const socket of sockets) socket.destroy();
    silent.close();
  }
});
