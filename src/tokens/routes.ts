import type { FastifyInstance } from 'fastify';
import { ApiError } from '../errors.ts';
import type { TokenService } from './token-service.ts';

declare module 'fastify' {
  interface FastifyRequest {
    /** Authenticated with a short-lived token rather than the API key itself. */
    viaToken: boolean;
  }
}

/** `POST /api/v1/tokens` (API-key scope): mint a short-lived JWT. Tokens cannot mint tokens. */
export function registerTokenRoute(api: FastifyInstance, tokens: TokenService): void {
  api.post('/api/v1/tokens', async (request, reply) => {
    if (request.viaToken) {
      throw new ApiError('insufficient_scope', {
        message: 'Tokens are minted with an API key, not with another token',
      });
    }
    return reply.code(201).send({ success: true, data: await tokens.mint(request.apiKey, request.body) });
  });
}

/** `POST /admin/v1/tokens/rotate-signing-key`. */
export function registerTokenAdminRoute(admin: FastifyInstance, tokens: TokenService): void {
  admin.post('/admin/v1/tokens/rotate-signing-key', async () => ({
    success: true,
    data: await tokens.rotate(),
  }));
}
