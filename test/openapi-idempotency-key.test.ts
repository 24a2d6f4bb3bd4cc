import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { Ajv2020 } from 'ajv/dist/2020.js';
import { ordersSchema, startTestServer, type TestServer } from './helpers/server.ts';

/**
 * The data document's `Idempotency-Key` parameter says what the server takes: a client generated
 * from it (or a partner reading it) makes no key the server refuses, and refuses none it takes.
 */
describe('the Idempotency-Key the data document describes is the one the server takes', () => {
  let server: TestServer;
  let key: string;

  before(async () => {
    server = await startTestServer('sqlite');
    await server.createEndpoint({ slug: 'orders', name: 'Orders', schema: ordersSchema });
    key = (await server.createKey({ name: 'idempotency', environment: 'test' })).key;
  });
  after(() => server.close());

  test('each value: valid by the schema exactly when the server takes it', async () => {
    const document = (await server.request('GET', '/api/v1/openapi.json', { key })).body;
    const parameter = document.components.parameters.IdempotencyKey;
    assert.equal(parameter.name, 'Idempotency-Key', 'the parameter is the header');
    const valid = new Ajv2020({ strict: false }).compile(parameter.schema);
    const values = [
      'order-1',
      'a b c',
      '8e03978e-40d5-43e8-bc93-6894a57f9324',
      '~!@#$%^&*()',
      'x'.repeat(255),
      'x'.repeat(256),
      '',
      'tab\there',
      'caf\u00e9',
    ];
    let n = 0;
    for (const value of values) {
      const taken = valid(value);
      const answer = await server.request('POST', '/api/v1/data/orders', {
        key,
        headers: { 'idempotency-key': value },
        json: { order_id: `o-${n++}`, amount: 1 },
      });
      const refused = answer.status === 400 && answer.body?.details?.[0]?.field === 'Idempotency-Key';
      assert.equal(
        refused,
        !taken,
        `${JSON.stringify(value)}: the schema ${taken ? 'takes' : 'refuses'} it, the server answered ${answer.status} ${answer.text}`,
      );
      if (taken) assert.equal(answer.status, 202, `${JSON.stringify(value)} is taken: ${answer.text}`);
    }
  });
});
