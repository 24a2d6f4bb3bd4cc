import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { request } from 'node:http';
import { connect } from 'node:net';
import { describe, test } from 'node:test';
import { freePort } from '../bench/lib.ts';
import { databaseKinds } from './helpers/database.ts';

/** Sends `text` as is on a new connection; the answer, whatever it is, once the server closes. */
function raw(url: string, text: string): Promise<string> {
  const { port } = new URL(url);
  return new Promise((resolve, reject) => {
    const socket = connect(Number(port), '127.0.0.1', () => socket.write(text));
    let answer = '';
    socket.on('data', (chunk) => {
      answer += chunk.toString('latin1');
    });
    socket.on('close', () => resolve(answer));
    socket.on('error', reject);
  });
}

import { startTestServer } from './helpers/server.ts';

for (const kind of databaseKinds) {
  describe(`/ready and /metrics (${kind})`, () => {
    test('ready when the database and Redis answer; metrics count requests and the queues', async () => {
      const server = await startTestServer(kind, {
        REDIS_URL: 'redis://127.0.0.1:6379',
        GATEHOUSE_REDIS_PREFIX: `ops-${process.pid}:`,
      });
      try {
        const ready = await server.request('GET', '/ready');
        assert.equal(ready.status, 200);
        assert.deepEqual(ready.body, { status: 'ready', checks: { database: 'ok', redis: 'ok' } });
        await server.createEndpoint({ slug: 'orders', name: 'Orders', schema: { type: 'object' } });
        const key = (await server.createKey({ name: 'k', environment: 'test' })).key;
        // A write someone is told of (a callback): it waits in the outbox, as there is no worker.
        await server.request('POST', '/api/v1/data/orders', {
          key,
          json: {},
          headers: { 'x-webhook-callback': 'https://hooks.example.com/orders' },
        });
        await server.request('GET', '/api/v1/data/orders/rec_0000000000000000000000', { key });
        // Answers no route matched: a scanner's unknown path, a method the path does not take.
        assert.equal((await server.request('GET', '/no-such-path')).status, 404);
        assert.equal((await server.request('PATCH', '/api/v1/data/orders', { key, json: {} })).status, 405);
        // And answers given before any route: a request without Host, headers over 16 KiB.
        assert.match(await raw(server.url, 'GET /health HTTP/1.1\r\n\r\n'), /^HTTP\/1\.1 400 /);
        assert.match(
          await raw(server.url, `GET /health HTTP/1.1\r\nHost: x\r\nX-Big: ${'a'.repeat(20_000)}\r\n\r\n`),
          /^HTTP\/1\.1 431 /,
        );
        const metrics = await fetch(`${server.url}/metrics`);
        const text = await metrics.text();
        assert.equal(metrics.status, 200);
        assert.match(
          text,
          /gatehouse_http_requests_total\{method="POST",route="\/api\/v1\/data\/:slug",status="202"\} 1/,
        );
        assert.match(
          text,
          /gatehouse_http_requests_total\{method="GET",route="\/api\/v1\/data\/:slug\/:id",status="404"\} 1/,
        );
        assert.match(
          text,
          /^gatehouse_http_requests_total\{method="GET",route="\(unmatched\)",status="404"\} 1$/m,
        );
        assert.match(
          text,
          /^gatehouse_http_requests_total\{method="PATCH",route="\(unmatched\)",status="405"\} 1$/m,
        );
        assert.match(
          text,
          /^gatehouse_http_requests_total\{method="GET",route="\(unmatched\)",status="400"\} 1$/m,
          'the request without Host',
        );
        assert.match(
          text,
          /^gatehouse_http_requests_total\{method="UNKNOWN",route="\(unmatched\)",status="431"\} 1$/m,
          "the headers Node's parser refused",
        );
        // The readiness probe's answers too (DEPLOY.md: answers by route): its 503s are the alert.
        assert.match(text, /^gatehouse_http_requests_total\{method="GET",route="\/ready",status="200"\} 1$/m);
        assert.match(text, /gatehouse_outbox_queued 1/);
        // No subscription, no delivery: every status still reads 0, so a backlog graph or alert
        // sees 0 rather than a series that is missing until the first delivery.
        for (const status of ['pending', 'succeeded', 'failed', 'cancelled']) {
          assert.match(text, new RegExp(`^gatehouse_webhook_deliveries\\{status="${status}"\\} 0$`, 'm'));
        }
        // The duration histogram of that series: cumulative buckets ending in +Inf = count = 1.
        const series = 'method="POST",route="/api/v1/data/:slug",status="202"';
        const buckets = text
          .split('\n')
          .filter(
            (l) => l.startsWith('gatehouse_http_request_duration_seconds_bucket{') && l.includes(series),
          )
          .map((l) => Number(l.split(' ').pop()));
        assert.equal(buckets.length, 12, 'eleven bounds and +Inf');
        for (let i = 1; i < buckets.length; i++)
          assert.ok((buckets[i] as number) >= (buckets[i - 1] as number));
        assert.equal(buckets.at(-1), 1);
        assert.match(
          text,
          new RegExp(
            `gatehouse_http_request_duration_seconds_bucket\\{le="\\+Inf",${series.replace(/[/]/g, '\\/')}\\} 1`,
          ),
        );
        assert.match(
          text,
          new RegExp(`gatehouse_http_request_duration_seconds_count\\{${series.replace(/[/]/g, '\\/')}\\} 1`),
        );
        const sum = text
          .split('\n')
          .find((l) => l.startsWith('gatehouse_http_request_duration_seconds_sum{') && l.includes(series));
        assert.ok(sum && Number(sum.split(' ').pop()) > 0);
        assert.match(text, /# TYPE gatehouse_http_request_duration_seconds histogram/);
        assert.match(text, /# TYPE gatehouse_http_requests_total counter/);
        // Each HELP says what its figures are: the histogram's are durations, not requests.
        assert.match(
          text,
          /^# HELP gatehouse_http_request_duration_seconds HTTP request durations in seconds, by route, method and status$/m,
        );
        assert.match(
          text,
          /^# HELP gatehouse_http_requests_total HTTP requests answered, by route, method and status$/m,
        );
      } finally {
        await server.close();
      }
    });

    test('not ready (503) when Redis is unreachable; /health stays ok', async () => {
      const port = await freePort();
      const server = await startTestServer(kind, { REDIS_URL: `redis://127.0.0.1:${port}` });
      try {
        const ready = await server.request('GET', '/ready');
        assert.equal(ready.status, 503);
        assert.equal(ready.body.checks.redis, 'unreachable');
        assert.equal(ready.body.checks.database, 'ok');
        assert.equal((await server.request('GET', '/health')).status, 200);
        const metrics = await (await fetch(`${server.url}/metrics`)).text();
        assert.match(
          metrics,
          /^gatehouse_http_requests_total\{method="GET",route="\/ready",status="503"\} 1$/m,
        );
      } finally {
        await server.close();
      }
    });

    test('not ready (503) within seconds when Redis accepts connections but never answers', async () => {
      const port = await freePort();
      const redis = spawn(
        'redis-server',
        ['--port', String(port), '--bind', '127.0.0.1', '--save', '', '--appendonly', 'no'],
        {
          stdio: 'ignore',
        },
      );
      try {
        const server = await startTestServer(kind, { REDIS_URL: `redis://127.0.0.1:${port}` });
        try {
          let ready = await server.request('GET', '/ready');
          for (let i = 0; i < 50 && ready.status !== 200; i++) {
            await new Promise((r) => setTimeout(r, 100));
            ready = await server.request('GET', '/ready');
          }
          assert.equal(ready.status, 200, ready.text);
          redis.kill('SIGSTOP');
          const frozen = await Promise.race([
            server.request('GET', '/ready'),
            new Promise<never>((_, reject) => setTimeout(() => reject(new Error('/ready hung')), 10_000)),
          ]);
          assert.equal(frozen.status, 503);
          assert.equal(frozen.body.checks.redis, 'unreachable');
          redis.kill('SIGCONT');
        } finally {
          redis.kill('SIGCONT');
          await server.close();
        }
      } finally {
        redis.kill('SIGKILL');
      }
    });
  });
}

describe('/metrics behind GATEHOUSE_METRICS_TOKEN', () => {
  test('without the token, or with another, 401 in the envelope; with it, the figures', async () => {
    const token = 'scraper-token-0123456789';
    const server = await startTestServer('sqlite', { GATEHOUSE_METRICS_TOKEN: token });
    try {
      for (const authorization of [undefined, 'Bearer wrong', `Bearer ${token}x`, token]) {
        const res = await fetch(`${server.url}/metrics`, {
          headers: authorization ? { authorization } : {},
        });
        assert.equal(res.status, 401, String(authorization));
        const body = (await res.json()) as { code: string; error: string };
        assert.equal(body.code, 'unauthorized');
        assert.match(body.error, /GATEHOUSE_METRICS_TOKEN/);
      }
      // The token sent twice (or beside another Authorization) is refused, as on the other APIs.
      const { port } = new URL(server.url);
      for (const lines of [
        [`Bearer ${token}`, 'Bearer wrong'],
        [`Bearer ${token}`, `Bearer ${token}`],
      ]) {
        const status = await new Promise<number>((resolve, reject) => {
          request(
            {
              host: '127.0.0.1',
              port,
              path: '/metrics',
              headers: ['host', `127.0.0.1:${port}`, ...lines.flatMap((line) => ['authorization', line])],
            },
            (res) => {
              res.resume();
              resolve(res.statusCode ?? 0);
            },
          )
            .on('error', reject)
            .end();
        });
        assert.equal(status, 401, lines.join(' | '));
      }
      // The scheme is case-insensitive, as for API keys (RFC 9110).
      for (const scheme of ['Bearer', 'bearer', 'BEARER']) {
        const ok = await fetch(`${server.url}/metrics`, { headers: { authorization: `${scheme} ${token}` } });
        assert.equal(ok.status, 200, scheme);
        assert.match(await ok.text(), /gatehouse_outbox_queued/);
      }
    } finally {
      await server.close();
    }
  });
});

describe('a server shutting down', () => {
  test('a request under way is answered with Connection: close; one that reaches it while it closes gets the 503 envelope with a Request-Id and Retry-After', async () => {
    const server = await startTestServer('sqlite');
    try {
      await server.createEndpoint({ slug: 'orders', name: 'Orders', schema: { type: 'object' } });
      const key = (await server.createKey({ name: 'k', environment: 'test' })).key;
      const { port } = new URL(server.url);
      const open = async () => {
        const socket = connect(Number(port), '127.0.0.1');
        await once(socket, 'connect');
        let received = '';
        socket.on('data', (chunk: Buffer) => {
          received += chunk.toString();
        });
        const ended = once(socket, 'close');
        return { socket, ended, received: () => received };
      };
      // A create whose body is still coming when the server starts to close (taken: it is served)...
      const body = '{"n":1}';
      const underWay = await open();
      underWay.socket.write(
        `POST /api/v1/data/orders HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer ${key}\r\n` +
          `Content-Type: application/json\r\nContent-Length: ${body.length}\r\n\r\n{"n"`,
      );
      // ...and a request whose headers are still coming (not taken yet: refused once they are in).
      const late = await open();
      late.socket.write('GET /api/v1/data/orders HTTP/1.1\r\nHost: x\r\n');
      await new Promise((resolve) => setTimeout(resolve, 100));
      const closing = server.app.close();
      await new Promise((resolve) => setTimeout(resolve, 100));
      underWay.socket.write(':1}');
      late.socket.write(`Authorization: Bearer ${key}\r\n\r\n`);
      await Promise.all([underWay.ended, late.ended]);
      await closing;
      const served = underWay.received();
      assert.match(served, /^HTTP\/1\.1 202 /, `the create under way is served: ${served}`);
      assert.match(served, /\r\nconnection: close\r\n/i, `its answer closes the connection: ${served}`);
      assert.equal(served.split(/(?=HTTP\/1\.1 )/).length, 1, `one answer: ${served}`);
      const refused = late.received();
      assert.match(refused, /^HTTP\/1\.1 503 /, `the late request is refused: ${refused}`);
      assert.match(refused, /\r\nrequest-id: req_\w+\r\n/i, 'with its Request-Id');
      assert.match(refused, /\r\nretry-after: 1\r\n/i, 'with Retry-After');
      assert.match(refused, /\r\nconnection: close\r\n/i, 'closing its connection');
      const envelope = JSON.parse(refused.slice(refused.indexOf('\r\n\r\n') + 4));
      assert.equal(envelope.success, false, 'the envelope');
      assert.equal(envelope.code, 'service_unavailable', 'its code');
      assert.match(envelope.error, /shutting down/, 'its message');
      assert.match(envelope.request_id, /^req_/, 'its request id');
    } finally {
      await server.close();
    }
  });
});
