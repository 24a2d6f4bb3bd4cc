import assert from 'node:assert/strict';
import { connect } from 'node:net';
import { after, before, describe, test } from 'node:test';
import { startTestServer, type TestServer } from './helpers/server.ts';

/** Raw socket exchange: what the server answers (or whether it hangs up) for a hostile client. */
function exchange(
  url: string,
  chunks: Array<{ data: string; delayMs?: number }>,
  waitMs = 5_000,
): Promise<string> {
  const { hostname, port } = new URL(url);
  return new Promise((resolve) => {
    const socket = connect(Number(port), hostname);
    let received = '';
    const timer = setTimeout(() => {
      socket.destroy();
      resolve(`${received}[still open]`);
    }, waitMs);
    socket.on('data', (d) => {
      received += d.toString();
    });
    socket.on('close', () => {
      clearTimeout(timer);
      resolve(received);
    });
    socket.on('error', () => {});
    (async () => {
      for (const chunk of chunks) {
        if (chunk.delayMs) await new Promise((r) => setTimeout(r, chunk.delayMs));
        if (socket.destroyed) return;
        socket.write(chunk.data);
      }
    })();
  });
}

describe('HTTP-level limits: slow clients, oversized and numerous headers', () => {
  let server: TestServer;

  before(async () => {
    server = await startTestServer('sqlite', {
      GATEHOUSE_HEADERS_TIMEOUT_MS: '300',
      GATEHOUSE_REQUEST_TIMEOUT_MS: '600',
    });
  });
  after(() => server.close());

  test('a client that drips its headers is cut off', async () => {
    const drip = Array.from({ length: 20 }, (_, i) => ({
      data: i === 0 ? 'GET /health HTTP/1.1\r\n' : `X-Slow-${i}: 1\r\n`,
      delayMs: 100,
    }));
    const answer = await exchange(server.url, drip, 4_000);
    assert.doesNotMatch(answer, /\[still open\]/);
    assert.doesNotMatch(answer, /200 OK/);
  });

  test('a client that drips its body is cut off', async () => {
    const head =
      'POST /api/v1/data/x HTTP/1.1\r\nHost: a\r\nContent-Type: application/json\r\nContent-Length: 100\r\n\r\n';
    const drip = [{ data: head }, ...Array.from({ length: 30 }, () => ({ data: ' ', delayMs: 100 }))];
    const answer = await exchange(server.url, drip, 5_000);
    assert.doesNotMatch(answer, /\[still open\]/);
  });

  test('oversized headers get 431, and the server keeps serving', async () => {
    const res = await fetch(`${server.url}/health`, { headers: { 'x-big': 'a'.repeat(64 * 1024) } }).catch(
      (e: Error) => e,
    );
    if (res instanceof Response) assert.equal(res.status, 431);
    assert.equal((await fetch(`${server.url}/health`)).status, 200);
  });

  test('thousands of headers are refused without harm', async () => {
    const lines = Array.from({ length: 10_000 }, (_, i) => `X-H${i}: ${i}`).join('\r\n');
    const answer = await exchange(
      server.url,
      [{ data: `GET /health HTTP/1.1\r\nHost: a\r\n${lines}\r\n\r\n` }],
      4_000,
    );
    assert.doesNotMatch(answer, /HTTP\/1\.1 5\d\d/);
    assert.equal((await fetch(`${server.url}/health`)).status, 200);
  });
});
