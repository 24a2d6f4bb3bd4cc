import type { FastifyRequest } from 'fastify';
import { invalid } from '../errors.ts';
import { jsonText } from '../http/json-body.ts';
import { singleHeader, type WithHeaders } from '../http/single-header.ts';
import { sha256 } from '../infra/crypto/hash.ts';

export const MAX_KEY_LENGTH = 255;
const PRINTABLE = /^[\x21-\x7e][\x20-\x7e]*$/;

/**
 * The `Idempotency-Key` header: a Structured Field string per draft-ietf-httpapi-idempotency-key-header
 * (`"8e03978e-…"`); the bare token form most clients send is accepted too. 1–255 printable characters.
 */
export function parseIdempotencyKey(request: WithHeaders): string | undefined {
  const header = singleHeader(request, 'idempotency-key', 'Idempotency-Key', 'Send the header once');
  if (header === undefined) return undefined;
  let value = header.trim();
  if (value.length >= 2 && value.startsWith('"') && value.endsWith('"')) {
    value = value.slice(1, -1).replace(/\\(["\\])/g, '$1');
  }
  if (value === '') throw invalid('Idempotency-Key', 'Must not be empty');
  if (value.length > MAX_KEY_LENGTH) {
    throw invalid('Idempotency-Key', `Must be at most ${MAX_KEY_LENGTH} characters`);
  }
  if (!PRINTABLE.test(value)) throw invalid('Idempotency-Key', 'Must be printable ASCII characters');
  return value;
}

/** What makes two requests "the same": method, path and the JSON body (whitespace aside). */
export function requestFingerprint(request: FastifyRequest): string {
  const path = request.url.split('?', 1)[0] ?? '';
  const body = request.body === undefined ? '' : jsonText(request.body);
  return sha256(`${request.method} ${path}\n${body}`);
}
