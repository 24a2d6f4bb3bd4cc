import assert from 'node:assert/strict';
import { once } from 'node:events';
import { connect, type Socket } from 'node:net';
import { describe, test } from 'node:test';
import { countRows, startTestServer, type TestServer } from './helpers/server.ts';
import { until } from './helpers/until.ts';

/** The `gatehouse_http_requests_total` lines of /metrics, without the management API's and its own. */
async function requestCounts(server: TestServer): Promise<string[]> {
  const text = await (await fetch(`${server.url}/metrics`)).text();
  return text
    .split('\n')
    .filter(
      (line) =>
        line.startsWith('gatehouse_http_requests_total{') &&
        !line.includes('/admin/') &&
        !line.includes('route="/metrics"'),
    );
}

/** A connection that sent a POST's head and the start of its body, never the rest. */
async function halfPost(server: TestServer, key: string): Promise<Socket> {
  const socket = connect(Number(new URL(server.url).port), '127.0.0.1');
  await once(socket, 'connect');
  socket.write(
    `POST /api/v1/data/orders HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer ${key}\r\n` +
      'Content-Type: application/json\r\nContent-Length: 100\r\n\r\n{"a":',
  );
  return socket;
}

/** A POST whose client hangs up in the middle of its body. */
async function abandonPost(server: TestServer, key: string): Promise<void> {
  const socket = await halfPost(server, key);
  await new Promise((resolve) => setTimeout(resolve, 50));
  socket.destroy();
  await once(socket, 'close');
}

/**
 * A POST refused before its body was read (a 401, a 429), whose client hangs up once the answer
 * came, the rest of its body unsent: the answer's status line.
 */
async function refusedThenHangUp(server: TestServer, key: string): Promise<string> {
  const socket = await halfPost(server, key);
  let answer = '';
  socket.on('data', (chunk: Buffer) => {
    answer += chunk.toString();
  });
  const closed = once(socket, 'close');
  while (!answer.includes('\r\n\r\n')) await once(socket, 'data');
  socket.end();
  await closed;
  return answer.slice(0, answer.indexOf('\r\n'));
}

/**
 * A server with an endpoint, a key and one record, whose record reads start (`reading`) but
 * answer only once `release` is called.
 */
async function serverHoldingReads(fastPath: boolean, env: Record<string, string> = {}) {
  const server = await startTestServer('sqlite', {
    ...env,
    ...(fastPath ? {} : { GATEHOUSE_FAST_PATH: 'false' }),
  });
  await server.createEndpoint({ slug: 'orders', name: 'Orders', schema: { type: 'object' } });
  const key = await server.createKey({ name: 'reader', environment: 'test' });
  const created = await server.request('POST', '/api/v1/data/orders', { key: key.key, json: {} });
  assert.equal(created.status, 202);
  const reader = server.services.reader;
  const read = reader.get.bind(reader);
  let started = () => {};
  const reading = new Promise<void>((resolve) => {
    started = resolve;
  });
  let release = () => {};
  const held = new Promise<void>((resolve) => {
    release = resolve;
  });
  reader.get = (...args: Parameters<typeof read>) => {
    started();
    return held.then(() => read(...args));
  };
  return { server, key, recordId: created.body.id as string, reading, release };
}

describe('usage walk: /metrics counts a request its client abandoned once, as usage does', () => {
  for (const fastPath of [true, false])
    test(`POSTs cut short mid-body are one 499 each under their route, ${fastPath ? 'on the fast path' : "on Fastify's path"}`, async () => {
      const server = await startTestServer('sqlite', {
        GATEHOUSE_USAGE_FLUSH_MS: '100',
        ...(fastPath ? {} : { GATEHOUSE_FAST_PATH: 'false' }),
      });
      try {
        await server.createEndpoint({ slug: 'orders', name: 'Orders', schema: { type: 'object' } });
        const key = await server.createKey({ name: 'leaver', environment: 'test' });
        // Caches the key, so that the fast path (when on) takes the next requests.
        assert.equal(
          (await server.request('POST', '/api/v1/data/orders', { key: key.key, json: {} })).status,
          202,
        );
        for (let i = 0; i < 3; i++) await abandonPost(server, key.key);
        const usage = await until(
          () => server.admin('GET', `/admin/v1/usage?key_id=${key.id}&status=499&group_by=status`),
          (res) => res.body?.data?.totals?.count === 3,
        );
        assert.equal(usage.body.data.totals.count, 3);
        // Usage is written after the answer (or the abort): by now the metrics have it too.
        assert.deepEqual(await requestCounts(server), [
          'gatehouse_http_requests_total{method="POST",route="/api/v1/data/:slug",status="202"} 1',
          'gatehouse_http_requests_total{method="POST",route="/api/v1/data/:slug",status="499"} 3',
        ]);
      } finally {
        await server.close();
      }
    });
});

