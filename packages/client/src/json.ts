/**
 * JSON with exact integers. Gatehouse keeps every digit of an integer too long for a double
 * (a 64-bit id such as 1152921504606846977); `JSON.parse` would round it, and a record read,
 * changed and written back would silently store another number. Here such an integer is read as
 * a `bigint`, and a `bigint` is written as the JSON number it holds. Integers a double holds
 * exactly, and numbers with a fraction or an exponent, stay `number`.
 */

/**
 * Stands for a long integer while JSON.parse (or JSON.stringify) runs: U+0000, then a nonce made
 * for that one call, so no string of the data can pass for it (and none is turned into a number).
 */
function marker(): string {
  return `\u0000int${Math.random().toString(36).slice(2, 12)}:`;
}
/** At least 16 digits in a row: the only text that can hold an integer a double cannot. */
const LONG_DIGITS = /\d{16}/;

/** JSON.parse, except that integers beyond ±(2^53 − 1) come back as exact `bigint`s. */
export function parseJson(text: string): unknown {
  if (!LONG_DIGITS.test(text)) return JSON.parse(text);
  const mark = marker();
  const escaped = `\\u0000${mark.slice(1)}`;
  let out = '';
  let copied = 0;
  let marked = false;
  for (let i = 0; i < text.length; i++) {
    const c = text.charCodeAt(i);
    if (c === 34 /* " */) {
      // Skip the string, escapes included.
      for (i++; i < text.length && text.charCodeAt(i) !== 34; i++) if (text.charCodeAt(i) === 92) i++;
      continue;
    }
    if (c !== 45 /* - */ && (c < 48 || c > 57)) continue;
    let end = i + 1;
    while (end < text.length && /[0-9.eE+-]/.test(text[end] as string)) end++;
    const token = text.slice(i, end);
    if (/^-?\d{16,}$/.test(token) && !Number.isSafeInteger(Number(token))) {
      out += `${text.slice(copied, i)}"${escaped}${token}"`;
      copied = end;
      marked = true;
    }
    i = end - 1;
  }
  if (!marked) return JSON.parse(text);
  return JSON.parse(out + text.slice(copied), (_key, value: unknown) =>
    typeof value === 'string' && value.startsWith(mark) ? BigInt(value.slice(mark.length)) : value,
  );
}

/** JSON.stringify, except that a `bigint` is written as the integer it holds (not refused). */
export function stringifyJson(value: unknown, space?: number): string {
  let mark: string | undefined;
  const text = JSON.stringify(
    value,
    (_key, item: unknown) => {
      if (typeof item !== 'bigint') return item;
      mark ??= marker();
      return `${mark}${item}`;
    },
    space,
  );
  if (mark === undefined) return text;
  // JSON.stringify writes U+0000 as \u0000: the marked strings are `"\u0000int<nonce>:<digits>"`.
  return text.replace(new RegExp(`"\\\\u0000${mark.slice(1)}(-?\\d+)"`, 'g'), '$1');
}
