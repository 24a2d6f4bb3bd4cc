import type { Transaction } from 'kysely';
import { newId } from '../ids.ts';
import type { Database } from '../infra/db/schema.ts';
import type { EventType } from './subscription-service.ts';

/** The one event shape every target receives (docs/webhooks.md). */
export interface EventData {
  endpoint: string;
  environment: string;
  request_id: string;
  record_id: string;
  operation: string;
  status: 'processed' | 'failed';
  /** The record as written (for a delete: as it was); raw JSON text, spliced in. */
  recordJson: string;
  failure?: {
    delivery_id: string;
    url: string;
    attempts: number;
    last_status_code: number | null;
    last_error: string | null;
  };
}

export interface BuiltEvent {
  id: string;
  type: EventType;
  payload: string;
  createdAt: string;
}

export function buildEvent(type: EventType, data: EventData, createdAt: string): BuiltEvent {
  const id = newId('event');
  const { recordJson, failure, ...rest } = data;
  // `type`, `timestamp` and `data` are the Standard Webhooks payload; `id` and `created_at` ours.
  const head = JSON.stringify({
    id,
    type,
    timestamp: createdAt,
    created_at: createdAt,
    data: { ...rest, ...(failure ? { failure } : {}) },
  });
  // Splice the record in as stored: no parse and re-serialise of user data.
  const payload = `${head.slice(0, -2)},"record":${recordJson}}}`;
  return { id, type, payload, createdAt };
}

/**
 * The record of an event's payload as the text `buildEvent` spliced in, for a later event about
 * the same write (request.failed): parsing it would round integers past 2^53. `"record"` is the
 * last member of `data`, and the first `,"record":` is the one `buildEvent` wrote: the members
 * before it are ours, and a `"` inside one of their strings is escaped.
 */
export function splicedRecord(payload: string): string {
  const at = payload.indexOf(',"record":');
  return at === -1 ? 'null' : payload.slice(at + ',"record":'.length, -2);
}

export const operationEvent: Record<string, EventType> = {
  create: 'record.created',
  replace: 'record.updated',
  delete: 'record.deleted',
};

export interface DeliveryTarget {
  subscriptionId: string | null;
  /** Ordering key: deliveries with the same target and record go out in commit order. */
  target: string;
  url: string;
  auth: string | null;
}

export interface DeliveryContext {
  endpointId: string;
  environment: string;
  requestId: string;
  recordId: string;
  maxAttempts: number;
  intervalSeconds: number;
}

export function originOf(url: string): string {
  try {
    return new URL(url).origin;
  } catch {
    return url;
  }
}

export interface NewEvent {
  event: BuiltEvent;
  context: DeliveryContext;
  targets: DeliveryTarget[];
}

/** Rows per INSERT: well under both databases' parameter limits (deliveries have 21 columns). */
const CHUNK = 200;

/** One event and its deliveries (one per target). */
export async function insertEventWithDeliveries(
  trx: Transaction<Database>,
  event: BuiltEvent,
  context: DeliveryContext,
  targets: DeliveryTarget[],
): Promise<void> {
  await insertEvents(trx, [{ event, context, targets }]);
}

/**
 * Many events and their deliveries as multi-row INSERTs, in the order given: a delivery's `seq`
 * orders it after the earlier deliveries of its record and target (see dispatcher.ts).
 */
export async function insertEvents(trx: Transaction<Database>, items: NewEvent[]): Promise<void> {
  for (let i = 0; i < items.length; i += CHUNK) {
    await trx
      .insertInto('webhook_events')
      .values(
        items.slice(i, i + CHUNK).map(({ event, context }) => ({
          id: event.id,
          type: event.type,
          request_id: context.requestId,
          endpoint_id: context.endpointId,
          environment: context.environment,
          payload: event.payload,
          created_at: event.createdAt,
        })),
      )
      .execute();
  }
  const deliveries = items.flatMap(({ event, context, targets }) =>
    targets.map((t) => ({
      id: newId('delivery'),
      event_id: event.id,
      event_type: event.type,
      subscription_id: t.subscriptionId,
      target: t.target,
      url: t.url,
      origin: originOf(t.url),
      auth: t.auth,
      endpoint_id: context.endpointId,
      environment: context.environment,
      request_id: context.requestId,
      record_id: context.recordId,
      status: 'pending' as const,
      attempts: 0,
      max_attempts: context.maxAttempts,
      interval_seconds: context.intervalSeconds,
      next_attempt_at: event.createdAt,
      last_status_code: null,
      last_error: null,
      created_at: event.createdAt,
      updated_at: event.createdAt,
    })),
  );
  for (let i = 0; i < deliveries.length; i += CHUNK) {
    await trx
      .insertInto('webhook_deliveries')
      .values(deliveries.slice(i, i + CHUNK))
      .execute();
  }
}

/** Why a disabled subscription's deliveries ended (webhooks.md). */
export const DISABLED_ERROR = 'subscription disabled or deleted';

/**
 * A subscription was turned off (by its owner, a 410 or failing too long): its pending deliveries,
 * retries included, end as `cancelled` now, so turning it on again cannot send them. An attempt in
 * flight finds its delivery no longer pending and records only the attempt.
 */
export async function cancelPendingDeliveries(
  trx: Transaction<Database>,
  subscriptionId: string,
  now: string,
): Promise<void> {
  await trx
    .updateTable('webhook_deliveries')
    .set({ status: 'cancelled', last_error: DISABLED_ERROR, updated_at: now })
    .where('subscription_id', '=', subscriptionId)
    .where('status', '=', 'pending')
    .execute();
}
