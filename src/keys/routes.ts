import type { FastifyInstance, FastifyRequest } from 'fastify';
import { ApiError, invalid } from '../errors.ts';
import type { CallbackSecrets } from '../webhooks/callback-secrets.ts';
import type { Environment, KeyService } from './key-service.ts';

type IdParams = { id: string };

/**
 * Management API for API keys: `/admin/v1/keys`. The owner sees every key; a collaborator
 * creates test keys only and sees and manages only the keys they created (others answer 404).
 */
export function registerKeyRoutes(
  app: FastifyInstance,
  keys: KeyService,
  callbackSecrets: CallbackSecrets,
): void {
  const collaborator = (request: FastifyRequest) => request.principal.role !== 'owner';

  /** The key, when the caller may manage it; else the same 404 as an unknown key. */
  async function visibleKey(request: FastifyRequest<{ Params: IdParams }>): Promise<string> {
    const { id } = request.params;
    if (collaborator(request)) {
      const key = await keys.get(id);
      if (key.created_by !== request.principal.userId) {
        throw new ApiError('key_not_found', { message: `API key "${id}" not found` });
      }
    }
    return id;
  }

  // What a window a key leaves empty is limited to (docs/limits.md): beside one key as beside the
  // list, so that whoever reads a key's own limits (`{}`) also sees the defaults that apply.
  const meta = { default_limits: keys.defaultLimits };
  app.post('/admin/v1/keys', async (request, reply) =>
    reply.code(201).send({
      success: true,
      data: await keys.create(request.body, {
        userId: request.principal.userId,
        testOnly: collaborator(request),
      }),
      meta,
    }),
  );
  app.get<{ Querystring: { environment?: string } }>(
    '/admin/v1/keys',
    { config: { query: { environment: 'test or live: only the keys of that environment' } } },
    async (request) => {
      const { environment } = request.query;
      if (environment !== undefined && environment !== 'test' && environment !== 'live') {
        throw invalid('environment', 'Must be test or live');
      }
      return {
        success: true,
        data: await keys.list({
          environment: environment as Environment | undefined,
          createdBy: collaborator(request) ? request.principal.userId : undefined,
        }),
        meta,
      };
    },
  );
  app.get<{ Params: IdParams }>('/admin/v1/keys/:id', async (request) => ({
    success: true,
    data: await keys.get(await visibleKey(request)),
    meta,
  }));
  app.patch<{ Params: IdParams }>('/admin/v1/keys/:id', async (request) => ({
    success: true,
    data: await keys.update(await visibleKey(request), request.body, { testOnly: collaborator(request) }),
    meta,
  }));
  for (const action of ['deactivate', 'activate', 'revoke'] as const) {
    app.post<{ Params: IdParams }>(`/admin/v1/keys/:id/${action}`, async (request) => ({
      success: true,
      data: await keys[action](await visibleKey(request)),
    }));
  }
  app.post<{ Params: IdParams }>('/admin/v1/keys/:id/roll', async (request) => ({
    success: true,
    data: await keys.roll(await visibleKey(request), request.body),
  }));
  // Owner only (src/dashboard/access.ts): the secret that signs this key's callbacks, for its partner.
  const callbackSecretJson = (keyId: string, generation: number, previousUntil: string | null) => ({
    object: 'callback_signing_secret',
    key_id: keyId,
    secret: callbackSecrets.forKey(keyId, generation),
    used_for: "per-request callbacks of this key's requests",
    previous_secret_expires_at: previousUntil,
  });
  app.get<{ Params: IdParams }>('/admin/v1/keys/:id/callback-signing-secret', async (request) => {
    const { id } = request.params;
    const { generation, previousUntil } = await keys.callbackSecretOf(id);
    return { success: true, data: callbackSecretJson(id, generation, previousUntil) };
  });
  // Owner only: a new secret for the key's callbacks; the old one signs alongside for the overlap.
  app.post<{ Params: IdParams }>('/admin/v1/keys/:id/rotate-callback-secret', async (request) => {
    const { id } = request.params;
    const { generation, previousUntil } = await keys.rotateCallbackSecret(id, request.body);
    return { success: true, data: callbackSecretJson(id, generation, previousUntil) };
  });
}

/**
 * `GET /api/v1/account`: the calling key, its callback signing secret (with the key itself, not a
 * token minted from it: tokens go to less trusted places, such as a browser), and its usage this
 * minute, day and month when given.
 */
export function registerAccountRoute(
  app: FastifyInstance,
  callbackSecrets: CallbackSecrets,
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
        callback_signing_secret: request.viaToken
          ? null
          : callbackSecrets.forKey(key.id, key.callbackSecretGeneration),
        usage: usageOf ? usageOf(request) : null,
      },
    };
  });
}
