import { RE2JS } from 're2js';

/**
 * JSON Schema `pattern`s (and `patternProperties`, `propertyNames`) run on RE2 (re2js), which
 * matches in time linear in the input: a pattern such as `^(a+)+$` on V8's backtracking engine
 * held the event loop for minutes on 34 characters, and V8's linear fallback does not apply to
 * the `u` patterns JSON Schema needs. A pattern is ECMAScript syntax with Unicode semantics; it
 * is rewritten into RE2's syntax with the same meaning (`\s`, `.`, `\uXXXX`, `[^]`, …). What RE2
 * cannot run in linear time (lookaround, backreferences, repeat counts past 1000) is refused
 * when a schema is saved; schemas stored before this rule keep running those few on V8.
 */

/** ECMAScript's `\s` (WhiteSpace and LineTerminator), as the inside of an RE2 class. */
const SPACE =
  '\\t\\n\\x{0B}\\f\\r \\x{A0}\\x{1680}\\x{2000}-\\x{200A}\\x{2028}\\x{2029}\\x{202F}\\x{205F}\\x{3000}\\x{FEFF}';
/** ECMAScript's `.` without the `s` flag: anything but a line terminator. */
const ANY_BUT_NEWLINE = '[^\\n\\r\\x{2028}\\x{2029}]';

const hex = (code: number) => `\\x{${code.toString(16).toUpperCase()}}`;

/**
 * The pattern in RE2 syntax, or `undefined` when it uses what RE2 does not have
 * (backreferences; lookaround and the rest are left for RE2's parser to refuse).
 */
export function toRe2Syntax(pattern: string): string | undefined {
  let out = '';
  let inClass = false;
  for (let i = 0; i < pattern.length; i++) {
    const c = pattern[i] as string;
    if (c === '\\') {
      const next = pattern[i + 1];
      if (next === undefined) return undefined;
      i++;
      if (next === 'u') {
        const braced = /^\{([0-9A-Fa-f]{1,6})\}/.exec(pattern.slice(i + 1));
        if (braced) {
          out += hex(Number.parseInt(braced[1] as string, 16));
          i += braced[0].length;
          continue;
        }
        const unit = /^[0-9A-Fa-f]{4}/.exec(pattern.slice(i + 1));
        if (!unit) return undefined;
        let code = Number.parseInt(unit[0], 16);
        i += 4;
        const low = /^\\u(D[C-F][0-9A-Fa-f]{2})/i.exec(pattern.slice(i + 1));
        if (code >= 0xd800 && code <= 0xdbff && low) {
          code = 0x10000 + ((code - 0xd800) << 10) + (Number.parseInt(low[1] as string, 16) - 0xdc00);
          i += 6;
        }
        out += hex(code);
      } else if (next === 'c' && /[A-Za-z]/.test(pattern[i + 1] ?? '')) {
        out += hex((pattern.charCodeAt(i + 1) as number) % 32);
        i++;
      } else if (next === '0' && !/\d/.test(pattern[i + 1] ?? '')) {
        out += hex(0);
      } else if (/[1-9k]/.test(next) && !inClass) {
        return undefined; // a backreference
      } else if (next === 's') {
        out += inClass ? SPACE : `[${SPACE}]`;
      } else if (next === 'S' && !inClass) {
        out += `[^${SPACE}]`;
      } else {
        out += `\\${next}`;
      }
    } else if (inClass) {
      if (c === ']') inClass = false;
      out += c === '[' ? '\\[' : c;
    } else if (c === '[') {
      if (pattern.startsWith('[^]', i)) {
        out += '[\\x{0}-\\x{10FFFF}]';
        i += 2;
      } else if (pattern.startsWith('[]', i)) {
        out += '[^\\x{0}-\\x{10FFFF}]';
        i += 1;
      } else {
        inClass = true;
        out += c;
        // A `]` right after `[` or `[^` closes nothing in RE2: ECMAScript ends the class there.
        if (pattern[i + 1] === '^') {
          out += '^';
          i++;
        }
      }
    } else if (c === '.') {
      out += ANY_BUT_NEWLINE;
    } else {
      out += c;
    }
  }
  return out;
}

/** A compiled pattern, as Ajv uses one: `test` finds a match anywhere in the string. */
class LinearPattern {
  constructor(
    private readonly source: string,
    private readonly re2: RE2JS,
  ) {}
  test(text: string): boolean {
    return this.re2.test(text);
  }
  /** Ajv shares compiled patterns by this key. */
  toString(): string {
    return `re2:/${this.source}/u`;
  }
}

/** Thrown while compiling a new schema whose pattern RE2 cannot run. */
export class NonLinearPattern extends Error {}

let storedCompile = false;

/**
 * Runs `compile` for a schema stored before patterns had to run in linear time: a pattern RE2
 * cannot run is built as V8 builds it, as it was then (so the endpoint keeps answering).
 */
export function compilingStored<T>(compile: () => T): T {
  storedCompile = true;
  try {
    return compile();
  } finally {
    storedCompile = false;
  }
}

/** Ajv's `code.regExp`: every pattern of every schema goes through here. */
export const linearRegExp = Object.assign(
  (pattern: string, flags: string): { test(text: string): boolean } => {
    const rewritten = toRe2Syntax(pattern);
    if (rewritten !== undefined) {
      try {
        return new LinearPattern(pattern, RE2JS.compile(rewritten));
      } catch {
        // Refused below.
      }
    }
    if (storedCompile) return new RegExp(pattern, flags);
    // Said first if the pattern is not even an ECMAScript one.
    new RegExp(pattern, flags);
    throw new NonLinearPattern(
      `The pattern "${pattern}" cannot be matched in linear time: lookahead, lookbehind, backreferences and repeat counts past 1000 are not supported`,
    );
  },
  { code: 'linearRegExp' },
);

/** Keywords whose values are data, not schemas: a `pattern` key in them is not a pattern. */
const DATA_KEYWORDS = new Set(['const', 'enum', 'default', 'examples']);

/**
 * Each pattern of a schema being saved that is not a Unicode ECMAScript pattern, or that RE2
 * cannot run, with where it is (`schema.properties.code.pattern`): said before Ajv compiles,
 * which would name neither.
 */
export function patternProblems(schema: unknown, field: string): Array<{ field: string; error: string }> {
  const problems: Array<{ field: string; error: string }> = [];
  const check = (pattern: string, at: string) => {
    try {
      linearRegExp(pattern, 'u');
    } catch (error) {
      problems.push({ field: at, error: error instanceof Error ? error.message : String(error) });
    }
  };
  const walk = (node: unknown, at: string): void => {
    if (Array.isArray(node)) {
      for (const [i, item] of node.entries()) walk(item, `${at}[${i}]`);
      return;
    }
    if (typeof node !== 'object' || node === null) return;
    for (const [key, value] of Object.entries(node)) {
      const here = `${at}.${key}`;
      if (DATA_KEYWORDS.has(key)) continue;
      if (key === 'pattern' && typeof value === 'string') check(value, here);
      else if (key === 'patternProperties' && typeof value === 'object' && value !== null) {
        for (const pattern of Object.keys(value)) check(pattern, `${here}.${pattern}`);
        walk(value, here);
      } else walk(value, here);
    }
  };
  walk(schema, field);
  return problems.slice(0, 20);
}
