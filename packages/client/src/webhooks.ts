import { createHmac, timingSafeEqual } from 'node:crypto';
import type { GatehouseRecord } from './client.js';
import { parseJson } from './json.js';

/** A delivery that did not verify: unsigned, signed with another secret, or too old. */
export class WebhookVerificationError extends Error {
  override readonly name = 'WebhookVerificationError';
}

export interface WebhookEvent<T = Record<string, unknown>> {
  id: string;
  type: 'record.created' | 'record.updated' | 'record.deleted' | 'request.failed';
  /** When the event was made: the Standard Webhooks payload's field, the same as `created_at`. */
  timestamp: string;
  created_at: string;
  data: {
    endpoint: string;
    environment: 'test' | 'live';
    request_id: string;
    record_id: string;
    operation: 'create' | 'replace' | 'delete';
    status: 'processed' | 'failed';
    /** The record as written (for `record.deleted`: as it was), as `get` answers it; never null. */
    record: GatehouseRecord<T>;
    /** `request.failed` only: the delivery that finally failed. */
    failure?: {
      delivery_id: string;
      url: string;
      attempts: number;
      last_status_code: number | null;
      last_error: string | null;
    };
  };
}

type Headers = Record<string, string | string[] | undefined> | globalThis.Headers;

function header(headers: Headers, name: string): string | undefined {
  if (typeof (headers as globalThis.Headers).get === 'function')
    return (headers as globalThis.Headers).get(name) ?? undefined;
  // A plain record may spell the name in any case (HTTP header names are case-insensitive).
  const record = headers as Record<string, string | string[] | undefined>;
  let value = record[name];
  if (value === undefined) {
    const spelled = Object.keys(record).find((key) => key.toLowerCase() === name);
    if (spelled !== undefined) value = record[spelled];
  }
  return Array.isArray(value) ? value[0] : value;
}

/**
 * Verifies a Gatehouse delivery per Standard Webhooks and returns the parsed event: the
 * `webhook-signature` must carry a `v1` HMAC-SHA256 of `{id}.{timestamp}.{body}` under `secret`
 * (`whsec_…`), and the timestamp must be within `toleranceSeconds` of now (replay defence).
 * Pass the raw body exactly as received: a string, or its bytes (a Node `Buffer` is a
 * `Uint8Array`; the declaration says `Uint8Array` so that it needs no @types/node).
 */
export function verifyWebhook<T = Record<string, unknown>>(
  body: string | Uint8Array,
  headers: Headers,
  secret: string,
  options: { toleranceSeconds?: number | undefined; now?: number | undefined } = {},
): WebhookEvent<T> {
  // Refused before any delivery is read: a secret read from an unset variable ('' or 'whsec_')
  // is an empty HMAC key, with which anyone can sign, and a tolerance or clock that is not a
  // number (`Number(undefined)` is NaN) compares false with every age, letting any replay through.
  const key =
    typeof secret === 'string'
      ? Buffer.from(secret.startsWith('whsec_') ? secret.slice(6) : secret, 'base64')
      : Buffer.alloc(0);
  if (key.length === 0)
    throw new TypeError(
      'verifyWebhook: secret is empty: pass the whsec_… secret the deliveries are signed with',
    );
  const tolerance = options.toleranceSeconds ?? 300;
  if (!Number.isFinite(tolerance) || tolerance < 0)
    throw new RangeError(
      `verifyWebhook: toleranceSeconds must be a finite number of seconds, 0 or more, not ${tolerance}`,
    );
  if (options.now !== undefined && !Number.isFinite(options.now))
    throw new RangeError(`verifyWebhook: now must be a time in milliseconds, not ${options.now}`);
  const id = header(headers, 'webhook-id');
  const timestamp = header(headers, 'webhook-timestamp');
  const signatures = header(headers, 'webhook-signature');
  if (!id || !timestamp || !signatures)
    throw new WebhookVerificationError('Missing webhook-id, webhook-timestamp or webhook-signature');
  const seconds = Number(timestamp);
  const now = (options.now ?? Date.now()) / 1000;
  if (!Number.isInteger(seconds) || Math.abs(now - seconds) > tolerance) {
    throw new WebhookVerificationError(
      `webhook-timestamp ${timestamp} is more than ${tolerance} s from now: a replay, or this machine's clock is off`,
    );
  }
  const text =
    typeof body === 'string'
      ? body
      : Buffer.from(body.buffer, body.byteOffset, body.byteLength).toString('utf8');
  const expected = createHmac('sha256', key).update(`${id}.${timestamp}.${text}`).digest();
  const valid = signatures.split(' ').some((entry) => {
    const [version, signature] = entry.split(',');
    if (version !== 'v1' || !signature) return false;
    const given = Buffer.from(signature, 'base64');
    return given.length === expected.length && timingSafeEqual(given, expected);
  });
  if (!valid)
    throw new WebhookVerificationError(
      "No webhook-signature matches this secret: use the subscription's own secret (for a callback, the key's callback_signing_secret) and the body's raw bytes as received, not JSON parsed and written again",
    );
  return parseJson(text) as WebhookEvent<T>;
}
