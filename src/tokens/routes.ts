import type { FastifyInstance } from 'fastify';
import { ApiError } from '../errors.ts';
import { presentedSecret } from '../http/auth.ts';
import type { KeyService } from '../keys/key-service.ts';
import type { TokenService } from './token-service.ts';

declare module 'fastify' {
  interface FastifyRequest {
    /** Authenticated with a short-lived token rather than the API key itself. */
    viaToken: boolean;
  }
}

/** `POST /api/v1/tokens` (API-key scope): mint a short-lived JWT. Tokens cannot mint tokens. */
export function registerTokenRoute(api: FastifyInstance, tokens: TokenService, keys: KeyService): void {
  api.post('/api/v1/tokens', async (request, reply) => {
    if (request.viaToken) {
      throw new ApiError('insufficient_scope', {
        message: 'Tokens are minted with an API key, not with another token',
      });
    }
    // The key's own secret authenticated this request (not a token): the token is bound to it.
    const secret = presentedSecret(request) as string;
    const data = await tokens.mint(request.apiKey, request.body, keys.secretId(secret));
    return reply.code(201).send({ success: true, data });
  });
}

/** `POST /admin/v1/tokens/rotate-signing-key`. */
export function registerTokenAdminRoute(admin: FastifyInstance, tokens: TokenService): void {
  admin.post('/admin/v1/tokens/rotate-signing-key', async () => ({
    success: true,
    data: await tokens.rotate(),
  }));
}
