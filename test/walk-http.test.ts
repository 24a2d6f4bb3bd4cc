import assert from 'node:assert/strict';
import { connect } from 'node:net';
import { after, before, describe, test } from 'node:test';
import { exchange as exchangeChunks } from './helpers/raw-request.ts';
import { ordersSchema, startTestServer, type TestServer } from './helpers/server.ts';
import { until } from './helpers/until.ts';

/** Writes `data` on a fresh connection and returns every byte answered until the server closes it. */
const exchange = (url: string, data: string) => exchangeChunks(url, [{ data }]);

/** The status lines and JSON bodies of the answers in `text`, in order. */
function answers(text: string): Array<{ status: number; body: Record<string, unknown> }> {
  const found: Array<{ status: number; body: Record<string, unknown> }> = [];
  const pattern = /HTTP\/1\.1 (\d{3})[^\r]*\r\n(?:[^\r]+\r\n)*\r\n/g;
  for (let match = pattern.exec(text); match; match = pattern.exec(text)) {
    const length = /content-length: (\d+)/i.exec(match[0]);
    const start = match.index + match[0].length;
    const body = text.slice(start, start + Number(length?.[1] ?? 0));
    found.push({ status: Number(match[1]), body: body ? JSON.parse(body) : {} });
    pattern.lastIndex = start + body.length;
  }
  return found;
}

