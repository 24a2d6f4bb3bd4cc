import { RE2JS } from 're2js';

/**
 * JSON Schema `pattern`s (and `patternProperties`, `propertyNames`) run on RE2 (re2js), which
 * matches in time linear in the input: a pattern such as `^(a+)+$` on V8's backtracking engine
 * held the event loop for minutes on 34 characters, and V8's linear fallback does not apply to
 * the `u` patterns JSON Schema needs. A pattern must be ECMAScript syntax with Unicode semantics
 * (JSON Schema's dialect, checked by V8 first); it is rewritten into RE2's syntax with the same
 * meaning (`\s`, `\S`, `.`, `\uXXXX`, `[^]`, `[\b]`, `\p{Script=…}`, …). What RE2 cannot run
 * (lookaround, backreferences, some `\p{…}`), and patterns so large that each character would
 * cost too much, are refused when a schema is saved; schemas stored before this rule keep running
 * those on V8.
 */

/** ECMAScript's `\s` (WhiteSpace and LineTerminator), as the inside of an RE2 class. */
const SPACE =
  '\\t\\n\\x{0B}\\f\\r \\x{A0}\\x{1680}\\x{2000}-\\x{200A}\\x{2028}\\x{2029}\\x{202F}\\x{205F}\\x{3000}\\x{FEFF}';
/** ECMAScript's `\S` (every code point but those of SPACE), as the inside of an RE2 class. */
const NOT_SPACE =
  '\\x{0}-\\x{8}\\x{E}-\\x{1F}\\x{21}-\\x{9F}\\x{A1}-\\x{167F}\\x{1681}-\\x{1FFF}\\x{200B}-\\x{2027}' +
  '\\x{202A}-\\x{202E}\\x{2030}-\\x{205E}\\x{2060}-\\x{2FFF}\\x{3001}-\\x{FEFE}\\x{FF00}-\\x{10FFFF}';
/** ECMAScript's `.` without the `s` flag: anything but a line terminator. */
const ANY_BUT_NEWLINE = '[^\\n\\r\\x{2028}\\x{2029}]';

/** Unicode general categories by their long ECMAScript names, as RE2 names them. */
const CATEGORIES: Record<string, string> = {
  Letter: 'L',
  Uppercase_Letter: 'Lu',
  Lowercase_Letter: 'Ll',
  Titlecase_Letter: 'Lt',
  Modifier_Letter: 'Lm',
  Other_Letter: 'Lo',
  Mark: 'M',
  Combining_Mark: 'M',
  Nonspacing_Mark: 'Mn',
  Spacing_Mark: 'Mc',
  Enclosing_Mark: 'Me',
  Number: 'N',
  Decimal_Number: 'Nd',
  digit: 'Nd',
  Letter_Number: 'Nl',
  Other_Number: 'No',
  Punctuation: 'P',
  punct: 'P',
  Connector_Punctuation: 'Pc',
  Dash_Punctuation: 'Pd',
  Open_Punctuation: 'Ps',
  Close_Punctuation: 'Pe',
  Initial_Punctuation: 'Pi',
  Final_Punctuation: 'Pf',
  Other_Punctuation: 'Po',
  Symbol: 'S',
  Math_Symbol: 'Sm',
  Currency_Symbol: 'Sc',
  Modifier_Symbol: 'Sk',
  Other_Symbol: 'So',
  Separator: 'Z',
  Space_Separator: 'Zs',
  Line_Separator: 'Zl',
  Paragraph_Separator: 'Zp',
  Other: 'C',
  Control: 'Cc',
  cntrl: 'Cc',
  Format: 'Cf',
  Surrogate: 'Cs',
  Private_Use: 'Co',
  Unassigned: 'Cn',
};

/** `\p{…}`'s inside as RE2 reads it, or undefined when RE2 has no such property. */
function re2Property(name: string): string | undefined {
  const [key, value] = name.includes('=') ? name.split('=', 2) : [undefined, name];
  if (value === undefined) return undefined;
  // A script: `Script=Latin`, `sc=Latin` (RE2 takes long script names alone).
  if (key === 'Script' || key === 'sc') return /^[A-Z][A-Za-z_]+$/.test(value) ? value : undefined;
  if (key !== undefined && key !== 'General_Category' && key !== 'gc') return undefined;
  return CATEGORIES[value] ?? value;
}

