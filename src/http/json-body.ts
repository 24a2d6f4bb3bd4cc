import { isUtf8 } from 'node:buffer';
import { Transform, type TransformCallback } from 'node:stream';
import type { FastifyInstance, FastifyRequest, RequestPayload } from 'fastify';
import secureJson from 'secure-json-parse';
import { ApiError } from '../errors.ts';
import { EXACT_DIGITS, findLongNumbers, withoutWhitespace } from '../infra/json/exact-json.ts';

export const MAX_REQUEST_BYTES = 5 * 1024 * 1024;

/** Bodies nested deeper than this are refused: deep enough for any record, far from the stack's limit. */
export const MAX_JSON_DEPTH = 128;

/** What one pass over a JSON text finds outside its strings. */
interface JsonShape {
  /** The deepest nesting of arrays and objects. */
  depth: number;
  /** Object keys (colons), duplicates included. */
  keys: number;
  /** Some number has more than 15 digits: as a JavaScript number it may not come back as sent. */
  longNumber: boolean;
  /** Some string has a `\u` escape (the only way to send U+0000 or a lone surrogate). */
  unicodeEscape: boolean;
}

const QUOTE = 34;
const BACKSLASH = 92;

function shapeOf(bytes: Buffer): JsonShape {
  let depth = 0;
  let deepest = 0;
  let keys = 0;
  let digits = 0;
  let longNumber = false;
  let unicodeEscape = false;
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
    // A decimal point continues a number's digits; anything else (an exponent too) ends them.
    if (c !== 46) digits = 0;
    if (c === QUOTE) inString = true;
    else if (c === 123 || c === 91) {
      if (++depth > deepest) deepest = depth;
    } else if (c === 125 || c === 93) depth--;
    else if (c === 58) keys++;
  }
  return { depth: deepest, keys, longNumber, unicodeEscape };
}

/** The first string (a value or a key) that holds U+0000 or a lone surrogate: where it is. */
function unstorableString(value: unknown, at: string): string | undefined {
  const bad = (text: string) =>
    text.includes('\0') ||
    /[\uD800-\uDBFF](?![\uDC00-\uDFFF])|(?<![\uD800-\uDBFF])[\uDC00-\uDFFF]/.test(text);
  if (typeof value === 'string') return bad(value) ? at : undefined;
  if (typeof value !== 'object' || value === null) return undefined;
  if (Array.isArray(value)) {
    for (const [i, item] of value.entries()) {
      const found = unstorableString(item, `${at}[${i}]`);
      if (found) return found;
    }
    return undefined;
  }
  for (const [key, item] of Object.entries(value)) {
    const path = at === '' ? key : `${at}.${key}`;
    if (bad(key)) return path;
    const found = unstorableString(item, path);
    if (found) return found;
  }
  return undefined;
}

/** Object keys in a parsed value, at every level. */
function keyCount(value: unknown): number {
  if (typeof value !== 'object' || value === null) return 0;
  let n = 0;
  if (Array.isArray(value)) for (const item of value) n += keyCount(item);
  else
    for (const key of Object.keys(value)) {
      n += 1 + keyCount((value as Record<string, unknown>)[key]);
    }
  return n;
}

/** Parsed bodies whose numbers JSON.stringify would not give back as sent: the text to keep instead. */
const exactTexts = new WeakMap<object, string>();

/**
 * A parsed body as JSON text to store: what JSON.stringify makes of it, except where a number has
 * more digits than a JavaScript number holds (a 64-bit id, say), whose text is kept as sent,
 * without the whitespace between tokens. (With duplicate keys as well, it is re-serialised: the
 * last value of a key is the one that was validated.)
 */
export function jsonText(value: unknown): string {
  return (typeof value === 'object' && value !== null && exactTexts.get(value)) || JSON.stringify(value);
}

/**
 * Strict JSON: UTF-8 only, no `__proto__`/`constructor.prototype` keys that could pollute
 * prototypes, nested at most MAX_JSON_DEPTH deep.
 */
