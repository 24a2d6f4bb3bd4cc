import { isUtf8 } from 'node:buffer';
import { Transform, type TransformCallback } from 'node:stream';
import type { FastifyInstance, FastifyRequest, RequestPayload } from 'fastify';
import secureJson from 'secure-json-parse';
import { ApiError } from '../errors.ts';

export const MAX_REQUEST_BYTES = 5 * 1024 * 1024;

/** Strict JSON: UTF-8 only, and no `__proto__`/`constructor.prototype` keys that could pollute prototypes. */
export function parseJson(bytes: Buffer): unknown {
  if (bytes.length === 0) return undefined;
  if (!isUtf8(bytes))
    throw new ApiError('invalid_json', { message: 'Invalid JSON: the body is not valid UTF-8' });
  const text = bytes.toString('utf8');
  try {
    return secureJson.parse(text, undefined, { protoAction: 'error', constructorAction: 'error' });
  } catch (error) {
    const reason =
      error instanceof SyntaxError ? error.message : 'forbidden key __proto__ or constructor.prototype';
    throw new ApiError('invalid_json', {
      message: 'Invalid JSON',
      details: [{ field: '(body)', error: reason }],
    });
  }
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
