import type { FastifyInstance, FastifyRequest } from 'fastify';
import { invalid } from '../errors.ts';
import { DELIVERY_QUERY, type DeliveryService } from './delivery-service.ts';
import { SUBSCRIPTION_QUERY, type SubscriptionService } from './subscription-service.ts';

type SlugParams = { slug: string };
type IdParams = { id: string };

/** Redelivery takes no options: a body asking for another URL must be refused, not ignored. */
function refuseRedeliverOptions(body: unknown): void {
  if (body === undefined || body === null) return;
  const [name] = typeof body === 'object' && !Array.isArray(body) ? Object.keys(body) : ['(body)'];
  if (name === undefined) return;
  throw invalid(
    name,
    "Redeliver takes no options: it sends the same event to the subscription's current URL (change it with PATCH /admin/v1/webhooks/{id}) or to the callback's. Nothing was sent",
  );
}

/**
 * Management API: subscriptions, the delivery log, redelivery, and the installation's callback
 * secret: the root each key's callback signing secret derives from (keys/routes.ts gives those).
 */
export function registerWebhookRoutes(
  app: FastifyInstance,
  deps: { subscriptions: SubscriptionService; deliveries: DeliveryService; callbackSecret: string },
): void {
  const { subscriptions, deliveries } = deps;
  // A collaborator sees only deliveries caused by their own keys.
  const scope = (request: FastifyRequest) =>
    request.principal.role === 'owner' ? {} : { createdBy: request.principal.userId };
  app.post<{ Params: SlugParams }>('/admin/v1/endpoints/:slug/webhooks', async (request, reply) =>
    reply
      .code(201)
      .send({ success: true, data: await subscriptions.create(request.params.slug, request.body) }),
  );
  app.get<{ Params: SlugParams }>('/admin/v1/endpoints/:slug/webhooks', async (request) => ({
    success: true,
    data: await subscriptions.list(request.params.slug),
  }));
  app.get('/admin/v1/webhooks', { config: { query: SUBSCRIPTION_QUERY } }, async (request) => ({
    success: true,
    data: await subscriptions.listAll(request.query as Record<string, unknown>),
  }));
  app.get<{ Params: IdParams }>('/admin/v1/webhooks/:id', async (request) => ({
    success: true,
    data: await subscriptions.get(request.params.id),
  }));
  app.patch<{ Params: IdParams }>('/admin/v1/webhooks/:id', async (request) => ({
    success: true,
    data: await subscriptions.update(request.params.id, request.body),
  }));
  app.delete<{ Params: IdParams }>('/admin/v1/webhooks/:id', async (request) => {
    await subscriptions.remove(request.params.id);
    return { success: true, data: { id: request.params.id, deleted: true } };
  });
  app.post<{ Params: IdParams }>('/admin/v1/webhooks/:id/rotate-secret', async (request) => ({
    success: true,
    data: await subscriptions.rotateSecret(request.params.id, request.body),
  }));
  app.get('/admin/v1/deliveries', { config: { query: DELIVERY_QUERY } }, async (request) => {
    const page = await deliveries.list(request.query as Record<string, unknown>, scope(request));
    return { success: true, data: page.data, meta: { next_cursor: page.next_cursor, limit: page.limit } };
  });
  app.get<{ Params: IdParams }>('/admin/v1/deliveries/:id', async (request) => ({
    success: true,
    data: await deliveries.get(request.params.id, scope(request)),
  }));
  app.post<{ Params: IdParams }>('/admin/v1/deliveries/:id/redeliver', async (request, reply) => {
    refuseRedeliverOptions(request.body);
    return reply
      .code(202)
      .send({ success: true, data: await deliveries.redeliver(request.params.id, scope(request)) });
  });
  app.get('/admin/v1/webhook-signing-secret', async () => ({
    success: true,
    data: {
      object: 'webhook_signing_secret',
      secret: deps.callbackSecret,
      used_for: "the root each API key's callback signing secret derives from; not for partners",
    },
  }));
}
