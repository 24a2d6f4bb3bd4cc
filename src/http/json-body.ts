import { isUtf8 } from 'node:buffer';
import type { IncomingHttpHeaders } from 'node:http';
import { Transform, type TransformCallback } from 'node:stream';
import type { FastifyInstance, FastifyRequest, preParsingHookHandler, RequestPayload } from 'fastify';
import secureJson from 'secure-json-parse';
import { ApiError } from '../errors.ts';
import { EXACT_DIGITS, firstRoundedNumber, keepLongIntegers } from '../infra/json/exact-json.ts';
import { refuseRepeatedContentType } from './single-header.ts';

export const MAX_REQUEST_BYTES = 5 * 1024 * 1024;

declare module 'fastify' {
  interface FastifyContextConfig {
    /** Levels a route's body wraps its records in (an import's {"records":[…]}): allowed on top of MAX_JSON_DEPTH. */
    jsonWrapDepth?: number;
    /** The route limits a DELETE's body itself (the data API, to the endpoint's max_body_bytes). */
    limitsDeleteBody?: boolean;
  }
}

/** Bodies nested deeper than this are refused: deep enough for any record, far from the stack's limit. */
export const MAX_JSON_DEPTH = 128;

/** What one pass over a JSON text finds outside its strings. */
interface JsonShape {
  /** The deepest nesting of arrays and objects. */
  depth: number;
  /** Some number has more than 15 digits: as a JavaScript number it may not come back as sent. */
  longNumber: boolean;
  /** Some string has a `\u` escape (the only way to send U+0000 or a lone surrogate). */
  unicodeEscape: boolean;
  /** Some number has an exponent (the only way to write one past a double's range, 1e400). */
  exponent: boolean;
}

const QUOTE = 34;
const BACKSLASH = 92;

function shapeOf(bytes: Buffer): JsonShape {
  let depth = 0;
  let deepest = 0;
  let digits = 0;
  let longNumber = false;
  let unicodeEscape = false;
  let exponent = false;
  let inString = false;
  for (let i = 0; i < bytes.length; i++) {
    const c = bytes[i] as number;
    if (inString) {
      if (c === BACKSLASH) {
        if (bytes[++i] === 117) unicodeEscape = true;
      } else if (c === QUOTE) inString = false;
      continue;
    }
    if (c >= 48 && c <= 57) {
      if (++digits > EXACT_DIGITS) longNumber = true;
      continue;
    }
    // An exponent follows a number's digits (the `e` of true and false does not).
    if ((c === 101 || c === 69) && digits > 0) {
      exponent = true;
      digits = 0;
      continue;
    }
    // A decimal point continues a number's digits; anything else (an exponent too) ends them.
    if (c !== 46) digits = 0;
    if (c === QUOTE) inString = true;
    else if (c === 123 || c === 91) {
      if (++depth > deepest) deepest = depth;
    } else if (c === 125 || c === 93) depth--;
  }
  return { depth: deepest, longNumber, unicodeEscape, exponent };
}

/** U+0000, which PostgreSQL text cannot hold, or half a surrogate pair, which no text can. */
const LONE_SURROGATE = /[\uD800-\uDBFF](?![\uDC00-\uDFFF])|(?<![\uD800-\uDBFF])[\uDC00-\uDFFF]/;
function unstorableText(text: string): boolean {
  return text.includes('\0') || LONE_SURROGATE.test(text);
}

/**
 * The first value that cannot be stored as sent, and why: a string (a value or a key) holding
 * U+0000 or a lone surrogate (`strings`), a number past a double's range (`numbers`: it would
 * be stored as null).
 */
function unstorable(
  value: unknown,
  at: string,
  check: { strings: boolean; numbers: boolean },
): { at: string; error: string } | undefined {
  const badString = (text: string) => check.strings && unstorableText(text);
  const where = at === '' ? '(body)' : at;
  if (typeof value === 'string') {
    return badString(value)
      ? { at: where, error: 'Holds U+0000 (\\u0000) or an unpaired surrogate (\\ud800 – \\udfff)' }
      : undefined;
  }
  if (typeof value === 'number') {
    return check.numbers && !Number.isFinite(value)
      ? { at: where, error: 'A number beyond what a 64-bit float holds (about ±1.8e308)' }
      : undefined;
  }
  if (typeof value !== 'object' || value === null) return undefined;
  if (Array.isArray(value)) {
    for (const [i, item] of value.entries()) {
      const found = unstorable(item, `${at}[${i}]`, check);
      if (found) return found;
    }
    return undefined;
  }
  for (const [key, item] of Object.entries(value)) {
    const path = at === '' ? key : `${at}.${key}`;
    if (badString(key)) return unstorable(key, path, check);
    const found = unstorable(item, path, check);
    if (found) return found;
  }
  return undefined;
}

