import type { FastifyInstance } from 'fastify';
import { invalid } from '../errors.ts';

/** The first path parameter or query string name or value holding U+0000, as the field to name. */
function fieldWithNul(params: unknown, query: unknown): string | undefined {
  for (const values of [params, query]) {
    if (typeof values !== 'object' || values === null) continue;
    for (const [name, value] of Object.entries(values)) {
      if (name.includes('\0')) return '(url)';
      const texts = Array.isArray(value) ? value : [value];
      if (texts.some((text) => typeof text === 'string' && text.includes('\0'))) return name;
    }
  }
  return undefined;
}

/**
 * A `%00` in a path parameter or the query string is a 400 naming it, on every database alike.
 * No id, slug or stored text holds U+0000, and PostgreSQL refuses to compare with it: looked up
 * as it was, `GET /admin/v1/keys/%00` was a 500 there (a 404 on SQLite). Registered after the
 * access hook, so a caller without credentials still gets its 401 first.
 */
export function refuseNulInUrl(app: FastifyInstance): void {
  app.addHook('onRequest', (request, _reply, done) => {
    const field = fieldWithNul(request.params, request.query);
    done(field === undefined ? undefined : invalid(field, 'Cannot hold U+0000'));
  });
}
