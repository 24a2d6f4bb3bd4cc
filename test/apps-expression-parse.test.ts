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

  test('$eval takes a text a saved expression could be, and refuses a longer one before parsing it', async () => {
    const evaluate = compileExpression('$eval(body.text, body.input)');
    assert.equal(await evaluate.evaluate({ body: { text: 'a.b * 2', input: { a: { b: 21 } } } }), 42);
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