/**
 * The first string in a value built elsewhere (an App pipeline's record data) that cannot be
 * stored, and why: the rule parseJson applies to bodies.
 */
export function unstorableString(value: unknown): { at: string; error: string } | undefined {
  return unstorable(value, '', { strings: true, numbers: false });
}

/** Parsed bodies whose numbers JSON.stringify would not give back as sent: the text to keep instead. */
const exactTexts = new WeakMap<object, string>();

/**
 * A parsed body (or any object or array in it) as JSON text to store: what JSON.stringify makes
 * of it, except that an integer of more digits than a double holds (a 64-bit id, say) keeps its
 * digits (infra/json/exact-json.ts).
 */
export function jsonText(value: unknown): string {
  return (typeof value === 'object' && value !== null && exactTexts.get(value)) || JSON.stringify(value);
}

/** Whether `value` (a parsed body) holds an integer of more digits than a double keeps. */
export function holdsLongInteger(value: unknown): boolean {
  return typeof value === 'object' && value !== null && exactTexts.has(value);
}

/** Parsed bodies holding an integer a double does not give back (roundsAsDouble): the first one, as sent. */
const roundedNumbers = new WeakMap<object, string>();

/** Where in `value` the number `target` is: a path such as `schema.properties.id.enum[0]`. */
function pathOf(value: unknown, target: number, at: string): string | undefined {
  if (typeof value === 'number') return value === target ? at : undefined;
  if (typeof value !== 'object' || value === null) return undefined;
  const entries: Array<[string, unknown]> = Array.isArray(value)
    ? value.map((item, i) => [`${at}[${i}]`, item])
    : Object.entries(value).map(([key, item]) => [at === '' ? key : `${at}.${key}`, item]);
  for (const [path, item] of entries) {
    const found = pathOf(item, target, path);
    if (found !== undefined) return found;
  }
  return undefined;
}

/**
 * The first integer in a parsed body that a double does not hold as sent (infra/json/exact-json.ts,
 * roundsAsDouble): `sent` as written, and `at`, its path in the body. Undefined when there is none (always, for values that did not come from parseJson).
 */
export function roundedInteger(body: unknown): { at: string; sent: string } | undefined {
  if (typeof body !== 'object' || body === null) return undefined;
  const sent = roundedNumbers.get(body);
  if (sent === undefined) return undefined;
  return { at: pathOf(body, Number(sent), '') ?? '', sent };
}

/**
 * Strict JSON: UTF-8 only, no `__proto__`/`constructor.prototype` keys that could pollute
 * prototypes, nested at most MAX_JSON_DEPTH deep.
 */
export function parseJson(input: Buffer, maxDepth = MAX_JSON_DEPTH): unknown {
  // A UTF-8 byte order mark is not part of the JSON (secure-json-parse skips it as well).
  const bytes = input[0] === 0xef && input[1] === 0xbb && input[2] === 0xbf ? input.subarray(3) : input;
  if (bytes.length === 0) return undefined;
  if (!isUtf8(bytes))
    throw new ApiError('invalid_json', { message: 'Invalid JSON: the body is not valid UTF-8' });
  const shape = shapeOf(bytes);
  if (shape.depth > maxDepth) {
    throw new ApiError('invalid_json', {
      message: `Invalid JSON: nested more than ${maxDepth} levels deep`,
      details: [{ field: '(body)', error: `Arrays and objects nest at most ${maxDepth} levels deep` }],
    });
  }
  const text = bytes.toString('utf8');
  let value: unknown;
  try {
    value = secureJson.parse(text, undefined, { protoAction: 'error', constructorAction: 'error' });
  } catch (error) {
    const reason =
      error instanceof SyntaxError ? error.message : 'forbidden key __proto__ or constructor.prototype';
    throw new ApiError('invalid_json', {
      message: 'Invalid JSON',
      details: [{ field: '(body)', error: reason }],
    });
  }
  if (shape.unicodeEscape || shape.exponent) {
    // PostgreSQL cannot hold U+0000 in text or JSON, nor can any text hold half a surrogate
    // pair: such a record could be written but never filtered; refused alike on SQLite. A number
    // past a double's range would be stored as null.
    const found = unstorable(value, '', { strings: shape.unicodeEscape, numbers: shape.exponent });
    if (found) {
      throw new ApiError('invalid_json', {
        message: found.error.startsWith('A number')
          ? 'Invalid JSON: a number is out of range'
          : 'Invalid JSON: strings cannot hold U+0000 or an unpaired surrogate',
        details: [{ field: found.at, error: found.error }],
      });
    }
  }
  if (shape.longNumber && typeof value === 'object' && value !== null) {
    // Every object or array that holds a long integer keeps its text: the body, or an import's records.
    keepLongIntegers(text, value, (node, nodeText) => exactTexts.set(node, nodeText));
    const rounded = firstRoundedNumber(text);
    if (rounded !== undefined) roundedNumbers.set(value, rounded);
  }
  return value;
}

