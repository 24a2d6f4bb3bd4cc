import assert from 'node:assert/strict';
import { describe, mock, test } from 'node:test';
import { compileExpression, MAX_OUTPUT_BYTES } from '../src/apps/expressions.ts';

/** Evaluates `source` over `context`, and the longest text JSON.stringify wrote meanwhile. */
async function evaluated(source: string, context: object = {}) {
  const stringify = mock.method(JSON, 'stringify');
  try {
    let outcome: { value: unknown } | { error: string };
    try {
      outcome = { value: await compileExpression(source).evaluate(context) };
    } catch (error) {
      outcome = { error: (error as Error).message };
    }
    const written = stringify.mock.calls.map((call) => (call.result as string | undefined)?.length ?? 0);
    return { outcome, longestWritten: Math.max(0, ...written) };
  } finally {
    stringify.mock.restore();
  }
}

describe('the size budget of an App expression is measured before its result is written', () => {
  test('a value holding one object many times over is refused without writing its JSON out', async () => {
    // An object 900 levels deep, held 2 000 times: a few kilobytes in memory, about 9 MB as JSON.
    // Its size was measured as the length of its strings and keys, 2 000 here, so JSON.stringify
    // wrote all 9 MB before the budget refused it (10 000 times: 14 s outside the time budget).
    // Built here rather than by $reduce, so that a busy host does not run out of the time budget first.
    let deep: unknown = [];
    for (let i = 0; i < 900; i++) deep = { '': deep };
    const { outcome, longestWritten } = await evaluated('($deep := deep; [1..2000].($deep))', { deep });
    assert.deepEqual(outcome, { error: `Expression produced more than ${MAX_OUTPUT_BYTES} bytes` });
    assert.ok(longestWritten < 1000, `JSON.stringify wrote ${longestWritten} characters`);
  });

  test('a result within the budget is kept whole, to the byte', async () => {
    const text = 'x'.repeat(MAX_OUTPUT_BYTES - 2);
    // A string's JSON is its characters and two quotes: this one is the budget to the byte.
    const whole = await evaluated('body.text', { body: { text } });
    assert.deepEqual(whole.outcome, { value: text });
    const over = await evaluated('body.text & "x"', { body: { text } });
    assert.deepEqual(over.outcome, { error: `Expression produced more than ${MAX_OUTPUT_BYTES} bytes` });
    const mixed = await evaluated("{'n': [1.5, -2e-7, true, null, 'é'], 'o': {'': []}}");
    assert.deepEqual(mixed.outcome, { value: { n: [1.5, -2e-7, true, null, 'é'], o: { '': [] } } });
  });
});