export function parseJson(bytes: Buffer): unknown {
  if (bytes.length === 0) return undefined;
  if (!isUtf8(bytes))
    throw new ApiError('invalid_json', { message: 'Invalid JSON: the body is not valid UTF-8' });
  const shape = shapeOf(bytes);
  if (shape.depth > MAX_JSON_DEPTH) {
    throw new ApiError('invalid_json', {
      message: `Invalid JSON: nested more than ${MAX_JSON_DEPTH} levels deep`,
      details: [{ field: '(body)', error: `Arrays and objects nest at most ${MAX_JSON_DEPTH} levels deep` }],
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
  if (shape.unicodeEscape) {
    // PostgreSQL cannot hold U+0000 in text or JSON, nor can any text hold half a surrogate
    // pair: such a record could be written but never filtered; refused alike on SQLite.
    const at = unstorableString(value, '');
    if (at !== undefined) {
      throw new ApiError('invalid_json', {
        message: 'Invalid JSON: strings cannot hold U+0000 or an unpaired surrogate',
        details: [
          {
            field: at === '' ? '(body)' : at,
            error: 'Holds U+0000 (\\u0000) or an unpaired surrogate (\\ud800 – \\udfff)',
          },
        ],
      });
    }
  }
  if (shape.longNumber && typeof value === 'object' && value !== null && keyCount(value) === shape.keys) {
    // Every object or array that holds such a number keeps its text: the body, or an import's records.
    findLongNumbers(text, value, (node, nodeText) => exactTexts.set(node, withoutWhitespace(nodeText)));
  }
  return value;
}

export function registerJsonParser(app: FastifyInstance): void {
  app.removeAllContentTypeParsers();
  app.addContentTypeParser(
    'application/json',
    { parseAs: 'buffer', bodyLimit: MAX_REQUEST_BYTES },
    (_req, body, done) => {
      try {
        done(null, parseJson(body as Buffer));
      } catch (error) {
        done(error as Error, undefined);
      }
    },
  );
}

/** `application/json`, optionally with `charset=utf-8`. */
export function isJsonContentType(header: string | undefined): boolean {
  if (!header) return false;
  if (header === 'application/json') return true;
  const [type, ...params] = header.split(';');
  if (type?.trim().toLowerCase() !== 'application/json') return false;
  return params.every((p) => {
    const [name, value] = p.split('=').map((s) => s.trim().toLowerCase());
    return name !== 'charset' || value === 'utf-8' || value === '"utf-8"';
  });
}

/** Counts bytes as they stream in and stops at the limit, so an oversized body is never buffered whole. */
class ByteLimit extends Transform {
  private seen = 0;
  constructor(private readonly limit: number) {
    super();
  }
  override _transform(chunk: Buffer, _encoding: BufferEncoding, callback: TransformCallback): void {
    this.seen += chunk.length;
    if (this.seen > this.limit) {
      callback(
        new ApiError('payload_too_large', { message: `Payload too large: the limit is ${this.limit} bytes` }),
      );
      return;
    }
    callback(null, chunk);
  }
}

/**
 * For writes: 415 unless JSON; 413 from Content-Length at once. Node's parser never delivers more
 * than a declared Content-Length, so only a chunked body (no length) is counted while streaming.
 */
export function guardJsonBody(
  request: FastifyRequest,
  payload: RequestPayload,
  limit: number,
): RequestPayload {
  if (!isJsonContentType(request.headers['content-type'])) throw new ApiError('unsupported_media_type');
  const declared = request.headers['content-length'];
  if (declared !== undefined) {
    if (Number(declared) > limit) {
      throw new ApiError('payload_too_large', { message: `Payload too large: the limit is ${limit} bytes` });
    }
    return payload;
  }
  const limited = new ByteLimit(limit);
  payload.on('error', (error) => limited.destroy(error));
  return payload.pipe(limited);
}
