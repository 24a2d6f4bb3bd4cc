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

/**
 * A query parameter the route does not take is a 400 naming it and what the route takes: a client
 * paging or filtering with a name the route does not know (`?cursor=`, `?enviroment=live`) would
 * otherwise get the whole list, as if it had sent nothing. Registered after the access hook (a
 * caller without credentials gets its 401 first) and before the body is read, so a refused write
 * changes nothing. The data API checks its own (records/record-reader.ts), and is not slowed.
 */
export function refuseUnknownQuery(app: FastifyInstance): void {
  app.addHook('onRequest', (request, _reply, done) => {
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
