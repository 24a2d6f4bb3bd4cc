import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { firstProblems } from '../src/cli/first-problems.ts';

/**
 * `gatehouse records import` keeps only the problems it can show (the first 1 000 rejected rows
 * by file line): it kept every one to the end of the file, a million bad rows 330 MB, so a large
 * enough file of bad rows ran it out of memory.
 */
describe('the problems an import keeps', () => {
  test('a million rejected rows hold at most twice the limit, and the first by line are listed', () => {
    const problems = firstProblems<{ line: number }>(1_000);
    let most = 0;
    // As an import adds them: batch by batch in file order, the server's after the CLI's own.
    for (let batch = 0; batch < 1_000; batch++) {
      const first = batch * 1_000 + 1;
      for (let i = 999; i >= 0; i -= 2) problems.add({ line: first + i });
      for (let i = 998; i >= 0; i -= 2) problems.add({ line: first + i });
      most = Math.max(most, problems.held);
    }
    assert.ok(most <= 2_000, `${most} problems held`);
    const listed = problems.list();
    assert.deepEqual(
      listed.map((p) => p.line),
      Array.from({ length: 1_000 }, (_, i) => i + 1),
    );
  });

  test('in any order, the first by line are kept, in order', () => {
    const problems = firstProblems<{ line: number; n: number }>(3);
    for (const [n, line] of [9, 4, 7, 1, 8, 2, 6, 3, 5].entries()) problems.add({ line, n });
    assert.deepEqual(problems.list(), [
      { line: 1, n: 3 },
      { line: 2, n: 5 },
      { line: 3, n: 7 },
    ]);
    assert.deepEqual(firstProblems(3).list(), []);
  });
});
