/** A regular expression run while `run` ran, and the length of the text it was run over. */
export interface RegexRun {
  source: string;
  /** Global or sticky: each run goes on from where the last ended (a scan), not from the start. */
  scan: boolean;
  length: number;
}

/**
 * The regular expressions run while `run` runs (RegExp.prototype.exec: test, replace, match and
 * the others call it once it is replaced), each with the length of its text.
 */
export function regexRuns(run: () => void): RegexRun[] {
  const exec = RegExp.prototype.exec;
  const runs: RegexRun[] = [];
  RegExp.prototype.exec = function (this: RegExp, text: string) {
    runs.push({ source: this.source, scan: this.global || this.sticky, length: String(text).length });
    return exec.call(this, text);
  };
  try {
    run();
  } finally {
    RegExp.prototype.exec = exec;
  }
  return runs;
}

/**
 * The runs over a text of at least `length` characters by an expression neither anchored at its
 * start nor scanning: such a run tries it from every position, and one that can go on over a long
 * stretch of the text from each (`/0+$/` over zeros) costs the square of its length.
 */
export function unanchoredOver(runs: RegexRun[], length: number): RegexRun[] {
  return runs.filter((r) => r.length >= length && !r.scan && !r.source.startsWith('^'));
}
