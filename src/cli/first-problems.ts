/**
 * The problems an import reports: those of the first `limit` rejected rows by file line, which is
 * all it ever shows (--json lists 1 000, the terminal 50, --strict's refusal 100); the others are
 * only counted. Keeping every one held the whole file's problems in memory until the end: a
 * file of a million bad rows, 330 MB, and a large enough one ran the CLI out of memory. At most
 * twice `limit` are held: past that, the list is sorted and cut back to `limit`.
 */
export function firstProblems<P extends { line: number }>(limit: number) {
  let kept: P[] = [];
  const cut = () => {
    kept.sort((a, b) => a.line - b.line);
    if (kept.length > limit) kept = kept.slice(0, limit);
  };
  return {
    add(problem: P): void {
      kept.push(problem);
      if (kept.length >= 2 * limit) cut();
    },
    /** The kept problems in file order. */
    list(): P[] {
      cut();
      return kept;
    },
    /** How many are held now (never more than twice `limit`). */
    get held(): number {
      return kept.length;
    },
  };
}