export function registerJsonParser(app: FastifyInstance): void {
  app.removeAllContentTypeParsers();
  app.addContentTypeParser(
    'application/json',
    { parseAs: 'buffer', bodyLimit: MAX_REQUEST_BYTES },
    (req, body, done) => {
      try {
        // Fastify picks this parser by the media type alone: a charset is checked here.
        refuseRepeatedContentType(req);
        const type = req.headers['content-type'];
        if (!isJsonContentType(type)) throw unsupportedContentType(type);
        refuseEncodedBody(req.headers);
        // A route whose body wraps records (an import's {"records":[…]}) allows their nesting.
        const wrapping = req.routeOptions.config?.jsonWrapDepth;
        done(null, parseJson(body as Buffer, MAX_JSON_DEPTH + (wrapping ?? 0)));
      } catch (error) {
        done(error as Error, undefined);
      }
    },
  );
}

/**
 * Bodies are read as sent: one compressed (`Content-Encoding: gzip`, br, …) would be stored as its
 * bytes or refused as bad UTF-8, so any encoding but `identity` is a 415 that says so. The same
 * goes for a transfer coding other than chunked (`Transfer-Encoding: gzip, chunked`): Node's
 * parser undoes only the chunking and hands on the rest as it came.
 */
export function refuseEncodedBody(headers: IncomingHttpHeaders): void {
  const encoding = headers['content-encoding'];
  if (encoding !== undefined) {
    const value = encoding.trim().toLowerCase();
    if (value !== '' && value !== 'identity')
      throw new ApiError('unsupported_media_type', {
        message: `Content-Encoding ${value} is not supported: send the body uncompressed`,
        details: [{ field: 'Content-Encoding', error: 'Only identity (no encoding) is accepted' }],
      });
  }
  const transfer = headers['transfer-encoding'];
  if (transfer === undefined || transfer === 'chunked') return;
  const codings = transfer
    .split(',')
    .map((coding) => coding.trim().toLowerCase())
    .filter((coding) => coding !== '' && coding !== 'chunked');
  if (codings.length === 0) return;
  throw new ApiError('unsupported_media_type', {
    message: `Transfer-Encoding ${codings.join(', ')} is not supported: send the body uncompressed`,
    details: [{ field: 'Transfer-Encoding', error: 'Only chunked is accepted' }],
  });
}

/**
 * For a Content-Type of `application/json` (any parameters): the charset it names other than
 * UTF-8, or null when it names none or UTF-8. Undefined when the type is not JSON at all.
 */
function foreignCharset(header: string): string | null | undefined {
  const [type, ...params] = header.split(';');
  if (type?.trim().toLowerCase() !== 'application/json') return undefined;
  for (const param of params) {
    const [name, value = ''] = param.split('=').map((s) => s.trim().toLowerCase());
    if (name === 'charset' && value !== 'utf-8' && value !== '"utf-8"')
      return value.replace(/^"(.*)"$/, '$1');
  }
  return null;
}

/** `application/json`, optionally with `charset=utf-8`. */
export function isJsonContentType(header: string | undefined): boolean {
  if (!header) return false;
  return header === 'application/json' || foreignCharset(header) === null;
}

/**
 * The 415 for a body whose Content-Type isJsonContentType refuses: one that names the charset
 * when the type is JSON in another encoding (it would otherwise be read as UTF-8).
 */
export function unsupportedContentType(header: string | undefined): ApiError {
  const charset = header ? foreignCharset(header) : undefined;
  if (charset === null || charset === undefined) return new ApiError('unsupported_media_type');
  return new ApiError('unsupported_media_type', {
    message:
      charset === ''
        ? 'Only UTF-8 JSON is accepted: the charset parameter is empty'
        : `Only UTF-8 JSON is accepted: charset ${charset} is not supported`,
    details: [{ field: 'Content-Type', error: 'Send the body as UTF-8, with charset=utf-8 or no charset' }],
  });
}

