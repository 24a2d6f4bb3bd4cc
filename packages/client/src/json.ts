/**
 * JSON with exact integers. Gatehouse keeps every digit of an integer too long for a double
 * (a 64-bit id such as 1152921504606846977); `JSON.parse` would round it, and a record read,
 * changed and written back would silently store another number. Here such an integer is read as
 * a `bigint`, and a `bigint` is written as the JSON number it holds. Integers a double holds
 * exactly, and numbers with a fraction or an exponent, stay `number`.
 */

/** Stands for a long integer while JSON.parse runs: U+0000 is never in Gatehouse's data. */
const MARK = '\u0000int:';
const MARKED = /"\\u0000int:(-?\d+)"/g;
/** At least 16 digits in a row: the only text that can hold an integer a double cannot. */
const LONG_DIGITS = /\d{16}/;

function revive(_key: string, value: unknown): unknown {
  return typeof value === 'string' && value.startsWith(MARK) ? BigInt(value.slice(MARK.length)) : value;
}

/** JSON.parse, except that integers beyond ±(2^53 − 1) come back as exact `bigint`s. */
export function parseJson(text: string): unknown {
  if (!LONG_DIGITS.test(text)) return JSON.parse(text);
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
      out += `${text.slice(copied, i)}"\\u0000int:${token}"`;
      copied = end;
      marked = true;
    }
    i = end - 1;
  }
  if (!marked) return JSON.parse(text);
  return JSON.parse(out + text.slice(copied), revive);
}

/** JSON.stringify, except that a `bigint` is written as the integer it holds (not refused). */
export function stringifyJson(value: unknown): string {
  let marked = false;
  const text = JSON.stringify(value, (_key, item: unknown) => {
    if (typeof item !== 'bigint') return item;
    marked = true;
    return `${MARK}${item}`;
  });
  return marked ? text.replace(MARKED, '$1') : text;
}
