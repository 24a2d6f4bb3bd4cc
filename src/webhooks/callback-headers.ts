import { isIP } from 'node:net';
import { invalid } from '../errors.ts';
import { sendableHeader, singleHeader, type WithHeaders } from '../http/single-header.ts';
import type { Encryptor } from '../infra/crypto/encryption.ts';
import type { AddressGuard } from '../infra/http-client/address-guard.ts';
import type { WriteCommand } from '../records/record-writer.ts';

/** What a per-request callback stores (encrypted): where to POST the result, and with which header. */
export interface Callback {
  url: string;
  header: string;
  value: string | null;
}

const TOKEN = /^[!#$%&'*+.^_`|~0-9A-Za-z-]+$/;
// Headers a caller may not set on our deliveries: hop-by-hop, framing, and our own signature.
const RESERVED = new Set([
  'connection',
  'keep-alive',
  'proxy-authenticate',
  'proxy-authorization',
  'proxy-connection',
  'te',
  'trailer',
  'transfer-encoding',
  'upgrade',
  'host',
  'content-length',
  'content-type',
  'content-encoding',
  'expect',
  'cookie',
  'webhook-id',
  'webhook-timestamp',
  'webhook-signature',
]);

// The error names the header as the docs and the other messages do (X-Webhook-Callback).
const single = (request: WithHeaders, name: string, field: string) =>
  singleHeader(request, name, field, 'May be sent only once');

/**
 * Validates X-Webhook-Callback / -Auth / -Auth-Header at request time: 400 before anything is
 * written. A URL naming a refused address (an IP literal, judged by `guard`) is refused now, as a
 * subscription's is, rather than accepted and failed at delivery; a name is judged when the
 * delivery resolves it (no DNS on the write's path).
 */
export function parseCallback(request: WithHeaders, guard?: AddressGuard): Callback | null {
  const url = single(request, 'x-webhook-callback', 'X-Webhook-Callback');
  const value = single(request, 'x-webhook-auth', 'X-Webhook-Auth');
  const header = single(request, 'x-webhook-auth-header', 'X-Webhook-Auth-Header');
  if (url === undefined) {
    if (value !== undefined || header !== undefined) {
      throw invalid('X-Webhook-Callback', 'X-Webhook-Auth and X-Webhook-Auth-Header need X-Webhook-Callback');
    }
    return null;
  }
  let parsed: URL;
  try {
    parsed = new URL(url);
  } catch {
    throw invalid('X-Webhook-Callback', 'Must be an absolute http(s) URL');
  }
  if (parsed.protocol !== 'http:' && parsed.protocol !== 'https:') {
    throw invalid('X-Webhook-Callback', 'Only http and https URLs are allowed');
  }
  if (parsed.username || parsed.password) {
    throw invalid('X-Webhook-Callback', 'Credentials in the URL are not allowed; use X-Webhook-Auth');
  }
  if (url.length > 2048) throw invalid('X-Webhook-Callback', 'At most 2048 characters');
  const host = parsed.hostname.replace(/^\[|\]$/g, '');
  const refusal = guard && isIP(host) ? guard.refusal(host) : undefined;
  if (refusal) throw invalid('X-Webhook-Callback', `Refused target: ${refusal}`);
  const name = header ?? 'Authorization';
  if (!TOKEN.test(name) || name.length > 100)
    throw invalid('X-Webhook-Auth-Header', 'Must be a valid header name');
  if (RESERVED.has(name.toLowerCase())) throw invalid('X-Webhook-Auth-Header', `"${name}" cannot be set`);
  // What an HTTP header value may hold, by Node's own check: tab, visible ASCII and bytes 0x80 – 0xff.
  if (value !== undefined && (!sendableHeader(name, value) || value.length > 4096)) {
    throw invalid(
      'X-Webhook-Auth',
      'Must be a single-line header value of at most 4096 characters, without control characters or characters beyond U+00FF',
    );
  }
  return { url: parsed.toString(), header: name, value: value ?? null };
}

/** The write preparer: the callback travels encrypted with the write into the outbox. */
export function callbackPreparer(encryptor: Encryptor, guard?: AddressGuard) {
  return (request: WithHeaders, command: WriteCommand): void => {
    const callback = parseCallback(request, guard);
    if (callback) command.callback = encryptor.encrypt(JSON.stringify(callback));
  };
}
