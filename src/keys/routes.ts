import type { FastifyInstance, FastifyRequest } from 'fastify';
import { invalid } from '../errors.ts';
import type { Environment, KeyService } from './key-service.ts';

type IdParams = { id: string };

/** Management API for API keys: `/admin/v1/keys`. */
export function registerKeyRoutes(app: FastifyInstance, keys: KeyService): void {
  app.post('/admin/v1/keys', async (request, reply) =>
    reply.code(201).send({ success: true, data: await keys.create(request.body) }),
  );
  app.get<{ Querystring: { environment?: string } }>('/admin/v1/keys', async (request) => {
    const { environment } = request.query;
    if (environment !== undefined && environment !== 'test' && environment !== 'live') {
      throw invalid('environment', 'Must be test or live');
    }
    return { success: true, data: await keys.list({ environment: environment as Environment | undefined }) };
  });
  app.get<{ Params: IdParams }>('/admin/v1/keys/:id', async (request) => ({
    success: true,
    data: await keys.get(request.params.id),
  }));
  app.patch<{ Params: IdParams }>('/admin/v1/keys/:id', async (request) => ({
    success: true,
    data: await keys.update(request.params.id, request.body),
  }));
  for (const action of ['deactivate', 'activate', 'revoke'] as const) {
    app.post<{ Params: IdParams }>(`/admin/v1/keys/:id/${action}`, async (request) => ({
      success: true,
      data: await keys[action](request.params.id),
    }));
  }
  app.post<{ Params: IdParams }>('/admin/v1/keys/:id/roll', async (request) => ({
    success: true,
    data: await keys.roll(request.params.id, request.body),
  }));
}

/** `GET /api/v1/account`: the calling key, and its usage this minute, day and month when given. */
export function registerAccountRoute(
  app: FastifyInstance,
  usageOf?: (request: FastifyRequest) => unknown,
): void {
  app.get('/api/v1/account', async (request) => {
    const key = request.apiKey;
    return {
      success: true,
      data: {
        id: key.id,
        object: 'api_key',
        name: key.name,
        environment: key.environment,
        scopes: [...key.scopes],
        limits: key.limits,
        expires_at: key.expiresAt === null ? null : new Date(key.expiresAt).toISOString(),
        created_at: key.createdAt,
        usage: usageOf ? usageOf(request) : null,
      },
    };
  });
}
