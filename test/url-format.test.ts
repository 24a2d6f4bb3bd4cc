import assert from 'node:assert/strict';
import { createRequire } from 'node:module';
import { after, before, describe, test } from 'node:test';
import { compileSchema } from '../src/endpoints/json-schema.ts';
import { isUrl, urlFormatWork } from '../src/endpoints/url-format.ts';
import { startTestServer, type TestServer } from './helpers/server.ts';

/** ajv-formats' own `url` expression, which backtracks: what isUrl must agree with. */
const backtracking = (
  createRequire(import.meta.url)('ajv-formats/dist/formats.js') as { fullFormats: { url: RegExp } }
).fullFormats.url;

/**
 * The `url` format is checked in one pass: ajv-formats' expression tries every split of the text
 * between a user part and a host (O(N²): "http://" and 100 000 colons held the event loop 5.6 s).
 */
describe('the url format', () => {
  let server: TestServer;
  let key: string;

  before(async () => {
    server = await startTestServer('sqlite');
    await server.createEndpoint({
      slug: 'links',
      name: 'Links',
      schema: { type: 'object', properties: { href: { type: 'string', format: 'url' } }, required: ['href'] },
    });
    key = (await server.createKey({ name: 'k', environment: 'test' })).key;
  });
  after(() => server.close());

  test('the compiled validator calls a function, not the backtracking expression', () => {
    const validate = compileSchema({
      type: 'object',
      properties: { href: { type: 'string', format: 'url' } },
    });
    assert.match(String(validate), /formats\d+\(data\d+\)/);
    assert.doesNotMatch(String(validate), /formats\d+\.test\(/);
  });

  test('accepts exactly what ajv-formats accepts', () => {
    const alphabet = [...'ab1027.-@:/ ?#%éſKxcom9', '\u3000', '\t', '\u{1F600}'];
    const starts = [
      'http://',
      'https://',
      'ftp://',
      'HTTP://',
      'httpſ://',
      'http:/',
      'ftps://',
      'http://10.',
      'http://172.16.',
      'http://192.168.1.1',
      'http://1.2.3.4',
      'http://user:pw@',
      'http://a.com',
      'http://a.b.co',
    ];
    // A fixed pseudo-random sequence: the same 50 000 strings on every run.
    let seed = 1;
    const next = (below: number) => {
      seed = (seed * 1103515245 + 12345) % 2147483648;
      return seed % below;
    };
    for (let n = 0; n < 50_000; n++) {
      let text = starts[next(starts.length)] as string;
      for (let length = next(12); length > 0; length--) text += alphabet[next(alphabet.length)];
      assert.equal(isUrl(text), backtracking.test(text), JSON.stringify(text));
    }
    for (const text of [
      'http://example.com',
      'https://user:pw@a.example.co:8080/x@y?z#w',
      'ftp://8.8.8.8/',
    ]) {
      assert.equal(isUrl(text), true, text);
    }
  });

  test('tries each host at most once: one span per `@`, plus one', () => {
    assert.equal(isUrl(`http://${':'.repeat(100_000)} `), false);
    assert.equal(urlFormatWork.spans, 1);
    assert.equal(isUrl(`http://${'a@'.repeat(50_000)}x`), false);
    assert.equal(urlFormatWork.spans, 1, 'spans holding an @ are skipped');
    assert.equal(isUrl(`http://${'a@a.co/'.repeat(10_000)} `), false);
    assert.equal(urlFormatWork.spans, 10_000);
  });

  test('a long text is refused as a url, and nothing is stored', async () => {
    for (const href of [`http://${':'.repeat(90_000)} `, `http://${'a@'.repeat(45_000)} `]) {
      const res = await server.request('POST', '/api/v1/data/links', { key, json: { href } });
      assert.equal(res.status, 400, res.text);
      assert.deepEqual(res.body.details, [{ field: 'href', error: 'Must be a valid url' }]);
    }
    const listed = await server.request('GET', '/api/v1/data/links', { key });
    assert.equal(listed.status, 200, listed.text);
    assert.deepEqual(listed.body.data, []);
    const ok = await server.request('POST', '/api/v1/data/links', {
      key,
      json: { href: `https://example.com/${'a'.repeat(90_000)}` },
    });
    assert.equal(ok.status, 202, ok.text);
  });
});
