import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { type LoggedServer, startLoggedServer } from './helpers/logged-server.ts';
import { exchange } from './helpers/raw-request.ts';

/**
 * At LOG_LEVEL=debug every answer is logged once with the Request-Id a client quotes (DEPLOY.md),
 * the refusals given before Fastify's hooks too: a malformed request, a URL the router cannot
 * decode, a request without Host, an unknown Expect.
 */
describe('the debug request log (SQLite)', () => {
  let server: LoggedServer;
  let url: string;

  before(async () => {
    server = await startLoggedServer('sqlite', 'debug');
    url = server.url;
  });

  after(() => server?.close());

  const answered = (requestId: string) =>
    server.lines.filter((line) => line.msg === 'request answered' && line.request_id === requestId);

  const cases: Array<{ what: string; raw: string; status: number; path: string }> = [
    {
      what: 'a normal answer',
      raw: 'GET /health?token=t HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n',
      status: 200,
      path: '/health',
    },
    {
      what: 'a URL that is not UTF-8',
      raw: 'GET /nope%ZZ?token=t HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n',
      status: 400,
      path: '/nope%ZZ',
    },
    { what: 'a request without Host', raw: 'GET /health HTTP/1.1\r\n\r\n', status: 400, path: '/health' },
    {
      what: 'an unknown Expect',
      raw: 'GET /health HTTP/1.1\r\nHost: x\r\nExpect: tea\r\n\r\n',
      status: 417,
      path: '/health',
    },
    {
      what: 'a malformed request',
      raw: 'BREW /health HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n',
      status: 400,
      path: '',
    },
  ];
  for (const { what, raw, status, path } of cases) {
    test(`${what}: one line with its Request-Id, status and path (no query)`, async () => {
      const text = await exchange(url, [{ data: raw }], 2_000);
      const requestId = /^request-id: (req_\w+)\r$/im.exec(text)?.[1];
      assert.ok(requestId, `a Request-Id in ${JSON.stringify(text.slice(0, 200))}`);
      assert.match(text, new RegExp(`^HTTP/1.1 ${status} `));
      const logged = answered(requestId);
      assert.equal(logged.length, 1, `one line for ${requestId}: ${JSON.stringify(logged)}`);
      assert.equal(logged[0]?.status, status);
      assert.equal(logged[0]?.path, path);
    });
  }
});
