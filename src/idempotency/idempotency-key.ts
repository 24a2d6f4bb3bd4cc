import type { IncomingHttpHeaders } from 'node:http';
import { invalid } from '../errors.ts';
import { holdsLongInteger, jsonText } from '../http/json-body.ts';
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

/** JSON text with every object's keys sorted: two bodies that differ only in key order read alike. */
function sortedJson(value: unknown): string {
  if (Array.isArray(value)) return `[${value.map(sortedJson).join(',')}]`;
  if (typeof value !== 'object' || value === null) return JSON.stringify(value);
  const object = value as Record<string, unknown>;
  const members = Object.keys(object)
    .sort()
    .map((name) => `${JSON.stringify(name)}:${sortedJson(object[name])}`);
  return `{${members.join(',')}}`;
}

/** What a request's fingerprint is made of: Fastify's request, or the fast path's parts of one. */
export interface Fingerprinted {
  method: string;
  /** As sent: path and query string. */
  url: string;
  /** The parsed JSON body; undefined for none. */
  body: unknown;
  /** Read for the per-request callback (X-Webhook-Callback, X-Webhook-Auth-Header). */
  headers: IncomingHttpHeaders;
}

/**
 * Where the write's result is to be POSTed, as part of what the request is: the callback URL
 * (as the URL parser writes it, when it parses) and the name of its auth header. Empty without a
 * callback, so such requests keep the fingerprint they always had. The X-Webhook-Auth value is a
 * credential a client may rotate between retries: it is not part of it (nor hashed into storage).
 */
function callbackPart(headers: IncomingHttpHeaders): string {
  const url = headers['x-webhook-callback'];
  if (url === undefined) return '';
  const name = headers['x-webhook-auth-header'];
  return `\ncallback ${JSON.stringify([canonicalUrl(url), name === undefined ? 'authorization' : String(name).toLowerCase()])}`;
}

function canonicalUrl(url: string | string[]): string {
  if (Array.isArray(url)) return JSON.stringify(url);
  try {
    return new URL(url).toString();
  } catch {
    return url;
  }
}

/**
 * What makes two requests "the same": method, path (a trailing slash aside, as routing ignores
 * it), the JSON body, whitespace and key order aside, and the per-request callback (callbackPart). A body holding an integer longer than a
 * double keeps is compared as stored, keys in the order sent: sorting would lose its digits, and
 * two such integers that round alike would then pass for one.
 */
export function requestFingerprint(request: Fingerprinted): string {
  return sha256(`${withoutCallback(request)}${callbackPart(request.headers)}`);
}

function withoutCallback(request: Fingerprinted): string {
  const path = (request.url.split('?', 1)[0] ?? '').replace(/(.)\/+$/, '$1');
  const { body } = request;
  const text = body === undefined ? '' : holdsLongInteger(body) ? jsonText(body) : sortedJson(body);
  return `${request.method} ${path}\n${text}`;
}

/**
 * The fingerprint as releases before 2026-12-02 made it (the path and the body's keys as sent):
 * keys they stored still replay for their 24 hours. With the callback too, as now: else a body
 * whose keys were sent in order would match a request with another callback.
 */
export function formerFingerprint(request: Fingerprinted): string {
  const path = request.url.split('?', 1)[0] ?? '';
  const body = request.body === undefined ? '' : jsonText(request.body);
  return sha256(`${request.method} ${path}\n${body}${callbackPart(request.headers)}`);
}
