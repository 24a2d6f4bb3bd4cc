import type { FastifyInstance } from 'fastify';
import { invalid, orList } from '../errors.ts';

/**
 * The query parameters a route takes: name → what it does (the management API's OpenAPI document
 * lists them). A name ending in `[field]`, as `filter[field]`, stands for every `filter[…]`.
 */
export type QueryParams = Readonly<Record<string, string>>;

declare module 'fastify' {
  interface FastifyContextConfig {
    /** The query parameters the route takes; a route without it takes none (known-query.ts). */
    query?: QueryParams;
  }
}

const FIELD = '[field]';

function takes(params: QueryParams, name: string): boolean {
  if (Object.hasOwn(params, name)) return true;
  const open = name.indexOf('[');
  return open > 0 && name.endsWith(']') && Object.hasOwn(params, `${name.slice(0, open)}${FIELD}`);
}

/** The text decoded as a query string's part is (`+` a space), or undefined if an escape is malformed. */
function decoded(part: string): string | undefined {
  try {
    return decodeURIComponent(part.replaceAll('+', ' '));
  } catch {
    return undefined;
  }
}

/**
 * A `%` that starts no escape (`%zz`, a lone `%`) or escapes that are not UTF-8 (`%E0%A4%A`) in
 * the query string is a 400 naming the parameter: the parser would keep such a value as sent,
 * and a filter would then match nothing, as if the value were right. Only a query with a `%`
 * in it is looked at. `cursor`: the list's cursor parameter (`after`), refused as one instead
 * (400 invalid_cursor) unless this server issued it, escapes or not; an App API has none.
 */
export function refuseMalformedQuery(url: string, cursor?: string): void {
  const start = url.indexOf('?');
  if (start === -1 || !url.includes('%', start)) return;
  for (const part of url.slice(start + 1).split('&')) {
    if (!part.includes('%')) continue;
    const equals = part.indexOf('=');
    const rawName = equals === -1 ? part : part.slice(0, equals);
    const name = decoded(rawName);
    if (cursor !== undefined && name === cursor) continue;
    if (name === undefined || (equals !== -1 && decoded(part.slice(equals + 1)) === undefined)) {
      throw invalid(
        name ?? rawName,
        'Malformed percent-encoding: each % starts a UTF-8 escape such as %C3%A9 (a literal % is %25)',
      );
    }
  }
}

/**
 * A query parameter the route does not take is a 400 naming it and what the route takes: a client
 * paging or filtering with a name the route does not know (`?cursor=`, `?enviroment=live`) would
 * otherwise get the whole list, as if it had sent nothing. Registered after the access hook (a
 * caller without credentials gets its 401 first) and before the body is read, so a refused write
 * changes nothing. So is a malformed percent-escape in it. The data API checks its own (records/record-reader.ts), and is not slowed.
 */
export function refuseUnknownQuery(app: FastifyInstance): void {
  app.addHook('onRequest', (request, _reply, done) => {
    try {
      refuseMalformedQuery(request.url, 'after');
    } catch (error) {
      done(error as Error);
      return;
    }
    const params = request.routeOptions.config?.query ?? {};
    for (const name of Object.keys(request.query as Record<string, unknown>)) {
      if (takes(params, name)) continue;
      const names = Object.keys(params);
      done(
        invalid(
          name,
          names.length === 0
            ? 'Unknown query parameter: this route takes none'
            : `Unknown query parameter (use ${orList(names)})`,
        ),
      );
      return;
    }
    done();
  });
}
