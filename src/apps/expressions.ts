import { setFlagsFromString } from 'node:v8';
import jsonata from 'jsonata';
import { pathDots } from './path-dots.ts';

// Every regex of an App expression runs on V8's linear-time engine (the `l` flag), so no pattern
// can take exponential time on a short input (`/^(a|a)*$/` on 28 characters held the event loop
// for 14 s, `/^(a|a){1,64}$/` as long). That engine has no case-insensitive mode,
// backreferences, lookaround or repeat counts past 16: regex literals using them are refused
// when the expression is compiled (definitions saved before: see legacyLiterals), and any a
// `$eval` builds at run time fails its step. Set once
// for the process, before any app runs. (Schema `pattern`s run on RE2: linear-pattern.ts.)
setFlagsFromString('--enable-experimental-regexp-engine');
setFlagsFromString('--enable-experimental-regexp-engine-on-excessive-backtracks');

/**
 * Regex literals of definitions saved before regexes had to run in linear time, which the linear
 * engine cannot run (`/^[a-z]{1,20}$/`): they run as they did then (backtracking, with V8's
 * fallback on excessive backtracking), so an app deployed then keeps answering. Saving it again
 * asks for a rewrite. Only literals of the stored text: a regex `$eval` builds at run time is
 * never one of them.
 */
const legacyLiterals = new WeakSet<RegExp>();

/** The regex class JSONata builds every regex with: the same pattern on the linear engine. */
class LinearRegExp extends RegExp {
  constructor(pattern: RegExp | string, flags?: string) {
    const source = typeof pattern === 'string' ? pattern : pattern.source;
    const given = (flags ?? (typeof pattern === 'string' ? '' : pattern.flags)).replace('l', '');
    super(source, typeof pattern !== 'string' && legacyLiterals.has(pattern) ? given : `${given}l`);
  }
}

/**
 * Each object in a JSONata AST (nodes, and the arrays, pairs and regexes they hold), with its
 * depth: how many nodes (objects with a `type`) hold it, itself included, as JSONata's stack
 * counts them when it evaluates them (a predicate, `a[…]`, runs beside its step, not inside it;
 * so do some right sides of `~>` and bodies of functions: levelsSaved). Walked without recursion, in the order a
 * recursive walk would take, so that no depth of input can overflow the stack here.
 */
function* astObjects(ast: unknown): Generator<[value: object, depth: number]> {
  const pending: Array<[value: unknown, depth: number]> = [[ast, 0]];
  for (let next = pending.pop(); next !== undefined; next = pending.pop()) {
    const [value, above] = next;
    if (typeof value !== 'object' || value === null) continue;
    const type = (value as Node).type;
    const depth = type === 'filter' ? above - 1 : typeof type === 'string' ? above + 1 : above;
    yield [value, depth];
    if (value instanceof RegExp) continue;
    const children = Array.isArray(value) ? value : Object.values(value);
    for (let i = children.length - 1; i >= 0; i--) {
      const child = children[i];
      pending.push([child, depth - levelsSaved(value as Node, child)]);
    }
  }
}

/**
 * How many levels less than the usual one below `node` JSONata's stack is at when it evaluates
 * `child`. The right side of `lhs ~> rhs` when it is a call, `~> $f(x)`: the call is invoked with
 * the left side as its first argument without being evaluated as a node of its own, so its
 * procedure and arguments are one level below the `~>`. Whatever a function written in place,
 * `function($v){…}`, holds: its body runs when the function is applied, by the `~>` it is the
 * right side of or by the call it is an argument of, one level below that, which is where the
 * function itself was evaluated. (A function bound to a variable and called elsewhere runs where
 * it is called, which no count of the text can know: JSONata's own stack budget stops that one.
 * A call that ends a function's body, which JSONata runs as a thunk a level higher, is counted
 * one level deeper than it runs: counting it at the thunk's level would let functions nested in
 * such calls nest without limit.)
 */
function levelsSaved(node: Node, child: unknown): number {
  if (node.type === 'lambda') return 1;
  if (node.type === 'apply' && child === node.rhs && (child as Node | undefined)?.type === 'function')
    return 1;
  return 0;
}

/** Each regex literal of `ast` (a JSONata AST). */
function regexLiterals(ast: unknown): RegExp[] {
  const out: RegExp[] = [];
  for (const [value] of astObjects(ast)) if (value instanceof RegExp) out.push(value);
  return out;
}

function runsLinear(regex: RegExp): boolean {
  try {
    new RegExp(regex.source, `${regex.flags.replace('l', '')}l`);
    return true;
  } catch {
    return false;
  }
}

