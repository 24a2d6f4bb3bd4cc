import { isIP } from 'node:net';
import type { EndpointService } from '../endpoints/endpoint-service.ts';
import { inputValidator } from '../endpoints/json-schema.ts';
import { ApiError, invalid, refuseEmptyPatch } from '../errors.ts';
import { newId } from '../ids.ts';
import type { Encryptor } from '../infra/crypto/encryption.ts';
import type { Db } from '../infra/db/database.ts';
import type { WebhookSubscriptionsTable } from '../infra/db/schema.ts';
import type { AddressGuard } from '../infra/http-client/address-guard.ts';
import { isoAfter, nowIso } from '../time.ts';
import { cancelPendingDeliveries, originOf } from './events.ts';
import { newSigningSecret } from './signing.ts';

export const EVENT_TYPES = ['record.created', 'record.updated', 'record.deleted', 'request.failed'] as const;
export type EventType = (typeof EVENT_TYPES)[number];

export interface SubscriptionJson {
  id: string;
  object: 'webhook_subscription';
  endpoint: string;
  environment: 'test' | 'live';
  url: string;
  events: EventType[];
  enabled: boolean;
  disabled_reason: string | null;
  failing_since: string | null;
  previous_secret_expires_at: string | null;
  created_at: string;
  updated_at: string;
}

interface SubscriptionInput {
  url?: string;
  events?: EventType[];
  environment?: 'test' | 'live';
  enabled?: boolean;
}

const properties = {
  url: { type: 'string', minLength: 1, maxLength: 2048 },
  events: { type: 'array', minItems: 1, uniqueItems: true, items: { enum: EVENT_TYPES } },
  environment: { enum: ['test', 'live'] },
  enabled: { type: 'boolean' },
};
const parseCreate = inputValidator<
  Required<Pick<SubscriptionInput, 'url' | 'environment'>> & SubscriptionInput
>({
  type: 'object',
  additionalProperties: false,
  required: ['url', 'environment'],
  properties,
});
const patchProperties = { url: properties.url, events: properties.events, enabled: properties.enabled };
const validatePatch = inputValidator<Omit<SubscriptionInput, 'environment'>>({
  type: 'object',
  additionalProperties: false,
  properties: patchProperties,
});
function parsePatch(body: unknown): Omit<SubscriptionInput, 'environment'> {
  const patch = validatePatch(body);
  refuseEmptyPatch(patch, Object.keys(patchProperties));
  return patch;
}
// Rotation takes no options: a grace_seconds (as keys' callback secrets take) must not be ignored.
const parseRotate = inputValidator<Record<string, never>>({
  type: 'object',
  additionalProperties: false,
  properties: {},
});

function checkUrl(url: string, guard: AddressGuard | undefined): string {
  let parsed: URL;
  try {
    parsed = new URL(url);
  } catch {
    throw invalid('url', 'Must be an absolute http(s) URL');
  }
  if (parsed.protocol !== 'http:' && parsed.protocol !== 'https:')
    throw invalid('url', 'Only http and https URLs');
  if (parsed.username || parsed.password) throw invalid('url', 'Credentials in the URL are not allowed');
  // An address given as such is judged now, not at the first delivery (a name still is, then).
  const host = parsed.hostname.replace(/^\[|\]$/g, '');
  const reason = guard && isIP(host) ? guard.refusal(host) : undefined;
  if (reason) {
    throw invalid('url', `Refused target: ${reason}`);
  }
  return parsed.toString();
}

const ROTATION_OVERLAP_SECONDS = 86_400;

export type SubscriptionService = ReturnType<typeof createSubscriptionService>;

/** What `GET /admin/v1/webhooks` takes (known-query.ts refuses any other name). */
export const SUBSCRIPTION_QUERY = {
  environment: 'test or live',
  enabled: 'true or false',
} as const;

