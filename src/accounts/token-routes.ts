import type { FastifyInstance } from 'fastify';
import type { OwnerService } from './owner-service.ts';

/**
 * Management tokens (`gm_…`, what the CLI and scripts use): each user lists, creates and revokes
 * their own. A lost or leaked token is revoked here; a new one is made with another token or a
 * dashboard session (`gatehouse login` signs in with the password and makes one).
 */
export function registerManagementTokenRoutes(admin: FastifyInstance, owners: OwnerService): void {
  admin.get('/admin/v1/tokens', async (request) => ({
    success: true,
    data: await owners.listTokens(request.principal),
  }));

  admin.post('/admin/v1/tokens', async (request, reply) =>
    reply.code(201).send({ success: true, data: await owners.createToken(request.principal, request.body) }),
  );

  admin.delete<{ Params: { id: string } }>('/admin/v1/tokens/:id', async (request) => ({
    success: true,
    data: await owners.revokeToken(request.principal, request.params.id),
  }));
}