/**
 * JSONata expressions of app pipelines: compiled once per definition, evaluated with a time
 * budget, a stack depth and a sequence length (JSONata's own guardrails), and a size budget on
 * what they produce. Results are plain JSON (functions and sequence markers are dropped).
 *
 * JSONata checks its time budget between evaluation steps, so one built-in call runs to its end:
 * the built-ins that could run long on a short input are bounded here instead. `$pad` refuses a
 * width past 1 MiB (a large one aborted the whole process), `$eval` a text a saved expression
 * could not be (costlySource), regexes run in linear time
 * (LinearRegExp; a regex literal the linear engine cannot run is refused when the expression is
 * compiled), and a result is measured before it is serialized.
 */

export const EXPRESSION_TIMEOUT_MS = 250;
export const PIPELINE_TIMEOUT_MS = 2_000;
/** As large as an App body may be (APP_BODY_LIMIT), so a step can pass a body on whole. */
export const MAX_OUTPUT_BYTES = 5 * 1024 * 1024;
const MAX_DEPTH = 300;
const MAX_SEQUENCE = 100_000;
const MAX_SOURCE_LENGTH = 10_000;
/**
 * JSONata's parser goes over a path's earlier steps again at each `.` (processAST), so one path
 * of n steps costs n² to compile: 5 000 steps (10 000 characters) took 0.35-0.56 s, twice when
 * saved, against 10-20 ms for other expressions of that length, and a definition holds hundreds
 * of expressions. The `.` of paths are counted (pathDots: not those in strings, names in
 * backticks, regexes, comments or numbers): 1 000 compile in about 20 ms.
 */
const MAX_DOTS = 1_000;
/** Arrays and objects in a result nest at most this deep: far from JSON.stringify's stack limit. */
const MAX_NESTING = 1_000;
/**
 * A saved expression's operands, brackets and calls nest at most this deep. JSONata evaluates one
 * level of its tree per level of its stack, which stops at MAX_DEPTH, so a deeper expression could
 * never run to its end; and its parser recurses once a level (about 1 800 brackets overflowed
 * the stack, and walks of the tree did at 5 000 terms of `1+1+…`).
 */
const MAX_EXPRESSION_NESTING = MAX_DEPTH;
const TOO_DEEP = `Nested more than ${MAX_EXPRESSION_NESTING} levels deep (operands, brackets, calls), deeper than JSONata runs: split it into steps, bind parts to variables ($a := …), or sum a list with $sum([…])`;

export interface Expression {
  source: string;
  evaluate(context: object): Promise<unknown>;
}

/** Why an expression failed: a syntax error at definition time, or one of these at run time. */
export class ExpressionError extends Error {
  constructor(
    message: string,
    readonly kind: 'syntax' | 'runtime' | 'timeout' | 'size',
  ) {
    super(message);
    this.name = 'ExpressionError';
  }
}

interface JsonataFailure {
  code?: string;
  message?: string;
  position?: number;
  token?: string;
}

function describe(error: unknown): JsonataFailure {
  return typeof error === 'object' && error !== null ? (error as JsonataFailure) : { message: String(error) };
}

/**
 * Compiles `source`, or throws an ExpressionError that says where it does not parse. `stored`: a
 * definition saved earlier (not being saved now) compiles as it did then (legacyLiterals).
 */
