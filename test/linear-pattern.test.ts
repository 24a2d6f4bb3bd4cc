import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { compileSchema } from '../src/endpoints/json-schema.ts';
import { linearRegExp, toRe2Syntax } from '../src/endpoints/linear-pattern.ts';
import { countRows, startTestServer, type TestServer } from './helpers/server.ts';

/** Patterns as owners write them, each with strings on both sides of it. */
const patterns = [
  '^[a-z0-9-]{2,63}$',
  '^\\d{3}-\\d{4}$',
  '^[^@\\s]+@[^@\\s]+\\.[a-z]{2,}$',
  '^\\p{L}+$',
  '^\\P{L}*$',
  '^.$',
  '^.+$',
  'a.c',
  '^\\s+$',
  '^\\S+$',
  '^[\\s\\d]+$',
  '^[^\\s]+$',
  '^\\u00e9$',
  '^\\u{1F600}$',
  '^\\uD83D\\uDE00$',
  '^[\\u0041-\\u005A]+$',
  '^\\x41$',
  '^\\cJ$',
  '^a\\0$',
  '^[^]$',
  '^[]$',
  '^[\\]a]+$',
  '^[a\\-z]+$',
  '^(?:ab|cd)+$',
  '^(?<year>\\d{4})-(\\d{2})$',
  '^\\w+\\b',
  '\\Bb',
  '^a{2}b{1,}c{0,3}$',
  '^[[]$',
  '\\/',
  '^\\t\\n\\v\\f\\r$',
  'colou?r',
  '^$',
  '^[\\S]+$',
  '^[^\\S]+$',
  '^a[^\\S\\r\\n]b$',
  '^[\\s\\S]$',
  '^[\\b]$',
  '^\\p{Letter}+$',
  '^\\p{Script=Latin}+$',
  '^\\p{sc=Greek}+$',
  '^\\p{gc=Lu}+$',
  '^\\p{General_Category=Decimal_Number}+$',
  '^[\\p{Punctuation}\\s]+$',
  '^[[:]+$',
  '^\\D\\W$',
  '^[\\D]$',
];
const inputs = [
  '',
  'a',
  'abc',
  'ABC',
  'é',
  'e\u0301',
  '😀',
  'x😀',
  '\n',
  'a\nb',
  '\u2028',
  ' ',
  '\u00a0',
  '\u3000',
  '\ufeff',
  '\t',
  '\v\f',
  '555-1234',
  'user@example.com',
  'bad @example.com',
  'a\u0000',
  ']a',
  '-',
  'abcd',
  '2024-05',
  'hello world',
  'ab',
  'aabccc',
  '[',
  '/',
  '\t\n\v\f\r',
  'color',
  'colour',
  'A',
  'AZ',
  'héllo',
  'straße',
  '12',
  'a\u00a0b',
  'a\u3000b',
  'a\u1680b',
  'a\vb',
  'a b',
  'a\nb',
  '\b',
  'Ωμέγα',
  '.,;!',
  '٣',
  ':]',
  'a]',
  'é!',
  '\u00a0',
  '\u2028',
];

