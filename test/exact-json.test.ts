import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { jsonText, parseJson } from '../src/http/json-body.ts';
import { roundsAsDouble } from '../src/infra/json/exact-json.ts';
import { regexRuns, unanchoredOver } from './helpers/regex-runs.ts';
import { startTestServer, type TestServer } from './helpers/server.ts';

/** Characters JSON.stringify writes while `run` runs. */
function written(run: () => void): number {
  const stringify = JSON.stringify;
  let count = 0;
  JSON.stringify = ((...args: Parameters<typeof stringify>) => {
    const text = stringify(...args);
    count += text?.length ?? 0;
    return text;
  }) as typeof stringify;
  try {
    run();
  } finally {
    JSON.stringify = stringify;
  }
  return count;
}

/**
 * A body holding a long integer keeps its text (infra/json/exact-json.ts) in time linear in its
 * size: each value that holds no long integer is written once, by the nearest one around it that
 * does. It was written on every level: a 5 MiB body nested 127 deep beside a long integer was
 * written 127 times over (4.5 s of the event loop; 0.24 s now).
 */
describe('long integers kept as sent', () => {
  const deep = (leaf: string) =>
    `{"id":12345678901234567890,"tree":${'['.repeat(126)}${leaf}${']'.repeat(126)}}`;

  test('a deep value beside a long integer is written once, not once per level', () => {
    const leaf = `[${Array(10_000).fill('"abcdefgh"').join(',')}]`;
    const text = deep(leaf);
    let kept = '';
    const count = written(() => {
      kept = jsonText(parseJson(Buffer.from(text)));
    });
    assert.equal(kept, text);
    assert.ok(count < 2 * text.length, `${count} characters written for a body of ${text.length}`);
  });

  test('what is kept is unchanged: JSON.stringify of the value, but for the long integers', () => {
    for (const [sent, kept] of [
      ['{"a":12345678901234567890,"b":[1.50,"x\\u00e9",{"c":null}],"d":{"e":true}}', undefined],
      ['[{"x":1},12345678901234567890,[2.0,[3e2]],"s"]', '[{"x":1},12345678901234567890,[2,[300]],"s"]'],
      [
        '{"a":{"b":1},"a":[12345678901234567890],"2":{"n":1.0},"1":5}',
        '{"1":5,"2":{"n":1},"a":[12345678901234567890]}',
      ],
      [
        '{"a":[12345678901234567890],"a":{"b":1},"z":[{"y":12345678901234567891}]}',
        '{"a":{"b":1},"z":[{"y":12345678901234567891}]}',
      ],
      ['{ "a" : [ 1 , 12345678901234567890 ] , "b" : { } }', '{"a":[1,12345678901234567890],"b":{}}'],
    ] as const) {
      const want = kept ?? '{"a":12345678901234567890,"b":[1.5,"xé",{"c":null}],"d":{"e":true}}';
      assert.equal(jsonText(parseJson(Buffer.from(sent))), want, sent);
    }
  });

  describe('through the data API', () => {
    let server: TestServer;
    let key: string;

    before(async () => {
      server = await startTestServer('sqlite');
      await server.createEndpoint({ slug: 'trees', name: 'Trees', schema: { type: 'object' } });
      key = (await server.createKey({ name: 'k', environment: 'test' })).key;
    });
    after(() => server.close());

    test('comes back as sent', async () => {
      const text = deep(`[${Array(5_000).fill('1.50').join(',')},98765432109876543210]`);
      const created = await server.request('POST', '/api/v1/data/trees', {
        key,
        raw: text,
        headers: { 'content-type': 'application/json' },
      });
      assert.equal(created.status, 202, created.text);
      const read = await server.request('GET', `/api/v1/data/trees/${created.body.id}`, { key });
      assert.equal(read.status, 200, read.text);
      // The decimals as JSON.stringify writes them, the long integers as sent.
      const stored = text.replaceAll('1.50', '1.5');
      assert.ok(read.text.includes(`"data":${stored},"version":1`), read.text.slice(0, 300));
    });
  });
});

/**
 * A long number in a body costs time linear in its digits. Its trailing zeros were cut with
 * `replace(/0+$/, '')`, tried from every position: a 1, 100 000 zeros and a 1 (a 100 KB body)
 * held the event loop 10 s, and its digits were read as a BigInt even past a double's range (a
 * 1 MB integer: 0.5 s).
 */
describe('long numbers in a body', () => {
  test('no expression is tried from every position of its digits', () => {
    const tokens = [
      `1${'0'.repeat(100_000)}1`,
      `2${'0'.repeat(50_000)}3.5`,
      `9${'0'.repeat(50_000)}1e-49990`,
    ];
    const runs = regexRuns(() => {
      for (const token of tokens) assert.equal(roundsAsDouble(token), false);
    });
    assert.deepEqual(unanchoredOver(runs, 50_000), []);
    // A body holding the integer keeps it as sent, as before.
    const body = `{"a":${tokens[0]}}`;
    assert.ok(jsonText(parseJson(Buffer.from(body))) === body);
  });

  test('digits past a double range are not read as a BigInt', () => {
    const bigInt = globalThis.BigInt;
    let digits = 0;
    globalThis.BigInt = ((value: string | number | bigint | boolean) => {
      digits += String(value).length;
      return bigInt(value);
    }) as BigIntConstructor;
    try {
      assert.equal(roundsAsDouble('7'.repeat(100_000)), false);
      assert.equal(roundsAsDouble(`${'7'.repeat(100_000)}.0`), false);
    } finally {
      globalThis.BigInt = bigInt;
    }
    assert.ok(digits < 1_000, `${digits} digits read as BigInt`);
  });

  test('which integers round as a double is unchanged', () => {
    for (const [token, rounds] of [
      ['1152921504606846977', true],
      ['12345678901234567891.0', true],
      ['-12345678901234567891', true],
      ['1234567890123456789e2', true],
      ['9223372036854775808', false],
      ['9223372036854776000', false],
      ['1000000000000000000000000', false],
      ['1.5', false],
      ['123456789012345678.5', false],
      ['12345678901234567891.000000000000000000000', true],
      [`1${'0'.repeat(400)}1`, false],
      [`0.${'0'.repeat(30)}1`, false],
    ] as const) {
      assert.equal(roundsAsDouble(token), rounds, token);
    }
  });
});
