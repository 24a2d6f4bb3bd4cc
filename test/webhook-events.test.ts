import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { buildEvent, type EventData, splicedRecord } from '../src/webhooks/events.ts';

/**
 * An event's record is the stored text spliced in, and a request.failed event takes it back out of
 * the first event's payload (`splicedRecord`), never through JSON.parse: these tests pin the
 * layout both rely on, so a change to `buildEvent` that breaks it fails here and not in a
 * partner's receiver.
 */
const data = (recordJson: string, failure?: EventData['failure']): EventData => ({
  endpoint: 'orders',
  environment: 'live',
  request_id: 'req_1',
  record_id: 'rec_1',
  operation: 'create',
  status: failure ? 'failed' : 'processed',
  recordJson,
  ...(failure ? { failure } : {}),
});

const tricky = [
  '{"id":9007199254740993,"amount":12345678901234567890.10}',
  '{"note":",\\"record\\":{\\"x\\":1}}}","nested":{"record":[1,2]}}',
  '{"a":1}',
  '"text"',
  'null',
  '{}',
];

describe('webhook events: the record spliced in and taken back out', () => {
  test('the record is the last member of data, digit for digit', () => {
    for (const recordJson of tricky) {
      const { payload } = buildEvent('record.created', data(recordJson), '2026-12-03T00:00:00.000Z');
      const parsed = JSON.parse(payload) as { data: Record<string, unknown> };
      assert.equal(Object.keys(parsed.data).at(-1), 'record');
      assert.ok(payload.endsWith(`,"record":${recordJson}}}`), payload);
      assert.equal(splicedRecord(payload), recordJson);
    }
  });

  test('a failure whose strings hold `,"record":` does not move the cut', () => {
    const failure = {
      delivery_id: 'del_1',
      url: 'https://example.com/hook?x=,"record":{}',
      attempts: 3,
      last_status_code: 500,
      last_error: 'body was ,"record":null}}',
    };
    for (const recordJson of tricky) {
      const { payload } = buildEvent('request.failed', data(recordJson, failure), '2026-12-03T00:00:00.000Z');
      assert.equal(splicedRecord(payload), recordJson);
      const parsed = JSON.parse(payload) as { data: { failure: typeof failure } };
      assert.deepEqual(parsed.data.failure, failure);
      // The failed event's own record can be taken out again, as the first event's was.
      const again = buildEvent(
        'request.failed',
        data(splicedRecord(payload), failure),
        '2026-12-03T00:00:01.000Z',
      );
      assert.equal(splicedRecord(again.payload), recordJson);
    }
  });

  test('a payload without a record gives null', () => {
    assert.equal(splicedRecord('{"id":"evt_1","data":{}}'), 'null');
  });
});