/**
 * Node's parser reports the body cut short after the refusal went out: it was counted again, as
 * an unmatched 400 ('Malformed HTTP', with a debug line) written to a client already gone.
 */
describe('usage walk: a client that hangs up after a refusal, its body unsent, is counted once, as answered', () => {
  const route = 'gatehouse_http_requests_total{method="POST",route="/api/v1/data/:slug",status=';

  test("a bad key's 401", async () => {
    const server = await startTestServer('sqlite');
    try {
      await server.createEndpoint({ slug: 'orders', name: 'Orders', schema: { type: 'object' } });
      for (let i = 0; i < 3; i++)
        assert.equal(await refusedThenHangUp(server, 'gk_test_not_a_key'), 'HTTP/1.1 401 Unauthorized');
      assert.deepEqual(await requestCounts(server), [`${route}"401"} 3`], 'no unmatched 400');
    } finally {
      await server.close();
    }
  });

  for (const fastPath of [true, false])
    test(`a 429 over the key's limit, in usage too, ${fastPath ? 'on the fast path' : "on Fastify's path"}`, async () => {
      const server = await startTestServer('sqlite', fastPath ? {} : { GATEHOUSE_FAST_PATH: 'false' });
      try {
        await server.createEndpoint({ slug: 'orders', name: 'Orders', schema: { type: 'object' } });
        const key = await server.createKey({ name: 'limited', environment: 'test', limits: { per_day: 1 } });
        // Spends the day's one request, and caches the key for the fast path (when on).
        const first = await server.request('POST', '/api/v1/data/orders', { key: key.key, json: { a: 1 } });
        assert.equal(first.status, 202, first.text);
        for (let i = 0; i < 3; i++)
          assert.equal(await refusedThenHangUp(server, key.key), 'HTTP/1.1 429 Too Many Requests');
        assert.deepEqual(
          await requestCounts(server),
          [`${route}"202"} 1`, `${route}"429"} 3`],
          'no unmatched 400',
        );
        await server.services.traffic.usage.flush();
        const usage = await server.admin('GET', `/admin/v1/usage?key_id=${key.id}&group_by=status`);
        const byStatus = Object.fromEntries(
          usage.body.data.rows.map((r: { status: number; count: number }) => [r.status, r.count]),
        );
        assert.deepEqual(byStatus, { 202: 1, 429: 3 }, JSON.stringify(usage.body.data.rows));
        assert.equal(await countRows(server, 'records'), 1, 'only the first was written');
      } finally {
        await server.close();
      }
    });
});

describe('usage walk: a management call abandoned mid-body is one 499 in /metrics, and nothing was made', () => {
  test('POST /admin/v1/endpoints cut short', async () => {
    const server = await startTestServer('sqlite');
    try {
      const socket = connect(Number(new URL(server.url).port), '127.0.0.1');
      await once(socket, 'connect');
      socket.write(
        `POST /admin/v1/endpoints HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer ${server.token}\r\n` +
          'Content-Type: application/json\r\nContent-Length: 100\r\n\r\n{"slug":"orders",',
      );
      await new Promise((resolve) => setTimeout(resolve, 50));
      socket.destroy();
      await once(socket, 'close');
      const line = 'gatehouse_http_requests_total{method="POST",route="/admin/v1/endpoints",status="499"} 1';
      const text = await until(
        async () => (await fetch(`${server.url}/metrics`)).text(),
        (body) => body.includes(line),
      );
      assert.deepEqual(
        text
          .split('\n')
          .filter(
            (l) => l.startsWith('gatehouse_http_requests_total{') && l.includes('"/admin/v1/endpoints"'),
          ),
        [line],
      );
      const listed = await server.admin('GET', '/admin/v1/endpoints');
      assert.deepEqual(listed.body.data, []);
    } finally {
      await server.close();
    }
  });
});

