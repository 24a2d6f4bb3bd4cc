import type { FastifyInstance, FastifyRequest } from 'fastify';
import { ApiError, invalid, parseLimit } from '../errors.ts';
import { newId } from '../ids.ts';
import type { Db } from '../infra/db/database.ts';
import { clientScope } from '../limits/client-scope.ts';
import { nowIso } from '../time.ts';
import { AUDIT_ACTIONS, AUDIT_KINDS, type AuditAction, ROUTE_ACTIONS } from './audit-actions.ts';

export interface AuditEntry {
  actor: { id: string; email: string | null } | null;
  action: AuditAction;
  targetType?: string | null;
  targetId?: string | null;
  details?: Record<string, unknown> | null;
  ip?: string | null;
}

export type AuditLog = ReturnType<typeof createAuditLog>;

const KNOWN_ACTIONS = new Set<string>(AUDIT_ACTIONS);
const KNOWN_KINDS = [...AUDIT_KINDS].sort();

/**
 * The `action` filter as given, or a 400 naming the kinds: a mistyped one (`key.revoked`, `keys`)
 * would otherwise match nothing and read as "no such entries".
 */
function knownAction(action: string): string {
  if (KNOWN_ACTIONS.has(action) || KNOWN_KINDS.includes(action)) return action;
  throw invalid(
    'action',
    `Not an action the log records: give one (key.revoke) or a kind: ${KNOWN_KINDS.join(', ')}`,
  );
}

const MAX_LIMIT = 200;

/** What `GET /admin/v1/audit` takes (known-query.ts refuses any other name). */
export const AUDIT_QUERY = {
  actor: "Only this actor's entries (email or user id)",
  action: 'Only this action (`key.revoke`), or every action of a kind (`key`)',
  after: 'The next_cursor of the previous page',
  limit: `Page size, 1 to ${MAX_LIMIT} (default 50)`,
} as const;

/** The newest-first cursor: `at` and `id` of the last entry seen. */
function encodeCursor(at: string, id: string): string {
  return Buffer.from(`${at}|${id}`).toString('base64url');
}

function decodeCursor(cursor: string): { at: string; id: string } {
  const [at, id] = Buffer.from(cursor, 'base64url').toString().split('|');
  if (!at || !id || Number.isNaN(Date.parse(at))) throw new ApiError('invalid_cursor');
  return { at, id };
}

export function createAuditLog(db: Db) {
  return {
    /** Adds an entry; its id. */
    async record(entry: AuditEntry): Promise<string> {
      const id = newId('audit');
      await db
        .insertInto('audit_log')
        .values({
          id,
          at: nowIso(),
          actor_id: entry.actor?.id ?? null,
          actor_email: entry.actor?.email ?? null,
          action: entry.action,
          target_type: entry.targetType ?? null,
          target_id: entry.targetId ?? null,
          details: entry.details ? JSON.stringify(entry.details) : null,
          ip: entry.ip ?? null,
          // What failed sign-ins are counted by (an IPv6 client per /64); the owner sees `ip`.
          client: entry.ip ? clientScope(entry.ip) : null,
        })
        .execute();
      return id;
    },

    async list(query: Record<string, unknown>) {
      const limit = parseLimit(query.limit, MAX_LIMIT, 50);
      let q = db.selectFrom('audit_log').selectAll().orderBy('at', 'desc').orderBy('id', 'desc');
      if (typeof query.actor === 'string' && query.actor !== '') {
        const actor = query.actor.toLowerCase();
        q = q.where((eb) =>
          eb.or([eb('actor_email', '=', actor), eb('actor_id', '=', query.actor as string)]),
        );
      }
      if (typeof query.action === 'string' && query.action !== '') {
        // `key` matches every key.* action; `key.revoke` only that one.
        const action = knownAction(query.action);
        q = action.includes('.') ? q.where('action', '=', action) : q.where('action', 'like', `${action}.%`);
      }
      if (typeof query.after === 'string' && query.after !== '') {
        const { at, id } = decodeCursor(query.after);
        q = q.where((eb) => eb.or([eb('at', '<', at), eb.and([eb('at', '=', at), eb('id', '<', id)])]));
      }
      const rows = await q.limit(limit + 1).execute();
      const page = rows.slice(0, limit);
      const last = page[page.length - 1];
      return {
        data: page.map((row) => ({
          id: row.id,
          object: 'audit_entry' as const,
          at: row.at,
          actor: row.actor_id ? { id: row.actor_id, email: row.actor_email } : null,
          action: row.action,
          target_type: row.target_type,
          target_id: row.target_id,
          details: row.details ? (JSON.parse(row.details) as unknown) : null,
          ip: row.ip,
        })),
        next_cursor: rows.length > limit && last ? encodeCursor(last.at, last.id) : null,
        limit,
      };
    },
  };
}

