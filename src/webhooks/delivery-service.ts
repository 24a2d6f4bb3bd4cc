import { randomBytes } from 'node:crypto';
import { ApiError, invalid, orList } from '../errors.ts';
import { newId } from '../ids.ts';
import type { Encryptor } from '../infra/crypto/encryption.ts';
import { hmac, safeEqual } from '../infra/crypto/hash.ts';
import type { Db } from '../infra/db/database.ts';
import type { WebhookAttemptsTable, WebhookDeliveriesTable } from '../infra/db/schema.ts';
import { nowIso } from '../time.ts';
import { originOf } from './events.ts';
import { EVENT_TYPES } from './subscription-service.ts';

export interface AttemptJson {
  attempted_at: string;
  duration_ms: number;
  status_code: number | null;
  response_body: string | null;
  error: string | null;
}

export interface DeliveryJson {
  id: string;
  object: 'webhook_delivery';
  event_id: string;
  event_type: string;
  target: 'callback' | 'subscription';
  subscription_id: string | null;
  url: string;
  endpoint: string | null;
  environment: string;
  request_id: string;
  record_id: string;
  status: 'pending' | 'succeeded' | 'failed' | 'cancelled';
  attempts: AttemptJson[];
  attempt_count: number;
  max_attempts: number;
  next_attempt_at: string | null;
  last_status_code: number | null;
  last_error: string | null;
  created_at: string;
  updated_at: string;
}

type Row = WebhookDeliveriesTable & { seq: number; slug: string | null };

function attemptJson(
  a: Pick<WebhookAttemptsTable, 'attempted_at' | 'duration_ms' | 'status_code' | 'response_body' | 'error'>,
): AttemptJson {
  return {
    attempted_at: a.attempted_at,
    duration_ms: a.duration_ms,
    status_code: a.status_code,
    response_body: a.response_body,
    error: a.error,
  };
}

/**
 * An attempt's error as a collaborator sees it: the addresses a name resolved to and the ports
 * behind them are the installation's network, not theirs (a callback URL of their choice would
 * otherwise map it: which names resolve inward, which ports answer).
 */