export function compileExpression(source: string, stored = false): Expression {
  const tooCostly = costlySource(source, !stored);
  if (tooCostly) throw new ExpressionError(tooCostly, 'syntax');
  let compiled: jsonata.Expression;
  try {
    compiled = jsonata(source, {
      timeout: EXPRESSION_TIMEOUT_MS,
      stack: MAX_DEPTH,
      sequence: MAX_SEQUENCE,
      RegexEngine: LinearRegExp as unknown as RegExpConstructor,
    });
    const errors = (compiled as unknown as { errors?: () => unknown }).errors?.();
    if (Array.isArray(errors) && errors.length > 0) throw errors[0];
  } catch (error) {
    // The parser recursed past the stack: refused like any expression nested too deep, and one
    // stored before fails its step when it runs, not the whole app when it is loaded.
    if (error instanceof RangeError) {
      if (stored) return failing(source, new ExpressionError(TOO_DEEP, 'timeout'));
      throw new ExpressionError(TOO_DEEP, 'syntax');
    }
    const e = describe(error);
    const at = typeof e.position === 'number' ? ` at position ${e.position}` : '';
    throw new ExpressionError(`Expression does not parse${at}: ${e.message ?? 'syntax error'}`, 'syntax');
  }
  if (stored) {
    // Not held to the depth saved ones are: evaluation stops at MAX_DEPTH, and a branch deeper
    // than that which never runs keeps the step answering as it did.
    for (const literal of regexLiterals(compiled.ast()))
      if (!runsLinear(literal)) legacyLiterals.add(literal);
  } else {
    const unsafe = tooDeep(compiled.ast()) ?? unsafeRegex(compiled.ast());
    if (unsafe) throw new ExpressionError(unsafe, 'syntax');
  }
  compiled.registerFunction('pad', boundedPad, '<s-ns?:s>');
  compiled.registerFunction('eval', boundedEval, '<sx?:x>');
  return {
    source,
    async evaluate(context) {
      let result: unknown;
      try {
        result = await compiled.evaluate(context);
      } catch (thrown) {
        // A budget `$eval`'s expression ran out of is this expression's budget (D3121 wraps it).
        const wrapped = (thrown as { error?: unknown } | null)?.error;
        const error = describe(thrown).code === 'D3121' && budgetCode(wrapped) ? wrapped : thrown;
        if (error instanceof ExpressionError) throw error;
        const e = describe(error);
        if (e.code === 'D1012')
          throw new ExpressionError(`Expression ran longer than ${EXPRESSION_TIMEOUT_MS} ms`, 'timeout');
        if (e.code === 'D1011')
          throw new ExpressionError(`Expression recursed deeper than ${MAX_DEPTH} levels`, 'timeout');
        if (e.code === 'D2015')
          throw new ExpressionError(`Expression built a sequence longer than ${MAX_SEQUENCE} items`, 'size');
        // JSONata's stack budget comes first; a RangeError's own text names engine internals.
        if (error instanceof RangeError)
          throw /call stack/i.test(error.message)
            ? new ExpressionError('Expression nested or recursed too deeply to evaluate', 'timeout')
            : new ExpressionError('Expression built a value larger than JavaScript can hold', 'size');
        throw new ExpressionError(`Expression failed: ${e.message ?? 'evaluation error'}`, 'runtime');
      }
      return toJson(result);
    },
  };
}

/** JSONata's codes of a budget run out: time, stack, sequence length. */
function budgetCode(error: unknown): boolean {
  const code = describe(error).code;
  return code === 'D1012' || code === 'D1011' || code === 'D2015';
}

/** An expression that fails with `error` whenever it runs. */
function failing(source: string, error: ExpressionError): Expression {
  return {
    source,
    evaluate: () => Promise.reject(error),
  };
}

/** TOO_DEEP when `ast` nests more than MAX_EXPRESSION_NESTING nodes deep, else undefined. */
function tooDeep(ast: unknown): string | undefined {
  for (const [, depth] of astObjects(ast)) if (depth > MAX_EXPRESSION_NESTING) return TOO_DEEP;
  return undefined;
}

/** Why JSONata would take long to parse `source`, or undefined (`dots`: held to MAX_DOTS). */
function costlySource(source: string, dots: boolean): string | undefined {
  if (source.length > MAX_SOURCE_LENGTH) return `Expression longer than ${MAX_SOURCE_LENGTH} characters`;
  if (!dots) return undefined;
  if (pathDots(source, MAX_DOTS) > MAX_DOTS)
    return `Expression holds more than ${MAX_DOTS} "." of paths (a path that long takes long to compile): split it into steps, or bind parts to variables ($a := …)`;
  return undefined;
}

/** JSONata's own `$eval`, taken once. */
const builtinEval = (
  (await jsonata('$eval').evaluate({})) as { implementation: (...args: unknown[]) => unknown }
).implementation;

/**
 * `$eval`, held to the rules of a saved expression: it parses its text in one call, which no
 * time budget can stop midway, and that text may come from the request (a 5 MiB body).
 */
async function boundedEval(this: unknown, source: unknown, focus?: unknown): Promise<unknown> {
  const tooCostly = typeof source === 'string' ? costlySource(source, true) : undefined;
  if (tooCostly) throw new ExpressionError(`$eval: ${tooCostly}`, 'size');
  try {
    return await builtinEval.call(this, source, focus);
  } catch (error) {
    // Its parser recursed past the stack (D3120 wraps what the parser threw).
    if (describe(error).code === 'D3120' && (error as { error?: unknown }).error instanceof RangeError)
      throw new ExpressionError(`$eval: ${TOO_DEEP}`, 'size');
    throw error;
  }
}

/** JSONata's own `$pad`, taken once. */
const builtinPad = (
  (await jsonata('$pad').evaluate({})) as { implementation: (...args: unknown[]) => unknown }
).implementation;

