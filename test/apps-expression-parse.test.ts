import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { compileExpression, ExpressionError } from '../src/apps/expressions.ts';

/** A path of `dots` + 1 steps: JSONata's parser goes over the earlier steps again at each `.`. */
const path = (dots: number) =>
  Array(dots + 1)
    .fill('a')
    .join('.');

describe('JSONata parses no App text that would hold the event loop', () => {
  test('a saved expression holds at most 1 000 "."; one stored before still compiles', async () => {
    assert.equal(await compileExpression(path(1000)).evaluate({ a: { a: 1 } }), undefined);
    assert.throws(
      () => compileExpression(path(1001)),
      (error) =>
        error instanceof ExpressionError &&
        error.kind === 'syntax' &&
        /more than 1000 "\."/.test(error.message),
    );
    assert.equal(await compileExpression(path(1001), true).evaluate({}), undefined);
  });

  test('only the "." of paths count: not those in strings, names in backticks, regexes, comments or numbers', async () => {
    const text = `${'Ship it. Then bill it. '.repeat(60)}`; // 120 periods a copy
    const many = `'${text}' & "${text}" & '${text}'`;
    assert.equal(await compileExpression(many).evaluate({}), text.repeat(3));
    const periods = '.'.repeat(1500);
    const kept: Array<[string, unknown]> = [
      [`'${periods}'`, periods],
      [`"${periods}"`, periods],
      // An escaped quote does not end a string, an escaped backslash before its quote does.
      [`"a \\"${periods}\\" b"`, `a "${periods}" b`],
      [`'${periods}\\\\' & 'b'`, `${periods}\\b`],
      [`\`${periods}\``, 1],
      [`$match('a.b', /${'a.b|'.repeat(300)}x/).match`, 'a.b'],
      [`/* ${periods} */ 2`, 2],
      [`$sum([${Array(1200).fill('1.5').join(',')}])`, 1800],
    ];
    for (const [source, expected] of kept) {
      assert.ok(source.length <= 10_000, source.slice(0, 20));
      const context = { [periods]: 1 };
      assert.deepEqual(await compileExpression(source).evaluate(context), expected, source.slice(0, 20));
    }
    // A path stays held to 1 000 "." beside them, whatever quote a regex, a name or a comment holds.
    const refused = [
      `'${periods.slice(0, 500)}' & ${path(1001)}`,
      `$match(x, /'/) & ${path(1001)} & $match(y, /'/)`,
      `a' & ${path(1001)} & b'`,
      `a / b & "x/" & ${path(1001)} & "y"`,
      `/* it's */ ${path(1001)} /* it's */`,
      `\`it's\` & ${path(1001)} & 'it'`,
      `| a | b | & ${path(1001)}`,
    ];
    for (const source of refused) {
      assert.throws(
        () => compileExpression(source),
        (error) => error instanceof ExpressionError && /more than 1000 "\."/.test(error.message),
        source.slice(0, 30),
      );
    }
  });

  test('$eval takes a text a saved expression could be, and refuses a longer one before parsing it', async () => {
    const evaluate = compileExpression('$eval(body.text, body.input)');
    assert.equal(await evaluate.evaluate({ body: { text: 'a.b * 2', input: { a: { b: 21 } } } }), 42);
    const periods = '.'.repeat(1500);
    assert.equal(await evaluate.evaluate({ body: { text: `'${periods}'`, input: {} } }), periods);
    // Parsed in one call that the time budget cannot stop: a 5 MiB body took 2-5 s.
    const refused: Array<[string, RegExp]> = [
      [`[${'1,'.repeat(5000)}1]`, /\$eval: Expression longer than 10000 characters/],
      [path(1001), /\$eval: Expression holds more than 1000 "\."/],
    ];
    for (const [text, message] of refused) {
      await assert.rejects(
        evaluate.evaluate({ body: { text, input: {} } }),
        (error) => error instanceof ExpressionError && error.kind === 'size' && message.test(error.message),
      );
    }
  });
});