export function withoutAddresses(error: string | null): string | null {
  if (error === null) return null;
  // A name that resolves inward and one that does not resolve read alike: which is which is the
  // installation's network too. `refused target: <why>` is an address written in the URL,
  // `refused target <host>: <why>` a name that resolved to one.
  if (/^refused target[: ]|getaddrinfo|ENOTFOUND|EAI_AGAIN/.test(error))
    return 'could not reach a public address';
  return error
    .replace(/\[?[0-9a-f]*:[0-9a-f:.]*:[0-9a-f:.]*\]?(:\d+)?/gi, (found) =>
      // An IPv6 address has `::`, a hex letter, brackets or 3+ colons; a clock time (12:30:45) has none.
      /::|[a-f[]/i.test(found) || (found.match(/:/g)?.length ?? 0) >= 3 ? '[address]' : found,
    )
    .replace(/\b\d{1,3}(\.\d{1,3}){3}(:\d+)?\b/g, '[address]');
}

/** What `GET /admin/v1/deliveries` takes (known-query.ts refuses any other name). */
export const DELIVERY_QUERY = {
  endpoint: 'Only this endpoint (slug)',
  environment: 'test or live',
  record_id: 'Only deliveries of this record',
  request_id: 'Only deliveries caused by this request',
  status: 'pending, succeeded, failed or cancelled',
  event_type: 'Only this event type, e.g. record.created',
  limit: 'Page size, 1 to 100 (default 25)',
  after: 'The next_cursor of the previous page',
} as const;

type DeliveryFilter = { [name in keyof typeof DELIVERY_QUERY]?: string };

export type DeliveryService = ReturnType<typeof createDeliveryService>;

/** The delivery log (every attempt, newest first), redelivery, and the callback signing secret. */
export function createDeliveryService(deps: { db: Db; secret: string; encryptor: Encryptor }) {
  const { db, secret } = deps;
  const redelivered: Array<() => void> = [];

  async function attemptsOf(ids: string[]): Promise<Map<string, AttemptJson[]>> {
    const out = new Map<string, AttemptJson[]>();
    if (ids.length === 0) return out;
    const rows = await db
      .selectFrom('webhook_attempts')
      .selectAll()
      .where('delivery_id', 'in', ids)
      .orderBy('seq')
      .execute();
    for (const row of rows) {
      const list = out.get(row.delivery_id) ?? [];
      list.push(attemptJson(row));
      out.set(row.delivery_id, list);
    }
    return out;
  }

  function toJson(row: Row, attempts: AttemptJson[], collaborator = false): DeliveryJson {
    if (collaborator) {
      attempts = attempts.map((a) => ({ ...a, error: withoutAddresses(a.error) }));
      row = { ...row, last_error: withoutAddresses(row.last_error) };
    }
    return {
      id: row.id,
      object: 'webhook_delivery',
      event_id: row.event_id,
      event_type: row.event_type,
      target: row.subscription_id === null ? 'callback' : 'subscription',
      subscription_id: row.subscription_id,
      url: row.url,
      endpoint: row.slug,
      environment: row.environment,
      request_id: row.request_id,
      record_id: row.record_id,
      status: row.status as DeliveryJson['status'],
      attempts,
      attempt_count: attempts.length,
      max_attempts: row.max_attempts,
      next_attempt_at: row.status === 'pending' ? row.next_attempt_at : null,
      last_status_code: row.last_status_code,
      last_error: row.last_error,
      created_at: row.created_at,
      updated_at: row.updated_at,
    };
  }

  /**
   * With `createdBy` (a collaborator): only the callbacks of requests sent with keys that user
   * created. Subscriptions are the owner's: their deliveries (URL, the receiver's answers) are
   * not shown to a collaborator, nor redelivered by one, whoever's request caused them.
   */
  const base = (createdBy?: string) => {
    const q = db
      .selectFrom('webhook_deliveries as d')
      .leftJoin('endpoints as e', 'e.id', 'd.endpoint_id')
      .selectAll('d')
      .select('e.slug');
    if (createdBy === undefined) return q;
    return q
      .where('d.subscription_id', 'is', null)
      .where('d.request_id', 'in', (eb) =>
        eb
          .selectFrom('requests as r')
          .innerJoin('api_keys as k', 'k.id', 'r.key_id')
          .select('r.id')
          .where('k.created_by', '=', createdBy),
      );
  };

  /**
   * A subscription's delivery goes where the subscription points now; a callback's to its own
   * URL. A subscription deleted or disabled since takes no redelivery: it would be cancelled
   * unsent, so it is refused now (409) rather than accepted and dropped.
   */
  async function currentUrl(row: Row): Promise<string> {
    // Deleting an endpoint ends its deliveries for good, callbacks included.
    if (row.slug === null || row.slug === undefined) {
      throw new ApiError('conflict', {
        message: `The endpoint of delivery "${row.id}" was deleted: nothing to redeliver`,
      });
    }
    if (row.subscription_id === null) return row.url;
    const subscription = await db
      .selectFrom('webhook_subscriptions')
      .select(['url', 'enabled'])
      .where('id', '=', row.subscription_id)
      .executeTakeFirst();
    if (!subscription?.enabled) {
      throw new ApiError('conflict', {
        message: subscription
          ? `Subscription "${row.subscription_id}" is disabled: enable it to redeliver`
          : `Subscription "${row.subscription_id}" was deleted: nothing to redeliver to`,
      });
    }
    return subscription.url;
  }

  function cursor(seq: number): string {
    return Buffer.from(`${seq}.${hmac(secret, `deliveries|${seq}`).slice(0, 16)}`).toString('base64url');
  }

  function decodeCursor(value: string): number {
    const match = /^(\d{1,15})\.([A-Za-z0-9_-]{16})$/.exec(Buffer.from(value, 'base64url').toString());
    if (
      !match?.[1] ||
      !match[2] ||
      !safeEqual(match[2], hmac(secret, `deliveries|${match[1]}`).slice(0, 16))
    ) {
      throw new ApiError('invalid_cursor', {
        details: [{ field: 'after', error: 'Not a cursor of this list' }],
      });
    }
    return Number(match[1]);
  }

  return {
    async list(
      query: Record<string, unknown>,
      scope: { createdBy?: string } = {},
    ): Promise<{ data: DeliveryJson[]; next_cursor: string | null; limit: number }> {
      const f = query as DeliveryFilter;
      const limit = f.limit === undefined ? 25 : Number(f.limit);
      if (!Number.isInteger(limit) || limit < 1 || limit > 100)
        throw invalid('limit', 'Must be an integer from 1 to 100');
      // Checked when given, blank too: `?environment=` listed every environment's deliveries.
      if (f.status !== undefined && !['pending', 'succeeded', 'failed', 'cancelled'].includes(f.status)) {
        throw invalid('status', 'Must be pending, succeeded, failed or cancelled');
      }
      if (f.environment !== undefined && f.environment !== 'test' && f.environment !== 'live')
        throw invalid('environment', 'Must be test or live');
      if (f.event_type !== undefined && !(EVENT_TYPES as readonly string[]).includes(f.event_type))
        throw invalid('event_type', `Must be ${orList(EVENT_TYPES)}`);
      let q = base(scope.createdBy);
      if (f.endpoint) q = q.where('e.slug', '=', f.endpoint);
      if (f.environment) q = q.where('d.environment', '=', f.environment);
      if (f.record_id) q = q.where('d.record_id', '=', f.record_id);
      if (f.request_id) q = q.where('d.request_id', '=', f.request_id);
      if (f.status) q = q.where('d.status', '=', f.status);
      if (f.event_type) q = q.where('d.event_type', '=', f.event_type);
      if (f.after) q = q.where('d.seq', '<', decodeCursor(f.after));
      const rows = (await q
        .orderBy('d.seq', 'desc')
        .limit(limit + 1)
        .execute()) as Row[];
      const page = rows.slice(0, limit);
      const attempts = await attemptsOf(page.map((r) => r.id));
      const last = page[page.length - 1];
      return {
        data: page.map((row) => toJson(row, attempts.get(row.id) ?? [], scope.createdBy !== undefined)),
        next_cursor: rows.length > limit && last ? cursor(last.seq) : null,
        limit,
      };
    },

    async get(id: string, scope: { createdBy?: string } = {}): Promise<DeliveryJson> {
      const row = (await base(scope.createdBy).where('d.id', '=', id).executeTakeFirst()) as Row | undefined;
      if (!row) throw new ApiError('not_found', { message: `Delivery "${id}" not found` });
      return toJson(row, (await attemptsOf([id])).get(id) ?? [], scope.createdBy !== undefined);
    },

    /** Sends the same event to the same target again, as a new delivery due now. */
    async redeliver(id: string, scope: { createdBy?: string } = {}): Promise<DeliveryJson> {
      const row = (await base(scope.createdBy).where('d.id', '=', id).executeTakeFirst()) as Row | undefined;
      if (!row) throw new ApiError('not_found', { message: `Delivery "${id}" not found` });
      const now = nowIso();
      const { seq: _seq, slug, ...copy } = row;
      const url = await currentUrl(row);
      const fresh = {
        ...copy,
        id: newId('delivery'),
        url,
        origin: originOf(url),
        // Its own ordering slot, so it is not held behind (or holding) the original's record order.
        target: `${row.target}#${randomBytes(4).toString('hex')}`,
        status: 'pending',
        attempts: 0,
        next_attempt_at: now,
        last_status_code: null,
        last_error: null,
        created_at: now,
        updated_at: now,
      };
      await db.insertInto('webhook_deliveries').values(fresh).execute();
      for (const listener of redelivered) listener();
      return toJson({ ...fresh, seq: 0, slug } as unknown as Row, []);
    },

    /** Called after each redelivery is stored: the webhook worker wakes on it, as on a commit. */
    onRedeliver(listener: () => void): void {
      redelivered.push(listener);
    },
  };
}

/** The installation's secret for signing per-request callbacks: made once, kept encrypted. */
export async function loadCallbackSecret(db: Db, encryptor: Encryptor, make: () => string): Promise<string> {
  const read = () =>
    db.selectFrom('settings').select('value').where('key', '=', 'callback_signing_secret').executeTakeFirst();
  const existing = await read();
  if (existing) return encryptor.decrypt(existing.value);
  await db
    .insertInto('settings')
    .values({ key: 'callback_signing_secret', value: encryptor.encrypt(make()) })
    .onConflict((oc) => oc.column('key').doNothing())
    .execute();
  const stored = await read();
  if (!stored) throw new Error('callback signing secret could not be stored');
  return encryptor.decrypt(stored.value);
}
