import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { type Receiver, startReceiver } from './helpers/receiver.ts';
import { startDeliveringServer, type TestServer } from './helpers/server.ts';
import { until } from './helpers/until.ts';

/** The delivery log's filters: one environment's deliveries alone, and a value that is none refused, blank too. */
describe('GET /admin/v1/deliveries by environment', () => {
  let server: TestServer;
  let receiver: Receiver;

  before(async () => {
    server = await startDeliveringServer();
    receiver = await startReceiver();
    await server.createEndpoint({ slug: 'orders', name: 'Orders', schema: { type: 'object' } });
    await server.admin('POST', '/admin/v1/endpoints/orders/deploy');
    for (const environment of ['test', 'live'] as const) {
      const made = await server.admin('POST', '/admin/v1/endpoints/orders/webhooks', {
        url: `${receiver.url}/${environment}`,
        environment,
      });
      assert.equal(made.status, 201, made.text);
      const { key } = await server.createKey({ name: environment, environment });
      const res = await server.request('POST', '/api/v1/data/orders', { key, json: { environment } });
      assert.equal(res.status, 202, res.text);
    }
    await receiver.waitFor(2);
  });
  after(async () => {
    await server.close();
    await receiver.close();
  });

  const environments = async (query: string) => {
    const res = await server.admin('GET', `/admin/v1/deliveries${query}`);
    assert.equal(res.status, 200, res.text);
    return res.body.data.map((d: { environment: string }) => d.environment).sort();
  };

  test('each environment lists its own deliveries alone', async () => {
    assert.deepEqual(
      await until(
        () => environments(''),
        (all) => all.length === 2,
      ),
      ['live', 'test'],
    );
    assert.deepEqual(await environments('?environment=live'), ['live']);
    assert.deepEqual(await environments('?environment=test'), ['test']);
  });

  test('an environment, status or event type given blank or as none of its values is 400, not the whole log', async () => {
    for (const [query, field] of [
      ['environment=', 'environment'],
      ['environment=LIVE', 'environment'],
      ['environment=production', 'environment'],
      ['status=', 'status'],
      ['event_type=', 'event_type'],
    ]) {
      const res = await server.admin('GET', `/admin/v1/deliveries?${query}`);
      assert.equal(res.status, 400, `${query}: ${res.text}`);
      assert.equal(res.body.code, 'invalid_request');
      assert.equal(res.body.details[0].field, field, query);
    }
  });
});
