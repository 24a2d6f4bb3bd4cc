import type { FastifyInstance } from 'fastify';
import type { AppService } from './app-service.ts';

type SlugParams = { slug: string };

/** Management API for App APIs: `/admin/v1/apps`. */
export function registerAppRoutes(app: FastifyInstance, apps: AppService): void {
  app.post('/admin/v1/apps', async (request, reply) =>
    reply.code(201).send({ success: true, data: await apps.create(request.body) }),
  );
  app.get('/admin/v1/apps', async () => ({ success: true, data: await apps.list() }));
  app.get<{ Params: SlugParams }>('/admin/v1/apps/:slug', async (request) => ({
    success: true,
    data: await apps.get(request.params.slug),
  }));
  app.patch<{ Params: SlugParams }>('/admin/v1/apps/:slug', async (request) => ({
    success: true,
    data: await apps.update(request.params.slug, request.body),
  }));
  app.delete<{ Params: SlugParams }>('/admin/v1/apps/:slug', async (request) => {
    const unscoped = await apps.remove(request.params.slug);
    // Keys lose the app's scope with it (keys/removed-scopes.ts): the log says how many.
    if (unscoped.length > 0) request.auditDetails = { keys_unscoped: unscoped.length };
    return { success: true, data: { slug: request.params.slug, deleted: true } };
  });
  app.post<{ Params: SlugParams }>('/admin/v1/apps/:slug/deploy', async (request, reply) =>
    reply.code(201).send({ success: true, data: await apps.deploy(request.params.slug) }),
  );
  app.get<{ Params: SlugParams }>('/admin/v1/apps/:slug/versions', async (request) => ({
    success: true,
    data: await apps.versions(request.params.slug),
  }));
}
