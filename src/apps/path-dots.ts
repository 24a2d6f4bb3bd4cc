/**
 * How many `.` of a JSONata expression are path steps (the map operator), counted up to `limit`
 * and in one pass over the text, without parsing it: JSONata's own parser takes time that grows
 * with the square of a path's steps (expressions.ts, MAX_DOTS), so the count must come first.
 *
 * The text is read token by token as JSONata 2's tokenizer reads it, so that a `.` inside a
 * string ("…" or '…', with backslash escapes), a name in backticks, a regex literal (/…/), a
 * comment or a number (1.5) is not counted, and no quote inside one of those (or inside a name:
 * `a'b` is one name) is taken for the start of a string. The one thing the tokenizer decides
 * from the parser's state is whether a `/` starts a regex or divides: JSONata lexes a regex only
 * where an operand may start, and a regex where an operator is due (or a division where an
 * operand is) never parses. So reading `/` by whether an operand is due here counts every path
 * step of any expression JSONata parses; one it does not parse is refused as a syntax error
 * before its paths cost anything (the quadratic work comes after the parse).
 */
export function pathDots(source: string, limit: number): number {
  const length = source.length;
  let count = 0;
  let at = 0;
  /** Whether an operand may start here (else an operator is due). */
  let operand = true;
  /** Open brackets and transforms ('p': `| pattern`, 'u': `| update`), to tell a transform's last `|`. */
  const open: string[] = [];
  while (at < length && count <= limit) {
    const char = source.charAt(at);
    const next = source.charAt(at + 1);
    if (WHITESPACE.includes(char)) {
      at++;
    } else if (char === '/' && next === '*') {
      const end = source.indexOf('*/', at + 2);
      if (end === -1) break; // Unterminated: JSONata refuses it.
      at = end + 2;
    } else if (char === '/' && operand) {
      at = regexEnd(source, at + 1);
      while (source.charAt(at) === 'i' || source.charAt(at) === 'm') at++;
      operand = false;
    } else if (char === '.' && next === '.') {
      at += 2;
      operand = true;
    } else if (TWO_CHAR_OPERATORS.has(char + next)) {
      at += 2;
      // `**` (any descendant) is an operand; the others join two.
      operand = char + next !== '**';
    } else if (OPERATOR_CHARS.has(char)) {
      at++;
      if (char === '.') count++;
      operand = afterOperator(char, operand, open);
    } else if (char === '"' || char === "'") {
      at = stringEnd(source, at + 1, char);
      operand = false;
    } else if (char === '`') {
      const end = source.indexOf('`', at + 1);
      if (end === -1) break;
      at = end + 1;
      operand = false;
    } else {
      NUMBER.lastIndex = at;
      const number = NUMBER.exec(source);
      let end = number ? at + number[0].length : at;
      if (!number) while (end < length && !stopsName(source.charAt(end))) end++;
      const name = source.slice(at, end);
      // and, or, in: operators where one is due, names (fields) where an operand is.
      operand = !operand && (name === 'and' || name === 'or' || name === 'in');
      at = end;
    }
  }
  return count;
}

const WHITESPACE = ' \t\n\r\v';
/** The characters JSONata reads as operators, which also end a name. */
const OPERATOR_CHARS = new Set('.[]{}(),@#;:?+-*/%|=<>^&!~');
const TWO_CHAR_OPERATORS = new Set([':=', '!=', '>=', '<=', '**', '~>', '?:', '??']);
/** JSONata's number literal (a leading `-` is an operator by the time a number is read). */
const NUMBER = /-?(0|([1-9][0-9]*))(\.[0-9]+)?([Ee][-+]?[0-9]+)?/y;

function stopsName(char: string): boolean {
  return WHITESPACE.includes(char) || OPERATOR_CHARS.has(char);
}

/** Whether an operand may follow the one-character operator `char`, read where `operand` said. */
function afterOperator(char: string, operand: boolean, open: string[]): boolean {
  switch (char) {
    case '(':
    case '[':
    case '{':
      open.push(char);
      return true;
    case ')':
    case ']':
    case '}':
      open.pop();
      return false;
    case '*': // where an operand may start: a wildcard (an operand); else a product
    case '%': // the parent (an operand); else a remainder
    case '?': // a placeholder of a partial call, $f(?, 1) (an operand); else a condition
      return !operand;
    case '|':
      // A transform, `| pattern | update |`: its first `|` where an operand may start, its
      // second after the pattern, its last after the update (the transform is an operand then).
      if (operand) open.push('p');
      else if (open.at(-1) === 'p') open[open.length - 1] = 'u';
      else if (open.at(-1) === 'u') {
        open.pop();
        return false;
      }
      return true;
    default:
      return true;
  }
}

/** Where a string that opened with `quote` before `from` ends (past its closing quote). */
function stringEnd(source: string, from: number, quote: string): number {
  let at = from;
  while (at < source.length) {
    const char = source.charAt(at);
    if (char === quote) return at + 1;
    at += char === '\\' ? 2 : 1;
  }
  return at;
}

/**
 * Where a regex whose `/` is before `from` ends (past its closing `/`), as JSONata finds it: the
 * first `/` not escaped by an odd run of backslashes and outside brackets, each bracket counted
 * unless the character before it is a backslash.
 */
function regexEnd(source: string, from: number): number {
  let depth = 0;
  let backslashes = 0;
  for (let at = from; at < source.length; at++) {
    const char = source.charAt(at);
    if (char === '/' && depth === 0 && backslashes % 2 === 0) return at + 1;
    const escaped = source.charAt(at - 1) === '\\';
    if ('([{'.includes(char) && !escaped) depth++;
    if (')]}'.includes(char) && !escaped) depth--;
    backslashes = char === '\\' ? backslashes + 1 : 0;
  }
  return source.length;
}