const hex = (code: number) => `\\x{${code.toString(16).toUpperCase()}}`;

/** A pattern in RE2's syntax, or why RE2 cannot run it. */
export type Rewritten = { re2: string } | { refused: string };

/** The pattern (valid ECMAScript with `u`) in RE2 syntax, with the same meaning. */
export function toRe2Syntax(pattern: string): Rewritten {
  let out = '';
  let inClass = false;
  for (let i = 0; i < pattern.length; i++) {
    const c = pattern[i] as string;
    if (c === '\\') {
      const next = pattern[i + 1] as string;
      i++;
      if (next === 'u') {
        const braced = /^\{([0-9A-Fa-f]{1,6})\}/.exec(pattern.slice(i + 1));
        if (braced) {
          out += hex(Number.parseInt(braced[1] as string, 16));
          i += braced[0].length;
          continue;
        }
        const unit = /^[0-9A-Fa-f]{4}/.exec(pattern.slice(i + 1)) as RegExpExecArray;
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
      } else if (next === '0') {
        out += hex(0);
      } else if (/[1-9k]/.test(next)) {
        return { refused: 'backreferences (\\1, \\k<name>) are not supported' };
      } else if (next === 'b' && inClass) {
        out += hex(8);
      } else if (next === 's') {
        out += inClass ? SPACE : `[${SPACE}]`;
      } else if (next === 'S') {
        out += inClass ? NOT_SPACE : `[${NOT_SPACE}]`;
      } else if (next === 'p' || next === 'P') {
        const end = pattern.indexOf('}', i);
        const name = pattern.slice(i + 2, end);
        const property = re2Property(name);
        if (property === undefined) {
          return {
            refused: `\\${next}{${name}} is not supported: use a general category (\\p{L}, \\p{Nd}) or a script (\\p{Latin})`,
          };
        }
        out += `\\${next}{${property}}`;
        i = end;
      } else {
        out += `\\${next}`;
      }
    } else if (inClass) {
      if (c === ']') inClass = false;
      out += c === '[' ? '\\[' : c;
    } else if (c === '(' && /^\(\?<?[=!]/.test(pattern.slice(i, i + 4))) {
      return { refused: 'lookahead and lookbehind are not supported' };
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
  return { re2: out };
}

/**
 * The largest RE2 program a pattern may compile to: matching costs about this many steps per
 * character at worst (`[ab]{0,300}[^ab]`, 603, took 14 ms per 100 KB; 2003 took 168 ms).
 */
export const MAX_PROGRAM_SIZE = 1000;

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
 * Runs `compile` for a schema stored before patterns had to run on RE2: a pattern RE2 cannot
 * run is built as V8 builds it, as it was then (so the endpoint keeps answering).
 */
export function compilingStored<T>(compile: () => T): T {
  storedCompile = true;
  try {
    return compile();
  } finally {
    storedCompile = false;
  }
}

/** The pattern on RE2, or why it cannot be. */
function onRe2(pattern: string): LinearPattern | string {
  const rewritten = toRe2Syntax(pattern);
  if ('refused' in rewritten) return rewritten.refused;
  let compiled: RE2JS;
  try {
    compiled = RE2JS.compile(rewritten.re2);
  } catch (error) {
    const said = error instanceof Error ? error.message : String(error);
    return /repeat count|too large/.test(said)
      ? 'it is too large (repeat counts multiply; at most 1000 in all)'
      : `the linear-time engine cannot read it (${said})`;
  }
  if (compiled.programSize() > MAX_PROGRAM_SIZE) {
    return `it is too large for fast matching (repeat counts multiply: ${compiled.programSize()} steps per character, at most ${MAX_PROGRAM_SIZE})`;
  }
  return new LinearPattern(pattern, compiled);
}

/** Ajv's `code.regExp`: every pattern of every schema goes through here. */
export const linearRegExp = Object.assign(
  (pattern: string, flags: string): { test(text: string): boolean } => {
    // JSON Schema's dialect first: what V8 refuses (RE2-only syntax such as (?i) or \z) is refused.
    const native = new RegExp(pattern, flags);
    const linear = onRe2(pattern);
    if (typeof linear !== 'string') return linear;
    if (storedCompile) return native;
    throw new NonLinearPattern(`The pattern "${pattern}" cannot be matched in linear time: ${linear}`);
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
