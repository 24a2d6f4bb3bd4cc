import type { Logger } from 'pino';

/**
 * One debug line per answer (LOG_LEVEL=debug or trace): the Request-Id a client quotes, and what
 * was answered. The path only: a query string may carry an invite token or a cursor.
 */
export function logAnswer(
  logger: Logger,
  requestId: string,
  method: string,
  url: string,
  status: number,
  ms: number,
): void {
  const query = url.indexOf('?');
  logger.debug(
    {
      request_id: requestId,
      method,
      path: query === -1 ? url : url.slice(0, query),
      status,
      ms: Math.round(ms * 10) / 10,
    },
    'request answered',
  );
}
