import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { ApiError } from '../src/errors.ts';
import { parseUsageQuery } from '../src/usage/usage-query.ts';
import { managementCli } from './helpers/process.ts';
import { ordersSchema, startTestServer, type TestServer } from './helpers/server.ts';

const order = { order_id: 'ORD-1', amount: 100 };

describe('limits walk: what an owner and a partner read', () => {
  let server: TestServer;

  before(async () => {
    server = await startTestServer('sqlite');
    await server.createEndpoint({ slug: 'orders', name: 'Orders', schema: ordersSchema });
  });
  after(() => server.close());

  test('gatehouse usage: a total of one request reads "1 request", not "1 requests"', async () => {
    const { id, key } = await server.createKey({ name: 'one', environment: 'test' });
    const res = await server.request('POST', '/api/v1/data/orders', { key, json: order });
    assert.equal(res.status, 202, res.text);
    const cli = managementCli(server);
    const one = await cli('usage', '--key', id, '--group-by', 'key_id');
    assert.equal(one.code, 0, one.stderr);
    assert.match(one.stdout, /\nTotal: 1 request, 0 refused by limits\n$/);
    const none = await cli('usage', '--key', 'key_nobody');
    assert.equal(none.code, 0, none.stderr);
    assert.equal(none.stdout, '(none)\n\nTotal: 0 requests, 0 refused by limits\n');
  });
});

/** The error a usage query is refused with: the field and what it says. */
function refusal(query: Record<string, unknown>, now: number): unknown {
  try {
    parseUsageQuery(query, now);
  } catch (error) {
    assert.ok(error instanceof ApiError);
    return error.details;
  }
  return assert.fail('the query was accepted');
}

test('usage: a from after the default to names that day, not a `to` nobody sent', () => {
  const now = Date.UTC(2026, 11, 5, 23, 59, 59);
  assert.deepEqual(refusal({ from: '2026-12-06' }, now), [
    { field: 'from', error: 'Must not be after today (2026-12-05), the default `to`' },
  ]);
  assert.deepEqual(refusal({ from: '2026-12-06', to: '2026-12-01' }, now), [
    { field: 'from', error: 'Must not be after `to`' },
  ]);
  // Today itself is a range of one day.
  assert.deepEqual(parseUsageQuery({ from: '2026-12-05' }, now).to, '2026-12-05');
});
