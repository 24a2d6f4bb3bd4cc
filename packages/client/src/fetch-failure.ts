/**
 * What fetch's "fetch failed" hides in its cause: what the socket met (`connect ECONNREFUSED
 * 127.0.0.1:4000`, `getaddrinfo ENOTFOUND api.example.com`, a TLS error), which tells a wrong
 * address from a server that is down. An AggregateError (every address of a name refused) is
 * said by its first; a cause without a message by its code; an error without a cause by itself.
 * Shared with the CLI (src/cli/client.ts).
 */
export function failureDetail(error: unknown): string {
  let cause: unknown = error instanceof Error && error.cause !== undefined ? error.cause : error;
  if (cause instanceof AggregateError && cause.message === '' && cause.errors.length > 0)
    cause = cause.errors[0];
  if (!(cause instanceof Error)) return String(cause);
  const code = (cause as { code?: unknown }).code;
  return cause.message || (typeof code === 'string' ? code : '');
}
