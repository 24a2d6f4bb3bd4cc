import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { exchange } from './helpers/raw-request.ts';
import { startTestServer, type TestServer } from './helpers/server.ts';

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

  /** The status, headers and parsed body of a raw answer. */
  function parsed(answer: string): {
    status: number;
    headers: Record<string, string>;
    body: Record<string, unknown>;
  } {
    const [head = '', body = ''] = answer.split('\r\n\r\n');
    const [statusLine = '', ...lines] = head.split('\r\n');
    const headers = Object.fromEntries(
      lines.map((line) => [
        line.slice(0, line.indexOf(':')).toLowerCase(),
        line.slice(line.indexOf(':') + 1).trim(),
      ]),
    );
    return { status: Number(statusLine.split(' ')[1]), headers, body: JSON.parse(body) };
  }

  function assertEnvelope(answer: string, status: number, code: string): void {
    const { status: got, headers, body } = parsed(answer);
    assert.equal(got, status, answer);
    assert.equal(body.success, false);
    assert.equal(body.code, code);
    assert.ok(Array.isArray(body.details));
    assert.match(String(body.request_id), /^req_/);
    assert.equal(headers['request-id'], body.request_id);
    assert.equal(headers.connection, 'close');
    assert.match(headers['content-type'] ?? '', /^application\/json/);
  }

  test('requests Node cannot parse get the error envelope and a Request-Id, and the server keeps serving', async () => {
    const bad = [
      'FOO /api/v1/data/orders HTTP/1.1\r\nHost: a\r\n\r\n', // unknown method
      'POST /api/v1/data/orders HTTP/1.1\r\nHost: a\r\nContent-Length: abc\r\n\r\n',
      'GET /health HTTP/1.1\r\nHost: a\r\nBad Header: x\r\n\r\n', // space in a header name
    ];
    for (const request of bad) {
      const answer = await exchange(server.url, [{ data: request }]);
      assertEnvelope(answer, 400, 'invalid_request');
      assert.equal(parsed(answer).body.error, 'Malformed HTTP request');
    }
    const big = await exchange(server.url, [
      { data: `GET /health HTTP/1.1\r\nHost: a\r\nX-Big: ${'a'.repeat(20 * 1024)}\r\n\r\n` },
    ]);
    assertEnvelope(big, 431, 'headers_too_large');
    // A body that never finishes: 408. Its endpoint does not exist, and the 404 for that is sent
    // only once the body is in, so the 408 is the one answer.
    const drip = (head: string) =>
      exchange(server.url, [
        { data: head },
        ...Array.from({ length: 30 }, () => ({ data: ' ', delayMs: 100 })),
      ]);
    const slow = await drip(
      'POST /nothing HTTP/1.1\r\nHost: a\r\nContent-Type: application/json\r\nContent-Length: 100\r\n\r\n',
    );
    assertEnvelope(slow, 408, 'request_timeout');
    // Answered (401) before its body was in: that answer stays the only one; the connection is closed.
    const answered = await drip(
      'POST /api/v1/data/x HTTP/1.1\r\nHost: a\r\nContent-Type: application/json\r\nContent-Length: 100\r\n\r\n',
    );
    assert.equal(answered.match(/HTTP\/1\.1 /g)?.length, 1, answered);
    assert.match(answered, /^HTTP\/1\.1 401 /);
    assert.doesNotMatch(answered, /\[still open\]/);
    assert.equal((await fetch(`${server.url}/health`)).status, 200);
  });

  test('a request without Host or with two, or with an Expect other than 100-continue, gets the envelope too; nothing is written', async () => {
    const key = (await server.createKey({ name: 'h', environment: 'test', scopes: ['*'] })).key;
    await server.createEndpoint({ slug: 'hosts', name: 'Hosts', schema: { type: 'object' } });
    const body = '{"a":1}';
    const post = (headers: string) =>
      `POST /api/v1/data/hosts HTTP/1.1\r\n${headers}Authorization: Bearer ${key}\r\n` +
      `Content-Type: application/json\r\nContent-Length: ${body.length}\r\n\r\n${body}`;
    const noHost = await exchange(server.url, [{ data: post('') }]);
    assertEnvelope(noHost, 400, 'invalid_request');
    assert.deepEqual(parsed(noHost).body.details, [
      { field: 'Host', error: 'An HTTP/1.1 request needs a Host header' },
    ]);
    // Two Host lines (RFC 9112 3.2: 400): a proxy in front may have routed by the other one.
    const twoHosts = await exchange(server.url, [{ data: post('Host: a\r\nhost: b\r\n') }]);
    assertEnvelope(twoHosts, 400, 'invalid_request');
    assert.deepEqual(parsed(twoHosts).body.details, [{ field: 'Host', error: 'Send the Host header once' }]);
    const expect = await exchange(server.url, [{ data: post('Host: a\r\nExpect: foo\r\n') }]);
    assertEnvelope(expect, 417, 'expectation_failed');
    // HTTP/1.0 needs no Host; 100-continue is honoured as before.
    const old = await exchange(server.url, [{ data: 'GET /health HTTP/1.0\r\n\r\n' }]);
    assert.match(old, /^HTTP\/1\.1 200 /);
    const list = await server.request('GET', '/api/v1/data/hosts', { key });
    assert.deepEqual(list.body.data, [], 'nothing was written');
    const continued = await exchange(server.url, [
      { data: post('Host: a\r\nExpect: 100-continue\r\nConnection: close\r\n') },
    ]);
    assert.match(continued, /^HTTP\/1\.1 100 Continue\r\n\r\nHTTP\/1\.1 202 /);
  });

  test('a path that exists with other methods is a 405 with Allow; an unknown path a 404', async () => {
    const cases: Array<[string, string, string]> = [
      ['PATCH', '/api/v1/data/orders/rec_0000000000000000000000', 'DELETE, GET, HEAD, PUT'],
      ['POST', '/api/v1/data/orders/rec_0000000000000000000000', 'DELETE, GET, HEAD, PUT'],
      ['PUT', '/api/v1/data/orders', 'GET, HEAD, POST'],
      ['DELETE', '/api/v1/data/orders/', 'GET, HEAD, POST'],
    ];
    for (const [method, path, allow] of cases) {
      const res = await server.request(method, path);
      assert.equal(res.status, 405, `${method} ${path}: ${res.text}`);
      assert.equal(res.body.code, 'method_not_allowed');
      assert.equal(res.headers.get('allow'), allow);
      assert.equal(res.headers.get('request-id'), res.body.request_id);
    }
    const unknown = await server.request('GET', '/api/v1/nothing/here');
    assert.equal(unknown.status, 404);
    assert.equal(unknown.body.code, 'not_found');
    assert.equal(unknown.headers.get('allow'), null);
  });
});