describe('schema patterns on RE2', () => {
  test('a pattern means on RE2 what it means in ECMAScript with Unicode, string for string', () => {
    for (const pattern of patterns) {
      const native = new RegExp(pattern, 'u');
      const linear = linearRegExp(pattern, 'u');
      for (const input of inputs) {
        assert.equal(
          linear.test(input),
          native.test(input),
          `${JSON.stringify(pattern)} (RE2: ${JSON.stringify(toRe2Syntax(pattern))}) on ${JSON.stringify(input)}`,
        );
      }
    }
  });

  test('a pattern that backtracks for ages elsewhere answers at once', { timeout: 60_000 }, () => {
    const validate = compileSchema({
      type: 'object',
      properties: {
        a: { type: 'string', pattern: '^(a+)+$' },
        b: { type: 'string', pattern: '^(a|a){1,64}$' },
      },
    });
    // 34 characters took V8 almost two minutes; each one more doubles it.
    assert.equal(validate({ a: `${'a'.repeat(10_000)}!` }), false);
    assert.equal(validate({ b: `${'a'.repeat(60)}!` }), false);
    assert.equal(validate({ a: 'a'.repeat(10_000), b: 'a'.repeat(64) }), true);
  });

  test('what cannot run in linear time is refused when a schema is saved; a stored one keeps working', () => {
    const reasons: Array<[string, RegExp]> = [
      ['^(?=a)a$', /lookahead and lookbehind are not supported/],
      ['(?<!a)b', /lookahead and lookbehind are not supported/],
      ['^(a)\\1$', /backreferences .* are not supported/],
      ['^(?<x>a)\\k<x>$', /backreferences .* are not supported/],
      ['^a{1001}$', /too large/],
      ['^(?:a{100}){100}$', /too large/],
      [
        '[ab]{0,1000}[^ab]',
        /too large for fast matching \(repeat counts multiply: 2003 steps per character, at most 1000\)/,
      ],
      ['^\\p{Script_Extensions=Latin}$', /\\p\{Script_Extensions=Latin\} is not supported/],
      ['^\\p{ID_Start}$', /the linear-time engine cannot read it/],
    ];
    for (const [pattern, reason] of reasons) {
      const schema = { type: 'object', properties: { a: { type: 'string', pattern } } };
      assert.throws(
        () => compileSchema(schema),
        (error: { code: string; details: Array<{ field: string; error: string }> }) => {
          assert.equal(error.code, 'invalid_schema');
          assert.equal(error.details[0]?.field, 'schema.properties.a.pattern');
          assert.ok(
            error.details[0]?.error.startsWith(`The pattern "${pattern}" cannot be matched in linear time: `),
          );
          assert.match(error.details[0]?.error ?? '', reason);
          return true;
        },
        pattern,
      );
      const stored = compileSchema(schema, 'schema', true);
      assert.equal(stored({ a: 'z' }), new RegExp(pattern, 'u').test('z'), pattern);
    }
    // Not a pattern at all: said as such, not as a linear-time problem.
    assert.throws(
      () => compileSchema({ type: 'object', properties: { a: { type: 'string', pattern: '(' } } }),
      (error: { details: Array<{ field: string; error: string }> }) => {
        assert.deepEqual(error.details, [
          {
            field: 'schema.properties.a.pattern',
            error: 'Invalid regular expression: /(/u: Unterminated group',
          },
        ]);
        return true;
      },
    );
    // RE2-only syntax is not JSON Schema's dialect: refused as V8 refuses it, not run with RE2's meaning.
    for (const pattern of [
      '^(?i)abc$',
      '\\z',
      '\\Aa',
      '\\pL',
      '\\Qa.b\\E',
      'a{,5}',
      '\\x{41}',
      '(?P<n>a)',
      '\\-',
    ]) {
      assert.throws(
        () => compileSchema({ type: 'object', properties: { a: { type: 'string', pattern } } }),
        (error: { details: Array<{ error: string }> }) => {
          assert.match(error.details[0]?.error ?? '', /^Invalid regular expression: /, pattern);
          return true;
        },
      );
    }
    // ECMAScript without Unicode takes it; JSON Schema's patterns are Unicode ones.
    assert.throws(
      () => compileSchema({ type: 'object', properties: { a: { type: 'string', pattern: '\\q' } } }),
      (error: { details: Array<{ error: string }> }) => {
        assert.match(error.details[0]?.error ?? '', /Invalid regular expression: \/\\q\/u: Invalid escape/);
        return true;
      },
    );
  });

  test('patternProperties and propertyNames run on RE2 too', { timeout: 60_000 }, () => {
    const validate = compileSchema({
      type: 'object',
      patternProperties: { '^(x+)+$': { type: 'integer' } },
      propertyNames: { pattern: '^(y|x+)+$' },
    });
    assert.equal(validate({ xxx: 1 }), true);
    assert.equal(validate({ xxx: 'no' }), false);
    assert.equal(validate({ [`${'x'.repeat(5_000)}!`]: 1 }), false);
  });

  test('a schema that refers to itself without end is said in words', () => {
    assert.throws(
      () =>
        compileSchema({
          type: 'object',
          $defs: { x: { $ref: '#/$defs/x' } },
          properties: { a: { $ref: '#/$defs/x' } },
        }),
      (error: { details: Array<{ error: string }> }) => {
        assert.match(error.details[0]?.error ?? '', /refers to itself without end/);
        return true;
      },
    );
  });
});

describe('schema patterns through the API', () => {
  let server: TestServer;
  let key: string;
  before(async () => {
    server = await startTestServer('sqlite');
    key = (await server.createKey({ name: 'k', environment: 'test', scopes: ['*'] })).key;
  });
  after(async () => server.close());

  test('a hostile string against a backtracking pattern is a prompt 400; lookahead is refused at save', {
    timeout: 60_000,
  }, async () => {
    await server.createEndpoint({
      slug: 'codes',
      name: 'Codes',
      schema: { type: 'object', properties: { code: { type: 'string', pattern: '^(a+)+$' } } },
    });
    const before = await countRows(server, 'records');
    const hostile = await server.request('POST', '/api/v1/data/codes', {
      key,
      json: { code: `${'a'.repeat(5_000)}!` },
    });
    assert.equal(hostile.status, 400, hostile.text);
    assert.equal(hostile.body.code, 'validation_failed');
    assert.equal(hostile.body.details[0].field, 'code');
    assert.equal(await countRows(server, 'records'), before);
    assert.equal(
      (await server.request('POST', '/api/v1/data/codes', { key, json: { code: 'aaa' } })).status,
      202,
    );

    const refused = await server.admin('POST', '/admin/v1/endpoints', {
      slug: 'looks',
      name: 'Looks',
      schema: { type: 'object', properties: { code: { type: 'string', pattern: '^(?!admin).+$' } } },
    });
    assert.equal(refused.status, 400);
    assert.equal(refused.body.code, 'invalid_schema');
    assert.equal(refused.body.details[0].field, 'schema.properties.code.pattern');
    assert.match(refused.body.details[0].error, /cannot be matched in linear time/);
    assert.equal((await server.admin('GET', '/admin/v1/endpoints/looks')).status, 404);

    // A schema stored before this rule (written here straight into the table) keeps answering.
    const legacy = JSON.stringify({
      type: 'object',
      properties: { code: { type: 'string', pattern: '^(?!admin).+$' } },
    });
    await server.services.database.db
      .updateTable('endpoints')
      .set((eb) => ({ schema: legacy, draft_revision: eb('draft_revision', '+', 1) }))
      .where('slug', '=', 'codes')
      .execute();
    await server.services.bus.publish('endpoints', 'codes');
    const admin = await server.request('POST', '/api/v1/data/codes', { key, json: { code: 'admin' } });
    assert.equal(admin.status, 400, admin.text);
    assert.equal(
      (await server.request('POST', '/api/v1/data/codes', { key, json: { code: 'user' } })).status,
      202,
    );
  });
});
