import type { IncomingMessage, ServerResponse } from 'node:http';
import type { Config } from '../config.ts';

/** Whether a peer address is one of the trusted proxies (as `proxy-addr` compiles them). */
export type TrustedPeer = (address: string, hop: number) => boolean;

/**
 * Strict-Transport-Security for every answer (every route, the fast path, errors) to a request
 * that arrived over HTTPS: over TLS to this socket, or with `X-Forwarded-Proto: https` from a
 * trusted proxy, decided as Fastify's `request.protocol` decides it (the last entry of the
 * header), so HSTS and the `__Host-` session cookie always agree. Never on plain HTTP, where
 * browsers ignore it. Set on Node's response before anything answers: the header written by
 * `writeHead` (Fastify's or the fast path's) is merged with it.
 *
 * Undefined, so nothing is spent per request, when it is off (max-age 0) or no request can come
 * over HTTPS: Gatehouse listens on plain HTTP, so without trusted proxies none does.
 */
export function strictTransportSecurity(
  config: Pick<Config, 'hsts'>,
  trusted: TrustedPeer | undefined,
): ((req: IncomingMessage, res: ServerResponse) => void) | undefined {
  const { maxAge, includeSubDomains } = config.hsts;
  if (maxAge === 0 || trusted === undefined) return undefined;
  const value = `max-age=${maxAge}${includeSubDomains ? '; includeSubDomains' : ''}`;
  return (req, res) => {
    if (overHttps(req, trusted)) res.setHeader('strict-transport-security', value);
  };
}

function overHttps(req: IncomingMessage, trusted: TrustedPeer): boolean {
  const proto = req.headers['x-forwarded-proto'];
  const socket = req.socket;
  // Node joins a repeated X-Forwarded-Proto into one string ("https, http").
  if (typeof proto === 'string' && proto !== '' && trusted(socket.remoteAddress ?? '', 0)) {
    const last = proto.lastIndexOf(',');
    return (last === -1 ? proto : proto.slice(last + 1)).trim() === 'https';
  }
  return 'encrypted' in socket && socket.encrypted === true;
}