/** The 413 that says the limit: a caller can only fix a body that is too large knowing by how much. */
export const tooLarge = (limit: number) =>
  new ApiError('payload_too_large', { message: `Payload too large: the limit is ${limit} bytes` });

/** Counts bytes as they stream in and stops at the limit, so an oversized body is never buffered whole. */
class ByteLimit extends Transform {
  private seen = 0;
  constructor(private readonly limit: number) {
    super();
  }
  override _transform(chunk: Buffer, _encoding: BufferEncoding, callback: TransformCallback): void {
    this.seen += chunk.length;
    if (this.seen > this.limit) {
      callback(tooLarge(this.limit));
      return;
    }
    callback(null, chunk);
  }
}

/**
 * For writes: 400 for a Content-Type sent twice, 415 unless JSON; 413 from Content-Length at once. Node's parser never delivers more
 * than a declared Content-Length, so only a chunked body (no length) is counted while streaming.
 */
export function guardJsonBody(
  request: FastifyRequest,
  payload: RequestPayload,
  limit: number,
): RequestPayload {
  refuseRepeatedContentType(request);
  const type = request.headers['content-type'];
  if (!isJsonContentType(type)) throw unsupportedContentType(type);
  refuseEncodedBody(request.headers);
  const declared = request.headers['content-length'];
  if (declared !== undefined) {
    if (Number(declared) > limit) {
      throw tooLarge(limit);
    }
    return payload;
  }
  const limited = new ByteLimit(limit);
  payload.on('error', (error) => limited.destroy(error));
  return payload.pipe(limited);
}

/**
 * A body that means nothing (a DELETE's: DELETE is bodyless to Fastify, see ignoreDeleteBodies;
 * or one sent to an App path no route takes) is never parsed, whatever its Content-Type. One over
 * `limit` is still refused as a write's would be: at once from its Content-Length (a body within
 * it is left unread; Node drops it after the answer), or, chunked, counted and dropped as it
 * streams in, so that the answer waits for its end and nothing is done if it passes the limit.
 * `done` is called once.
 */
export function skipBody(
  request: FastifyRequest,
  payload: RequestPayload,
  limit: number,
  done: (error?: Error) => void,
): void {
  const { headers } = request;
  if (headers['transfer-encoding'] === undefined) {
    const declared = headers['content-length'];
    done(declared !== undefined && Number(declared) > limit ? tooLarge(limit) : undefined);
    return;
  }
  let seen = 0;
  let settled = false;
  const settle = (error?: Error) => {
    if (settled) return;
    settled = true;
    payload.off('data', count);
    done(error);
  };
  function count(chunk: Buffer): void {
    seen += chunk.length;
    // The rest still flows in (no listener keeps it) until the answer ends the exchange.
    if (seen > limit) settle(tooLarge(limit));
  }
  payload.on('data', count);
  payload.once('end', () => settle());
  payload.once('error', (error) => settle(error));
  payload.once('close', () => {
    if (!request.raw.complete)
      settle(new ApiError('invalid_request', { message: 'The request body was cut short' }));
  });
}

/**
 * Makes DELETE bodyless to Fastify: its body is never parsed, and a route's DELETE answers as it
 * would with no body, within the route's body limit (skipBody). Routes registered after this
 * get the limit check; one with `config.limitsDeleteBody` (the data API) checks its own limit.
 */
export function ignoreDeleteBodies(app: FastifyInstance): void {
  app.addHttpMethod('DELETE', { hasBody: false, overrideExisting: true });
  app.addHook('onRoute', (route) => {
    const methods = Array.isArray(route.method) ? route.method : [route.method];
    if (!methods.includes('DELETE') || route.config?.limitsDeleteBody) return;
    const limit = route.bodyLimit ?? app.initialConfig.bodyLimit ?? MAX_REQUEST_BYTES;
    const deleteOnly = methods.length === 1;
    const hook: preParsingHookHandler = (request, _reply, payload, done) => {
      if (!deleteOnly && request.method !== 'DELETE') return done(null, payload);
      skipBody(request, payload, limit, (error) => done(error ?? null, payload));
    };
    const existing = route.preParsing;
    route.preParsing =
      existing === undefined ? [hook] : [...(Array.isArray(existing) ? existing : [existing]), hook];
  });
}
