import { sql, type Transaction } from 'kysely';
import type { Encryptor } from '../infra/crypto/encryption.ts';
import { sha256 } from '../infra/crypto/hash.ts';
import type { Db } from '../infra/db/database.ts';
import type { DialectAdapter } from '../infra/db/dialect.ts';
import type { Database } from '../infra/db/schema.ts';
import { recordJson } from '../records/record-json.ts';
import { nowIso } from '../time.ts';
import type { Callback } from './callback-headers.ts';
import { buildEvent, type DeliveryTarget, insertEvents, type NewEvent, operationEvent } from './events.ts';
import type { EventType } from './subscription-service.ts';

const BATCH = 200;

/** Subscriptions of an endpoint and environment that want `type`. */
export async function subscribedTargets(
  trx: Transaction<Database>,
  endpointId: string,
  environment: string,
  type: EventType,
): Promise<DeliveryTarget[]> {
  const rows = await trx
    .selectFrom('webhook_subscriptions')
    .select(['id', 'url', 'events'])
    .where('endpoint_id', '=', endpointId)
    .where('environment', '=', environment)
    .where('enabled', '=', 1)
    .execute();
  return rows
    .filter((row) => (JSON.parse(row.events) as string[]).includes(type))
    .map((row) => ({ subscriptionId: row.id, target: `sub:${row.id}`, url: row.url, auth: null }));
}

/**
 * The ordering target of a per-request callback is its URL, so one record's callbacks to one
 * receiver go out in commit order. Hashed: a short key for the ordering index, however long the URL.
 */
export function callbackTarget(url: string): string {
  return `cb:${sha256(url)}`;
}

/** The record JSON a request's event carries: a create's is rebuilt from its row (record-writer.ts). */
function eventRecord(
  row: {
    payload: string;
    record_data: string | null;
    record_id: string;
    record_version: number;
    environment: string;
    created_at: string;
  },
  slug: string,
): string {
  if (row.record_data === null) return row.payload;
  const { record_id: id, record_data: data, record_version: version, environment, created_at } = row;
  return recordJson({ id, data, version, created_at, updated_at: created_at, environment }, slug);
}

/**
 * One pass over the outbox: claims queued requests in commit order (on PostgreSQL with
 * FOR UPDATE SKIP LOCKED, never a request whose record has an earlier one still queued, so
 * several workers keep per-record order), turns each into its event and deliveries (none, and no
 * event, when nobody is to be told), and marks it processed — all in one transaction, so a crash
 * at any point leaves it queued, never half done. Returns how many requests it processed.
 */
export async function processOutbox(db: Db, dialect: DialectAdapter, encryptor: Encryptor): Promise<number> {
  return db.transaction().execute(async (trx) => {
    let query = trx
      .selectFrom('requests as r')
      .leftJoin('endpoints as e', 'e.id', 'r.endpoint_id')
      .leftJoin('endpoint_versions as v', (join) =>
        join.onRef('v.endpoint_id', '=', 'r.endpoint_id').onRef('v.version', '=', 'e.live_version'),
      )
      .select([
        'r.seq',
        'r.id',
        'r.endpoint_id',
        'r.environment',
        'r.operation',
        'r.record_id',
        'r.source',
        'r.payload',
        'r.record_data',
        'r.record_version',
        'r.created_at',
      ])
      .select(['r.callback', 'e.slug', 'e.retry_max', 'e.retry_interval'])
      .select(['v.retry_max as live_retry_max', 'v.retry_interval as live_retry_interval'])
      .where('r.status', '=', 'queued')
      .orderBy('r.seq')
      .limit(BATCH);
    // Without SKIP LOCKED (SQLite) the batch is the queue's head in `seq` order, so a request's
    // earlier queued ones for the same record are in it, ahead of it: nothing to check.
    if (dialect.claimsWithSkipLocked) {
      query = query
        .where(({ not, exists, selectFrom }) =>
          not(
            exists(
              selectFrom('requests as earlier')
                .select(sql`1`.as('one'))
                .whereRef('earlier.record_id', '=', 'r.record_id')
                .whereRef('earlier.seq', '<', 'r.seq')
                .where('earlier.status', '=', 'queued'),
            ),
          ),
        )
        .forUpdate('r')
        .skipLocked();
    }
    const rows = await query.execute();
    if (rows.length === 0) return 0;
    const now = nowIso();
    const events: NewEvent[] = [];
    // One query per endpoint, environment and event type in the batch, not one per request.
    const subscribers = new Map<string, Promise<DeliveryTarget[]>>();
    for (const row of rows) {
      const type = operationEvent[row.operation];
      // Console writes fire no webhooks; a request whose endpoint is gone has nobody to tell.
      if (row.source === 'api' && type && row.slug) {
        const live = row.environment === 'live';
        const retryMax = (live ? row.live_retry_max : row.retry_max) ?? row.retry_max ?? 3;
        const interval = (live ? row.live_retry_interval : row.retry_interval) ?? row.retry_interval ?? 60;
        const scope = `${row.endpoint_id}|${row.environment}|${type}`;
        let subscribed = subscribers.get(scope);
        if (!subscribed) {
          subscribed = subscribedTargets(trx, row.endpoint_id, row.environment, type);
          subscribers.set(scope, subscribed);
        }
        const targets = [...(await subscribed)];
        if (row.callback) {
          const { url } = JSON.parse(encryptor.decrypt(row.callback)) as Callback;
          targets.unshift({ subscriptionId: null, target: callbackTarget(url), url, auth: row.callback });
        }
        // Nobody to tell: no event is kept (nothing would ever read it).
        if (targets.length === 0) continue;
        const event = buildEvent(
          type,
          {
            endpoint: row.slug,
            environment: row.environment,
            request_id: row.id,
            record_id: row.record_id,
            operation: row.operation,
            status: 'processed',
            recordJson: eventRecord(row, row.slug),
          },
          now,
        );
        events.push({
          event,
          context: {
            endpointId: row.endpoint_id,
            environment: row.environment,
            requestId: row.id,
            recordId: row.record_id,
            maxAttempts: Number(retryMax) + 1,
            intervalSeconds: Number(interval),
          },
          targets,
        });
      }
    }
    await insertEvents(trx, events);
    await trx
      .updateTable('requests')
      .set({ status: 'processed', processed_at: now })
      .where(
        'seq',
        'in',
        rows.map((row) => row.seq),
      )
      .execute();
    return rows.length;
  });
}