/** The most one `$pad` may build: one native call, which no time budget can stop midway. */
const MAX_PAD_BYTES = 1024 * 1024;

/** `$pad`, refusing a width that would build more than MAX_PAD_BYTES before anything can stop it. */
function boundedPad(text: unknown, width: unknown, char?: unknown): unknown {
  const unit = typeof char === 'string' && char.length > 0 ? char.length : 1;
  if (typeof width === 'number' && Math.abs(width) * unit > MAX_PAD_BYTES) {
    throw new ExpressionError(`$pad width ${width} would build more than ${MAX_PAD_BYTES} bytes`, 'size');
  }
  return builtinPad(text, width, char);
}

/**
 * Why the first regex literal in the expression cannot be promised linear time, or undefined:
 * the linear engine runs neither the `i` flag nor backreferences nor lookaround.
 */
function unsafeRegex(ast: unknown): string | undefined {
  for (const [node] of astObjects(ast)) {
    const n = node as Node;
    if (n.type !== 'regex' || !(n.value instanceof RegExp)) continue;
    const written = `/${n.value.source}/`;
    if (n.value.flags.includes('i'))
      return `Regex ${written}i: a case-insensitive regex can take exponential time on a short input; match $lowercase(…) of the text instead`;
    if (/\\[1-9]|\\k<|\(\?<?[=!]/.test(n.value.source))
      return `Regex ${written}: a backreference or lookaround can take exponential time on a short input; rewrite it without`;
    if (!runsLinear(n.value))
      return `Regex ${written}: cannot run in linear time (a repeat count past 16, like {17} or {1,40}, or repeats nested in repeats, can take exponential time on a short input); use + or * and check the length with $length(…)`;
  }
  return undefined;
}

/**
 * Why `value` is past the output budget without serializing it, or undefined: its JSON is surely
 * longer than `budget`, or it nests deeper than MAX_NESTING (`$reduce` wrapping an object in
 * another: small, but past a few thousand levels JSON.stringify overflows the stack). Its length
 * is counted from below, each value and key as JSON writes it at the least (a string's quotes
 * and characters, not its escapes; a number's digits; brackets, commas and colons): a string built
 * by `$replace` or `$join` can be hundreds of millions of characters that cost nothing until they
 * are flattened, and a value can hold one object many times over (`[1..10000].($deep)`), which
 * JSON.stringify writes out each time, so every item walked here counts at least 1, and the walk
 * ends past the budget as soon as JSON.stringify's text would.
 */
function overBudget(
  value: unknown,
  budget: number,
): { over?: string; functions: boolean; nonFinite: boolean } {
  const over = `Expression produced more than ${budget} bytes`;
  let total = 0;
  let functions = false;
  let nonFinite = false;
  const pending: Array<[item: unknown, depth: number]> = [[value, 0]];
  while (pending.length > 0) {
    const [item, depth] = pending.pop() as [unknown, number];
    if (isJsonataFunction(item)) {
      // Written as nothing (an array's null): never walked, a lambda holds its whole environment.
      functions = true;
      total += 4;
    } else if (typeof item === 'string') total += item.length + 2;
    else if (typeof item === 'number') {
      if (Number.isFinite(item)) total += String(item).length;
      else {
        nonFinite = true;
        total += 4;
      }
    } else if (typeof item === 'boolean') total += item ? 4 : 5;
    else if (item === null) total += 4;
    else if (typeof item === 'object') {
      if (depth >= MAX_NESTING)
        return {
          over: `Expression produced a value nested more than ${MAX_NESTING} levels deep`,
          functions,
          nonFinite,
        };
      if (Array.isArray(item)) {
        // Its brackets and commas.
        total += 1 + item.length;
        if (total > budget) return { over, functions, nonFinite };
        for (const element of item) pending.push([element, depth + 1]);
      } else {
        total += 1;
        for (const [key, element] of Object.entries(item)) {
          // JSON.stringify leaves out what it cannot write (a function, nothing): so does the count.
          if (element === undefined || typeof element === 'function' || isJsonataFunction(element)) {
            functions ||= element !== undefined;
            continue;
          }
          // The key, its quotes and colon, and a comma or the closing brace.
          total += key.length + 4;
          if (total > budget) return { over, functions, nonFinite };
          pending.push([element, depth + 1]);
        }
      }
    }
    if (total > budget) return { over, functions, nonFinite };
  }
  return { functions, nonFinite };
}

/**
 * A function JSONata made: a built-in (`$uppercase`) or a lambda (`function($x){…}`), as JSONata
 * holds them, objects flagged `_jsonata_function`/`_jsonata_lambda` (JSON data never holds the
 * JavaScript function beside the flag). JSON.stringify would write the first as
 * `{"_jsonata_function":true,"signature":…}` and walk the second's environment.
 */
function isJsonataFunction(value: unknown): boolean {
  if (typeof value !== 'object' || value === null) return false;
  const f = value as {
    _jsonata_function?: unknown;
    implementation?: unknown;
    _jsonata_lambda?: unknown;
    apply?: unknown;
    environment?: { bind?: unknown } | null;
  };
  return (
    (f._jsonata_function === true && typeof f.implementation === 'function') ||
    // A partially applied one (`$substring(?, 0, 2)`) has no `apply`, only its environment's `bind`.
    (f._jsonata_lambda === true &&
      (typeof f.apply === 'function' || typeof f.environment?.bind === 'function'))
  );
}

/** JSON.stringify's replacer that leaves JSONata's functions out, as it leaves out JavaScript's. */
const withoutFunctions = (_key: string, value: unknown) => (isJsonataFunction(value) ? undefined : value);

/** The value as plain JSON, within the size budget; `undefined` stays `undefined` (JSONata's "nothing"). */
export function toJson(value: unknown): unknown {
  if (value === undefined) return undefined;
  const { over, functions, nonFinite } = overBudget(value, MAX_OUTPUT_BYTES);
  if (over) throw new ExpressionError(over, 'size');
  // JSON has no Infinity or NaN (JSONata's `1/0`): it would be written as null, and a record or
  // an answer changed without a word. JSONata refuses them elsewhere (`-(1/0)`, `$power(10, 400)`).
  if (nonFinite)
    throw new ExpressionError(
      'Expression produced a number JSON cannot hold (Infinity or NaN: a division by zero?)',
      'runtime',
    );
  const text = functions ? JSON.stringify(value, withoutFunctions) : JSON.stringify(value);
  if (text === undefined) return undefined;
  if (text.length > MAX_OUTPUT_BYTES || Buffer.byteLength(text) > MAX_OUTPUT_BYTES) {
    throw new ExpressionError(`Expression produced more than ${MAX_OUTPUT_BYTES} bytes`, 'size');
  }
  return JSON.parse(text) as unknown;
}

type Node = Record<string, unknown> & { type?: string };

/**
 * The top-level names an expression reads from its input (the pipeline context), e.g. `order` in
 * `$count(order.items)`, with the member read of each (`items`); names inside predicates, lambdas
 * and later path steps are relative to something else and are not reported.
 */
export function contextReads(source: string): ContextReads {
  const out: ContextReads = { names: new Set(), members: [] };
  let ast: Node;
  try {
    ast = jsonata(source).ast() as unknown as Node;
  } catch {
    return out;
  }
  visit(ast, out);
  return out;
}

/** The top-level names, and the member each top-level path reads next (`params.id`: params, id). */
export interface ContextReads {
  names: Set<string>;
  members: Array<[root: string, member: string]>;
}

function visit(ast: unknown, out: ContextReads): void {
  const children = (value: unknown): unknown[] => (Array.isArray(value) ? value : []);
  // Without recursion: a saved expression nests at most MAX_EXPRESSION_NESTING deep, but this
  // reads any text it is given.
  const pending: unknown[] = [ast];
  while (pending.length > 0) {
    const node = pending.pop();
    if (typeof node !== 'object' || node === null) continue;
    const n = node as Node;
    switch (n.type) {
      case 'name':
        if (typeof n.value === 'string') out.names.add(n.value);
        break;
      case 'path': {
        const [first, second] = children(n.steps) as Node[];
        pending.push(first);
        if (first?.type === 'name' && second?.type === 'name')
          if (typeof first.value === 'string' && typeof second.value === 'string')
            out.members.push([first.value, second.value]);
        break;
      }
      case 'function':
      case 'partial':
        pending.push(...children(n.arguments));
        break;
      case 'binary':
      case 'apply': // `x ~> $f(y)`: both sides read the context
        pending.push(n.lhs, n.rhs);
        break;
      case 'unary':
        if (n.value === '{') for (const pair of children(n.lhs)) pending.push(...children(pair));
        else if (n.value === '[') pending.push(...children(n.expressions));
        else pending.push(n.expression);
        break;
      case 'condition':
        pending.push(n.condition, n.then, n.else);
        break;
      case 'block':
        pending.push(...children(n.expressions));
        break;
      case 'bind':
        pending.push(n.rhs);
        break;
    }
  }
}
