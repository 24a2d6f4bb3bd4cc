import type { FastifyInstance } from 'fastify';
import type { EndpointService } from './endpoint-service.ts';

type SlugParams = { slug: string };

/** Management API for endpoints: `/admin/v1/endpoints`. */
export function registerEndpointRoutes(app: FastifyInstance, endpoints: EndpointService): void {
  app.post('/admin/v1/endpoints', async (request, reply) =>
    reply.code(201).send({ success: true, data: await endpoints.create(request.body) }),
  );
  app.get('/admin/v1/endpoints', async () => ({ success: true, data: await endpoints.list() }));
  app.get<{ Params: SlugParams }>('/admin/v1/endpoints/:slug', async (request) => ({
    success: true,
    data: await endpoints.get(request.params.slug),
  }));
  app.patch<{ Params: SlugParams }>('/admin/v1/endpoints/:slug', async (request) => ({
    success: true,
    data: await endpoints.update(request.params.slug, request.body),
  }));
  app.delete<{ Params: SlugParams }>('/admin/v1/endpoints/:slug', async (request) => {
    const unscoped = await endpoints.remove(request.params.slug);
    // Keys lose the endpoint's scopes with it (keys/removed-scopes.ts): the log says how many.
    if (unscoped.length > 0) request.auditDetails = { keys_unscoped: unscoped.length };
    return { success: true, data: { slug: request.params.slug, deleted: true } };
  });
  app.post<{ Params: SlugParams }>('/admin/v1/endpoints/:slug/deploy', async (request, reply) =>
    reply.code(201).send({ success: true, data: await endpoints.deploy(request.params.slug) }),
  );
  app.get<{ Params: SlugParams }>('/admin/v1/endpoints/:slug/versions', async (request) => ({
    success: true,
    data: await endpoints.versions(request.params.slug),
  }));
}