export function createSubscriptionService(deps: {
  db: Db;
  endpoints: EndpointService;
  encryptor: Encryptor;
  /** Refuses URLs whose host is a private, loopback or metadata address (unless allowed). */
  guard?: AddressGuard;
}) {
  const { db, endpoints, encryptor, guard } = deps;

  function toJson(row: WebhookSubscriptionsTable, slug: string): SubscriptionJson {
    return {
      id: row.id,
      object: 'webhook_subscription',
      endpoint: slug,
      environment: row.environment as 'test' | 'live',
      url: row.url,
      events: JSON.parse(row.events) as EventType[],
      enabled: row.enabled === 1,
      disabled_reason: row.disabled_reason,
      failing_since: row.failing_since,
      previous_secret_expires_at: row.previous_secret_expires_at,
      created_at: row.created_at,
      updated_at: row.updated_at,
    };
  }

  async function requireRow(id: string): Promise<{ row: WebhookSubscriptionsTable; slug: string }> {
    const found = await db
      .selectFrom('webhook_subscriptions as w')
      .innerJoin('endpoints as e', 'e.id', 'w.endpoint_id')
      .selectAll('w')
      .select('e.slug')
      .where('w.id', '=', id)
      .executeTakeFirst();
    if (!found) throw new ApiError('not_found', { message: `Webhook subscription "${id}" not found` });
    const { slug, ...row } = found;
    return { row, slug };
  }

  return {
    async create(slug: string, body: unknown): Promise<SubscriptionJson & { secret: string }> {
      const input = parseCreate(body);
      const endpoint = await endpoints.get(slug);
      const secret = newSigningSecret();
      const now = nowIso();
      const row: WebhookSubscriptionsTable = {
        id: newId('webhook'),
        endpoint_id: endpoint.id,
        environment: input.environment,
        url: checkUrl(input.url, guard),
        events: JSON.stringify(input.events ?? ['record.created', 'record.updated', 'record.deleted']),
        secret: encryptor.encrypt(secret),
        previous_secret: null,
        previous_secret_expires_at: null,
        enabled: input.enabled === false ? 0 : 1,
        disabled_reason: null,
        failing_since: null,
        created_at: now,
        updated_at: now,
      };
      await db.insertInto('webhook_subscriptions').values(row).execute();
      return { ...toJson(row, slug), secret };
    },

    async list(slug: string): Promise<SubscriptionJson[]> {
      const endpoint = await endpoints.get(slug);
      const rows = await db
        .selectFrom('webhook_subscriptions')
        .selectAll()
        .where('endpoint_id', '=', endpoint.id)
        .orderBy('created_at')
        .execute();
      return rows.map((row) => toJson(row, slug));
    },

    /** Every endpoint's subscriptions, by endpoint slug then age, filtered by SUBSCRIPTION_QUERY. */
    async listAll(query: Record<string, unknown>): Promise<SubscriptionJson[]> {
      const { environment, enabled } = query;
      if (environment !== undefined && environment !== 'test' && environment !== 'live')
        throw invalid('environment', 'Must be test or live');
      if (enabled !== undefined && enabled !== 'true' && enabled !== 'false')
        throw invalid('enabled', 'Must be true or false');
      let q = db
        .selectFrom('webhook_subscriptions as w')
        .innerJoin('endpoints as e', 'e.id', 'w.endpoint_id')
        .selectAll('w')
        .select('e.slug');
      if (environment !== undefined) q = q.where('w.environment', '=', environment);
      if (enabled !== undefined) q = q.where('w.enabled', '=', enabled === 'true' ? 1 : 0);
      const rows = await q.orderBy('e.slug').orderBy('w.created_at').orderBy('w.id').execute();
      return rows.map(({ slug, ...row }) => toJson(row, slug));
    },

    async get(id: string): Promise<SubscriptionJson> {
      const { row, slug } = await requireRow(id);
      return toJson(row, slug);
    },

    async update(id: string, body: unknown): Promise<SubscriptionJson> {
      const patch = parsePatch(body);
      const { row } = await requireRow(id);
      // Only the columns the patch names are written: the worker may turn the subscription off
      // (a 410, failing too long) between the read above and this write, and a PATCH of its URL
      // or events must not write the `enabled` it read back over that.
      const changes: Partial<Omit<WebhookSubscriptionsTable, 'id' | 'created_at'>> = { updated_at: nowIso() };
      if (patch.url !== undefined) changes.url = checkUrl(patch.url, guard);
      if (patch.events) changes.events = JSON.stringify(patch.events);
      if (patch.enabled !== undefined) {
        changes.enabled = patch.enabled ? 1 : 0;
        // Turning a subscription back on clears why it was turned off.
        if (patch.enabled) Object.assign(changes, { disabled_reason: null, failing_since: null });
      }
      const updatedAt = changes.updated_at as string;
      await db.transaction().execute(async (trx) => {
        await trx.updateTable('webhook_subscriptions').set(changes).where('id', '=', id).execute();
        // Deliveries still to go follow the subscription to its new URL.
        if (changes.url !== undefined && changes.url !== row.url) {
          await trx
            .updateTable('webhook_deliveries')
            .set({ url: changes.url, origin: originOf(changes.url), updated_at: updatedAt })
            .where('subscription_id', '=', id)
            .where('status', '=', 'pending')
            .execute();
        }
        if (patch.enabled === false) await cancelPendingDeliveries(trx, id, updatedAt);
      });
      const { row: updated, slug } = await requireRow(id);
      return toJson(updated, slug);
    },

    async remove(id: string): Promise<void> {
      await requireRow(id);
      // Its deliveries still to go end now, as when it is disabled. Left pending, each waited for
      // its next attempt (an hour off, say) to be cancelled, and showed as pending meanwhile.
      // The subscription's row first, then its deliveries: the lock order of every writer of both.
      await db.transaction().execute(async (trx) => {
        await trx.deleteFrom('webhook_subscriptions').where('id', '=', id).execute();
        await cancelPendingDeliveries(trx, id, nowIso());
      });
    },

    /** A new secret, shown once; the old one keeps signing alongside it for 24 h. */
    async rotateSecret(id: string, body?: unknown): Promise<SubscriptionJson & { secret: string }> {
      if (body && typeof body === 'object' && 'grace_seconds' in body) {
        throw invalid(
          'grace_seconds',
          "A subscription's old secret always signs alongside for 24 h; rotate again to end it at once. Nothing was rotated",
        );
      }
      parseRotate(body ?? {});
      const { row, slug } = await requireRow(id);
      const secret = newSigningSecret();
      const next: WebhookSubscriptionsTable = {
        ...row,
        secret: encryptor.encrypt(secret),
        previous_secret: row.secret,
        previous_secret_expires_at: isoAfter(ROTATION_OVERLAP_SECONDS),
        updated_at: nowIso(),
      };
      await db
        .updateTable('webhook_subscriptions')
        .set({
          secret: next.secret,
          previous_secret: next.previous_secret,
          previous_secret_expires_at: next.previous_secret_expires_at,
          updated_at: next.updated_at,
        })
        .where('id', '=', id)
        .execute();
      return { ...toJson(next, slug), secret };
    },
  };
}