/** A response's JSON body, or null (too large to be worth parsing, or not JSON). */
function parsedPayload(payload: unknown): { data?: Record<string, unknown> } | null {
  if (typeof payload !== 'string' || payload.length > 1_000_000) return null;
  try {
    return JSON.parse(payload) as { data?: Record<string, unknown> };
  } catch {
    return null;
  }
}

/** What a response says about the object it made, for the audit entry's target. */
function createdTarget(body: { data?: Record<string, unknown> } | null): string | null {
  const id = body?.data?.slug ?? body?.data?.id;
  return typeof id === 'string' ? id : null;
}

/**
 * What a deploy published: the version it made, to `live` (the only environment a deploy goes
 * to; test always runs the draft). Without it the log could not say which version went out.
 */
function deployedVersion(body: { data?: Record<string, unknown> } | null): Record<string, unknown> {
  const version = (body?.data?.deployed as { version?: unknown } | undefined)?.version;
  return typeof version === 'number' ? { version, environment: 'live' } : {};
}

/**
 * Logs every successful state-changing management call named in ROUTE_ACTIONS, whoever made it
 * (dashboard session or CLI token), before the response is sent.
 */
export function registerAuditHook(app: FastifyInstance, audit: AuditLog): void {
  app.addHook('onSend', async (request: FastifyRequest, reply, payload) => {
    if (request.method === 'GET' || reply.statusCode >= 300) return payload;
    const action: AuditAction | undefined = (ROUTE_ACTIONS as Record<string, AuditAction>)[
      `${request.method} ${request.routeOptions.url}`
    ];
    if (!action || !request.principal) return payload;
    const params = request.params as { id?: string; slug?: string };
    const [targetType] = action.split('.');
    const details: Record<string, unknown> = {};
    // What the call made or changed is the target; the endpoint it belongs to is a detail.
    const ofEndpoint = action.startsWith('console.') || action === 'webhook.create';
    if (ofEndpoint) details.endpoint = params.slug;
    const named = params.id ?? (ofEndpoint ? null : params.slug) ?? null;
    const deploy = action.endsWith('.deploy');
    // A key's id alone says nothing to a reader of the log: its name, as the response gives it.
    const ofKey = targetType === 'key';
    // The response is read only when it says something the request does not.
    const body = deploy || ofKey || named === null ? parsedPayload(payload) : null;
    if (deploy) Object.assign(details, deployedVersion(body));
    if (ofKey && typeof body?.data?.name === 'string') details.name = body.data.name;
    Object.assign(details, request.auditDetails);
    await audit.record({
      actor: { id: request.principal.userId, email: request.principal.email ?? null },
      action,
      targetType: action.startsWith('console.') ? 'record' : (targetType ?? null),
      targetId: named ?? createdTarget(body),
      details: Object.keys(details).length > 0 ? details : null,
      ip: request.ip,
    });
    return payload;
  });
}

declare module 'fastify' {
  interface FastifyRequest {
    /** What a route adds to its audit entry's details that neither request nor response says. */
    auditDetails?: Record<string, unknown>;
  }
}
