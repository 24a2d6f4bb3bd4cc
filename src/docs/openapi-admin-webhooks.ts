/**
 * The management API's answers about webhook subscriptions, the delivery log and the callback
 * signing secret.
 */
import { idPrefixes } from '../ids.ts';
import { EVENT_TYPES } from '../webhooks/subscription-service.ts';
import {
  deleted,
  environment,
  extended,
  id,
  type Json,
  many,
  maybeTime,
  object,
  one,
  page,
  ref,
  shownOnce,
  time,
} from './openapi-admin-shapes.ts';
import { successContent } from './openapi-shared.ts';

const subscription = object({
  id: id('webhook'),
  object: { const: 'webhook_subscription' },
  endpoint: { type: 'string', description: "The endpoint's slug" },
  environment,
  url: { type: 'string', description: 'Where deliveries are POSTed (http or https)' },
  events: { type: 'array', items: { enum: [...EVENT_TYPES] } },
  enabled: { type: 'boolean' },
  disabled_reason: { type: ['string', 'null'], description: 'Why the server turned it off; null while on' },
  failing_since: maybeTime('Since when every delivery has failed; null: not failing'),
  previous_secret_expires_at: maybeTime(
    'After a rotation, when the previous secret stops signing alongside the new one; null: no rotation',
  ),
  created_at: time,
  updated_at: time,
});

const attempt = object({
  attempted_at: time,
  duration_ms: { type: 'integer', minimum: 0 },
  status_code: { type: ['integer', 'null'], description: "The receiver's status; null: no answer" },
  response_body: { type: ['string', 'null'], description: "The start of the receiver's answer" },
  error: { type: ['string', 'null'], description: 'Why the attempt failed (timeout, refused address…)' },
});

const delivery = object({
  id: id('delivery'),
  object: { const: 'webhook_delivery' },
  event_id: id('event'),
  event_type: { enum: [...EVENT_TYPES] },
  target: {
    enum: ['subscription', 'callback'],
    description: "A subscription's, or a request's X-Webhook-Callback",
  },
  subscription_id: {
    type: ['string', 'null'],
    pattern: `^${idPrefixes.webhook}_`,
    description: 'null for a callback',
  },
  url: { type: 'string' },
  endpoint: {
    type: ['string', 'null'],
    description: "The endpoint's slug; null once the endpoint is deleted",
  },
  environment,
  request_id: id('request'),
  record_id: id('record'),
  status: { enum: ['pending', 'succeeded', 'failed', 'cancelled'] },
  attempts: { type: 'array', items: ref('Attempt'), description: 'Oldest first' },
  attempt_count: { type: 'integer', minimum: 0 },
  max_attempts: { type: 'integer', minimum: 1 },
  next_attempt_at: maybeTime('When the next attempt is due; null unless pending'),
  last_status_code: { type: ['integer', 'null'] },
  last_error: { type: ['string', 'null'] },
  created_at: time,
  updated_at: time,
});

/** Webhooks: the named shapes, for `components.schemas`. */
export const webhookSchemas: Record<string, Json> = {
  Subscription: subscription,
  NewSubscription: extended(
    subscription,
    {
      secret: { type: 'string', pattern: '^whsec_', description: shownOnce('The signing secret (whsec_…)') },
    },
    'The subscription, with its signing secret',
  ),
  Delivery: delivery,
  Attempt: attempt,
};

/** Webhooks: each operation's success content, by `METHOD /path`. */
export const webhookResponses: Record<string, Json> = {
  'POST /admin/v1/endpoints/{slug}/webhooks': one('NewSubscription'),
  'GET /admin/v1/endpoints/{slug}/webhooks': many('Subscription', 'Oldest first'),
  'GET /admin/v1/webhooks': many('Subscription', 'By endpoint slug, then oldest first'),
  'GET /admin/v1/webhooks/{id}': one('Subscription'),
  'PATCH /admin/v1/webhooks/{id}': one('Subscription'),
  'DELETE /admin/v1/webhooks/{id}': successContent(deleted('id')),
  'POST /admin/v1/webhooks/{id}/rotate-secret': one('NewSubscription'),
  'GET /admin/v1/deliveries': page('Delivery', 'Newest first'),
  'GET /admin/v1/deliveries/{id}': one('Delivery'),
  'POST /admin/v1/deliveries/{id}/redeliver': successContent({
    ...ref('Delivery'),
    description: 'The new delivery, pending and due now (no attempts yet)',
  }),
  'GET /admin/v1/webhook-signing-secret': successContent(
    object({
      object: { const: 'webhook_signing_secret' },
      secret: {
        type: 'string',
        description:
          "The installation's callback secret: the root each key's callback signing secret derives from, not for partners (readable here by the owner at any time, not shown once)",
      },
      used_for: { type: 'string' },
    }),
  ),
};