describe('odd HTTP clients on the data API', () => {
  let server: TestServer;
  let key: string;

  before(async () => {
    server = await startTestServer('sqlite');
    await server.createEndpoint({ slug: 'orders', name: 'Orders', schema: ordersSchema });
    key = (await server.createKey({ name: 'walk', environment: 'test' })).key;
  });
  after(() => server.close());

  async function stored(orderId: string): Promise<number> {
    const res = await server.request('GET', `/api/v1/data/orders?filter[order_id]=${orderId}`, { key });
    assert.equal(res.status, 200, res.text);
    return (res.body.data as unknown[]).length;
  }

  const post = (body: string, headers: string) =>
    `POST /api/v1/data/orders HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer ${key}\r\n` +
    `Content-Type: application/json\r\n${headers}\r\n${body}`;

  test('a write pipelined before malformed bytes gets its 202, then the 400 for the bytes', async () => {
    const body = JSON.stringify({ order_id: 'PIPE-1', amount: 1 });
    const text = await exchange(
      server.url,
      `${post(body, `Content-Length: ${body.length}\r\n`)}GARBAGE\r\n\r\n`,
    );
    const [write, refusal, ...rest] = answers(text);
    assert.equal(write?.status, 202, text);
    assert.equal(write?.body.message, 'Request queued');
    assert.equal(refusal?.status, 400, text);
    assert.equal(refusal?.body.code, 'invalid_request');
    assert.equal(refusal?.body.error, 'Malformed HTTP request');
    assert.deepEqual(rest, []);
    assert.equal(await stored('PIPE-1'), 1);
  });

  test('two pipelined requests before malformed bytes are both answered, in order', async () => {
    const body = JSON.stringify({ order_id: 'PIPE-2', amount: 2 });
    const read = `GET /api/v1/data/orders?limit=1 HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer ${key}\r\n\r\n`;
    const text = await exchange(
      server.url,
      `${post(body, `Content-Length: ${body.length}\r\n`)}${read}GARBAGE\r\n\r\n`,
    );
    assert.deepEqual(
      answers(text).map((answer) => answer.status),
      [202, 200, 400],
      text,
    );
    assert.equal(await stored('PIPE-2'), 1);
  });

  test('a transfer coding other than chunked is a 415 that names it, and nothing is stored', async () => {
    const body = JSON.stringify({ order_id: 'TE-GZIP', amount: 3 });
    const chunked = `${body.length.toString(16)}\r\n${body}\r\n0\r\n\r\n`;
    const text = await exchange(
      server.url,
      post(chunked, 'Transfer-Encoding: gzip, chunked\r\nConnection: close\r\n'),
    );
    const [refusal] = answers(text);
    assert.equal(refusal?.status, 415, text);
    assert.equal(refusal?.body.code, 'unsupported_media_type');
    assert.equal(refusal?.body.error, 'Transfer-Encoding gzip is not supported: send the body uncompressed');
    assert.deepEqual(refusal?.body.details, [
      { field: 'Transfer-Encoding', error: 'Only chunked is accepted' },
    ]);
    assert.equal(await stored('TE-GZIP'), 0);
    // Chunked alone, in any case, is the framing Node undoes: accepted.
    const plain = await exchange(
      server.url,
      post(chunked, 'Transfer-Encoding: Chunked\r\nConnection: close\r\n'),
    );
    assert.equal(answers(plain)[0]?.status, 202, plain);
  });

  test('CONNECT is answered with the envelope (405 with Allow on a data path), not a silent hang-up', async () => {
    const text = await exchange(
      server.url,
      `CONNECT /api/v1/data/orders HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer ${key}\r\n\r\n`,
    );
    assert.match(text, /^HTTP\/1\.1 405 /, text);
    assert.match(text, /\r\nallow: GET, HEAD, POST\r\n/i);
    const [answer] = answers(text);
    assert.equal(answer?.body.code, 'method_not_allowed');
    assert.equal(
      answer?.body.error,
      'Method CONNECT is not allowed on /api/v1/data/orders; allowed: GET, HEAD, POST',
    );
    const proxy = await exchange(
      server.url,
      'CONNECT example.com:443 HTTP/1.1\r\nHost: example.com:443\r\n\r\n',
    );
    const [notFound] = answers(proxy);
    assert.equal(notFound?.status, 404, proxy);
    assert.equal(notFound?.body.code, 'not_found');
  });

  test('Expect: 100-continue: a request refused before its body is answered without 100 Continue, and closed', async () => {
    const refusals: Array<[string, number, string]> = [
      [
        'Authorization: Bearer gk_test_nope\r\nContent-Type: application/json\r\nContent-Length: 20',
        401,
        'invalid_api_key',
      ],
      [
        `Authorization: Bearer ${key}\r\nContent-Type: application/json\r\nContent-Length: 200000`,
        413,
        'payload_too_large',
      ],
      [
        `Authorization: Bearer ${key}\r\nContent-Type: text/plain\r\nContent-Length: 20`,
        415,
        'unsupported_media_type',
      ],
    ];
    for (const [headers, status, code] of refusals) {
      const text = await exchange(
        server.url,
        `POST /api/v1/data/orders HTTP/1.1\r\nHost: x\r\n${headers}\r\nExpect: 100-continue\r\n\r\n`,
      );
      assert.doesNotMatch(text, /100 Continue/, text);
      const [answer, ...rest] = answers(text);
      assert.equal(answer?.status, status, text);
      assert.equal(answer?.body.code, code);
      assert.match(text, /\r\nConnection: close\r\n/i);
      assert.deepEqual(rest, []);
      assert.doesNotMatch(text, /\[still open\]/);
    }
  });

  test('Expect: 100-continue: an accepted write gets 100 Continue once its body is wanted, then its 202', async () => {
    const body = JSON.stringify({ order_id: 'EXPECT-1', amount: 4 });
    const { hostname, port } = new URL(server.url);
    const socket = connect(Number(port), hostname);
    let text = '';
    socket.on('data', (chunk) => {
      text += chunk.toString();
    });
    socket.write(post('', `Content-Length: ${body.length}\r\nExpect: 100-continue\r\nConnection: close\r\n`));
    await until(
      async () => text,
      (seen) => seen.includes('\r\n\r\n'),
    );
    assert.equal(text, 'HTTP/1.1 100 Continue\r\n\r\n');
    // The body is written without a FIN: Node's server drops an unanswered request on a half-close
    // (httpAllowHalfOpen is false), and `Connection: close` has the server close once it has answered.
    socket.write(body);
    await new Promise((resolve) => socket.once('close', resolve));
    assert.equal(answers(text.slice('HTTP/1.1 100 Continue\r\n\r\n'.length))[0]?.status, 202, text);
    assert.equal(await stored('EXPECT-1'), 1);
  });

  test('an empty charset is refused saying so, not as "charset  is not supported"', async () => {
    for (const type of ['application/json; charset=', 'application/json; charset=""']) {
      const res = await server.request('POST', '/api/v1/data/orders', {
        key,
        raw: JSON.stringify({ order_id: 'EMPTY-CHARSET', amount: 5 }),
        headers: { 'content-type': type },
      });
      assert.equal(res.status, 415, res.text);
      assert.equal(res.body.code, 'unsupported_media_type');
      assert.equal(res.body.error, 'Only UTF-8 JSON is accepted: the charset parameter is empty');
    }
    assert.equal(await stored('EMPTY-CHARSET'), 0);
  });
});
