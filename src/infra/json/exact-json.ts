/**
 * Long integers kept as sent. JSON.parse turns `12345678901234567890` into a double, and
 * JSON.stringify gives back `12345678901234567000`; a record must come back as it was written,
 * so the text of every object or array that holds such an integer is made here: exactly what
 * JSON.stringify would make of the parsed value (key order, escapes, `5.0` as `5`, the last value
 * of a repeated key), except that integers of more than EXACT_DIGITS digits keep their digits.
 * Only integers: a long decimal is stored as the double it was validated as, so what is stored
 * is always what the schema checked.
 */

/** More digits than this, and a double may not give an integer back as sent. */
export const EXACT_DIGITS = 15;

const LONG_INTEGER = new RegExp(`^-?\\d{${EXACT_DIGITS + 1},}$`);

const QUOTE = 34;
const BACKSLASH = 92;

function isPlainObject(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

function isSpace(c: number): boolean {
  return c === 32 || c === 9 || c === 10 || c === 13;
}

/**
 * Walks a JSON text alongside its parsed value and calls `keep` with each object or array that
 * holds a long integer, and its text as described above. Returns the text of the whole value,
 * or undefined when it holds no long integer (JSON.stringify gives it back as it is).
 */
export function keepLongIntegers(
  text: string,
  value: unknown,
  keep: (node: object, text: string) => void,
): string | undefined {
  let i = 0;
  /** What to keep, once the whole text is read: a repeated key's earlier value is dropped. */
  const kept: Array<{ node: object; json: string } | undefined> = [];
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
  /**
   * The value at `i` (parsed: `node`) as stored, when it holds a long integer. One that does not
   * is written (JSON.stringify) by the nearest enclosing value that does, if any: written on each
   * level instead, a body nested 128 deep was written 128 times over.
   */
  const scan = (node: unknown): { json: string | undefined; long: boolean } => {
    skip();
    const c = text.charCodeAt(i);
    if (c === QUOTE) {
      i = stringEnd(i);
      return { json: undefined, long: false };
    }
    if (c !== 123 && c !== 91) {
      const start = i;
      while (i < text.length) {
        const d = text.charCodeAt(i);
        if (d === 44 || d === 125 || d === 93 || isSpace(d)) break;
        i++;
      }
      const token = text.slice(start, i);
      return LONG_INTEGER.test(token) ? { json: token, long: true } : { json: undefined, long: false };
    }
    const isObject = c === 123;
    let long = false;
    /** Each key's value as stored: a repeated key's last one, as in the parsed object. */
    const members = new Map<string, string | undefined>();
    /** Where each key's value put its nodes in `kept`: an earlier value of a repeated key was
     * read against the parsed (last) value, so what it would keep is wrong. */
    const keptBy = new Map<string, [from: number, to: number]>();
    const items: (string | undefined)[] = [];
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
      if (isObject) {
        const keyStart = i;
        i = stringEnd(i);
        const key = JSON.parse(text.slice(keyStart, i)) as string;
        skip();
        i++; // the colon
        const earlier = keptBy.get(key);
        if (earlier) for (let k = earlier[0]; k < earlier[1]; k++) kept[k] = undefined;
        const from = kept.length;
        // An earlier value of a repeated key is read against the last one, which may be of
        // another shape (null, a number): nothing is looked up in what is not an object.
        const member = scan(isPlainObject(node) ? node[key] : undefined);
        keptBy.set(key, [from, kept.length]);
        members.set(key, member.json);
        if (member.long) long = true;
      } else {
        const item = scan(Array.isArray(node) ? node[index] : undefined);
        items.push(item.json);
        if (item.long) long = true;
      }
    }
    // Read against another value (an earlier value of a repeated key): dropped by its parent.
    const shaped = isObject ? isPlainObject(node) : Array.isArray(node);
    if (!shaped) return { json: 'null', long: false };
    if (!long) return { json: undefined, long: false };
    // JSON.stringify's key order (integer-like keys first), which is the parsed object's own.
    const json = isObject
      ? `{${Object.entries(node as object)
          .map(([key, item]) => `${JSON.stringify(key)}:${members.get(key) ?? JSON.stringify(item)}`)
          .join(',')}}`
      : `[${items.map((item, k) => item ?? JSON.stringify((node as unknown[])[k])).join(',')}]`;
    kept.push({ node: node as object, json });
    return { json, long: true };
  };
  const whole = scan(value);
  for (const entry of kept) if (entry) keep(entry.node, entry.json);
  return whole.long ? whole.json : undefined;
}

/**
 * `digits` without the zeros that end it, found from the end. `replace(/0+$/, '')` tries the
 * expression from every position and runs over each run of zeros it meets anew: one number of
 * 100 000 digits, a 1 and zeros and a 1, held the event loop 10 s.
 */
export function withoutTrailingZeros(digits: string): string {
  let end = digits.length;
  while (end > 0 && digits.charCodeAt(end - 1) === 48) end--;
  return digits.slice(0, end);
}

const NUMBER_TOKEN = /^(-?)(\d+)(?:\.(\d+))?(?:[eE]([+-]?\d+))?$/;

/**
 * True when a JSON number, as written, is an integer of more than EXACT_DIGITS significant
 * digits that a double does not give back: neither its value nor its spelling survives
 * `Number()`. `1152921504606846977` and `12345678901234567891.0` do not survive;
 * `9223372036854775808` (2^63, held exactly) and `9223372036854776000` (how JavaScript writes
 * that double) do. Decimals are never counted: they are approximations by nature.
 */
export function roundsAsDouble(token: string): boolean {
  const match = NUMBER_TOKEN.exec(token);
  if (!match) return false;
  const [, sign, whole = '', fraction = '', exponent = '0'] = match;
  const digits = `${whole}${fraction}`.replace(/^0+/, '');
  if (withoutTrailingZeros(digits).length <= EXACT_DIGITS) return false;
  // Past a double's range it is no integer a double gives back, however long: checked before
  // the digits are read as a BigInt, which costs more than linear time in their number.
  const value = Number(token);
  if (!Number.isFinite(value)) return false;
  const scale = Number(exponent) - fraction.length;
  let exact: bigint;
  if (scale >= 0) {
    if (scale > 400) return false;
    exact = BigInt(digits) * 10n ** BigInt(scale);
  } else {
    // An integer only if the digits below the point are all zeros.
    const kept = digits.length + scale;
    if (!/^0*$/.test(digits.slice(Math.max(kept, 0)))) return false;
    exact = kept > 0 ? BigInt(digits.slice(0, kept)) : 0n;
  }
  return BigInt(value) !== (sign === '-' ? -exact : exact) && String(value) !== token;
}

/** The first number in a JSON text (outside its strings) for which roundsAsDouble holds. */
export function firstRoundedNumber(text: string): string | undefined {
  const tokens = /"(?:[^"\\]|\\.)*"|-?\d+(?:\.\d+)?(?:[eE][+-]?\d+)?/g;
  for (let match = tokens.exec(text); match; match = tokens.exec(text)) {
    if (!match[0].startsWith('"') && roundsAsDouble(match[0])) return match[0];
  }
  return undefined;
}

/** What a refusal of such a number says, the same in the API, the CLI and the dashboard. */
export function roundedNumberMessage(sent: string): string {
  return `${sent} has more digits than a 64-bit float holds: it would be stored and compared as ${JSON.stringify(Number(sent))}. Write it as a string, or as a number within ±9007199254740991`;
}
