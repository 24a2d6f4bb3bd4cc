/**
 * Numbers kept as sent. JSON.parse turns `12345678901234567890` into a double, and JSON.stringify
 * gives back `12345678901234567000`; a record must come back as it was written, so the text of
 * every object or array that holds such a number is kept beside its parsed value.
 */

/** More digits than this in one number, and a double may not give it back as sent. */
export const EXACT_DIGITS = 15;

const QUOTE = 34;
const BACKSLASH = 92;

function isSpace(c: number): boolean {
  return c === 32 || c === 9 || c === 10 || c === 13;
}

/**
 * Walks a JSON text alongside its parsed value (no duplicate keys in it, so each key names one
 * value) and calls `keep` with each object or array that holds a long number, and its text.
 */
export function findLongNumbers(
  text: string,
  value: unknown,
  keep: (node: object, text: string) => void,
): void {
  let i = 0;
  const skip = () => {
    while (i < text.length && isSpace(text.charCodeAt(i))) i++;
  };
  const stringEnd = (start: number): number => {
    let j = start + 1;
    while (j < text.length) {
      const c = text.charCodeAt(j);
      if (c === BACKSLASH) j += 2;
      else if (c === QUOTE) return j + 1;
      else j++;
    }
    return j;
  };
  /** Scans the value at `i` (parsed: `node`); true if it holds a long number. */
  const scan = (node: unknown): boolean => {
    skip();
    const start = i;
    const c = text.charCodeAt(i);
    if (c === QUOTE) {
      i = stringEnd(i);
      return false;
    }
    if (c !== 123 && c !== 91) {
      let digits = 0;
      let long = false;
      while (i < text.length) {
        const d = text.charCodeAt(i);
        if (d === 44 || d === 125 || d === 93 || isSpace(d)) break;
        if (d >= 48 && d <= 57) {
          if (++digits > EXACT_DIGITS) long = true;
        } else if (d !== 46) digits = 0;
        i++;
      }
      return long;
    }
    const isObject = c === 123;
    let long = false;
    i++;
    for (let index = 0; ; index++) {
      skip();
      const next = text.charCodeAt(i);
      if (next === 125 || next === 93) {
        i++;
        break;
      }
      if (next === 44) {
        i++;
        skip();
      }
      let child: unknown;
      if (isObject) {
        const keyStart = i;
        i = stringEnd(i);
        const key = JSON.parse(text.slice(keyStart, i)) as string;
        skip();
        i++; // the colon
        child = (node as Record<string, unknown>)[key];
      } else child = (node as unknown[])[index];
      if (scan(child)) long = true;
    }
    if (long && typeof node === 'object' && node !== null) keep(node, text.slice(start, i));
    return long;
  };
  scan(value);
}

/** The text with the whitespace between its tokens left out (strings untouched). */
export function withoutWhitespace(text: string): string {
  let out = '';
  let start = 0;
  let inString = false;
  for (let i = 0; i < text.length; i++) {
    const c = text.charCodeAt(i);
    if (inString) {
      if (c === BACKSLASH) i++;
      else if (c === QUOTE) inString = false;
    } else if (c === QUOTE) inString = true;
    else if (isSpace(c)) {
      out += text.slice(start, i);
      start = i + 1;
    }
  }
  return out + text.slice(start);
}