describe('usage walk: a GET whose client left while its record was read is one 499 in /metrics', () => {
  for (const fastPath of [true, false])
    test(`${fastPath ? 'on the fast path' : "on Fastify's path"}`, async () => {
      const { server, key, recordId, reading, release } = await serverHoldingReads(fastPath, {
        GATEHOUSE_USAGE_FLUSH_MS: '100',
      });
      try {
        const socket = connect(Number(new URL(server.url).port), '127.0.0.1');
        await once(socket, 'connect');
        socket.write(
          `GET /api/v1/data/orders/${recordId} HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer ${key.key}\r\n\r\n`,
        );
        await reading;
        socket.destroy();
        await once(socket, 'close');
        await until(
          () => server.admin('GET', `/admin/v1/usage?key_id=${key.id}&status=499&group_by=status`),
          (res) => res.body?.data?.totals?.count === 1,
        );
        release();
        // The read's late answer (to nobody) is not counted a second time.
        await until(
          () => server.admin('GET', `/admin/v1/usage?key_id=${key.id}&group_by=status`),
          (res) => res.body?.data?.totals?.count === 2,
        );
        await new Promise((resolve) => setTimeout(resolve, 100));
        assert.deepEqual(await requestCounts(server), [
          'gatehouse_http_requests_total{method="POST",route="/api/v1/data/:slug",status="202"} 1',
          'gatehouse_http_requests_total{method="GET",route="/api/v1/data/:slug/:id",status="499"} 1',
        ]);
      } finally {
        await server.close();
      }
    });
});

describe('usage walk: /metrics counts the URLs the router refuses, as unmatched', () => {
  test('a path with bad percent-encoding (400) or an overlong segment (404) is one (unmatched) answer each', async () => {
    const server = await startTestServer('sqlite');
    try {
      const bad = await server.request('GET', '/api/v1/data/orders/%ff');
      assert.equal(bad.status, 400);
      assert.equal(bad.body.error, 'The URL is not valid: a percent-encoded sequence in it is not UTF-8');
      const long = await server.request('GET', `/api/v1/data/${'a'.repeat(201)}`);
      assert.equal(long.status, 404);
      const unknown = await server.request('GET', '/no/such/route');
      assert.equal(unknown.status, 404);
      assert.deepEqual(await requestCounts(server), [
        'gatehouse_http_requests_total{method="GET",route="(unmatched)",status="400"} 1',
        'gatehouse_http_requests_total{method="GET",route="(unmatched)",status="404"} 2',
      ]);
    } finally {
      await server.close();
    }
  });
});

describe('usage walk: a request that straddles UTC midnight counts in the day the limiter charged it to', () => {
  for (const fastPath of [true, false])
    test(`a GET started at 23:59:59.9 and answered after midnight is the old day's, ${fastPath ? 'on the fast path' : "on Fastify's path"}`, async () => {
      const { server, key, recordId, reading, release } = await serverHoldingReads(fastPath);
      const realNow = Date.now;
      const midnight = Date.UTC(2031, 0, 1);
      try {
        // The clock of this process (the server's): the GET is charged on 31 December…
        Date.now = () => midnight - 100;
        const answer = server.request('GET', `/api/v1/data/orders/${recordId}`, { key: key.key });
        await reading;
        // …and answered on 1 January.
        Date.now = () => midnight + 100;
        release();
        const res = await answer;
        assert.equal(res.status, 200);
        const usage = await server.admin(
          'GET',
          `/admin/v1/usage?key_id=${key.id}&from=2030-12-31&to=2031-01-01&status=200&group_by=day`,
        );
        assert.deepEqual(usage.body.data.rows, [{ day: '2030-12-31', count: 1, rate_limited: 0 }]);
      } finally {
        Date.now = realNow;
        await server.close();
      }
    });
});

describe('usage walk: GET /admin/v1/usage says what is wrong with a parameter', () => {
  test('one sent twice is "May be given only once", one too long says its length', async () => {
    const server = await startTestServer('sqlite');
    try {
      const cases: Array<[string, string, string]> = [
        ['key_id=key_a&key_id=key_b', 'key_id', 'May be given only once'],
        ['from=2026-11-01&from=2026-11-02', 'from', 'May be given only once'],
        ['group_by=day&group_by=status', 'group_by', 'May be given only once'],
        [`endpoint=${'e'.repeat(201)}`, 'endpoint', 'Must be at most 200 characters'],
      ];
      for (const [query, field, error] of cases) {
        const res = await server.admin('GET', `/admin/v1/usage?${query}`);
        assert.equal(res.status, 400, query);
        assert.equal(res.body.code, 'invalid_request', query);
        assert.deepEqual(res.body.details, [{ field, error }], query);
      }
    } finally {
      await server.close();
    }
  });
});
