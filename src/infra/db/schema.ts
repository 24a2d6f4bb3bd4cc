import type { Generated } from 'kysely';

/** Kysely table types. Timestamps are ISO 8601 UTC strings, booleans 0/1, JSON is text: the same on both databases. */

export interface SettingsTable {
  key: string;
  value: string;
}

export interface OwnersTable {
  id: string;
  email: string;
  password_hash: string;
  role: string;
  created_at: string;
  last_sign_in_at: string | null;
}

export interface ManagementTokensTable {
  id: string;
  owner_id: string;
  token_hash: string;
  name: string;
  created_at: string;
  last_used_at: string | null;
}

export interface EndpointsTable {
  id: string;
  slug: string;
  name: string;
  schema: string;
  max_body_bytes: number;
  retry_max: number;
  retry_interval: number;
  active: number;
  expires_at: string | null;
  draft_revision: number;
  live_version: number | null;
  created_at: string;
  updated_at: string;
}

export interface EndpointVersionsTable {
  endpoint_id: string;
  version: number;
  name: string;
  schema: string;
  max_body_bytes: number;
  retry_max: number;
  retry_interval: number;
  created_at: string;
}

export interface ApiKeysTable {
  id: string;
  name: string;
  environment: string;
  start: string;
  scopes: string;
  limits: string | null;
  status: string;
  expires_at: string | null;
  created_at: string;
  updated_at: string;
  last_used_at: string | null;
  /** The user who created the key; null for keys made before roles existed. */
  created_by: string | null;
  /** Which generation of the key's callback signing secret signs now: 0 until its first rotation. */
  callback_secret_generation: number;
  /** After a rotation, when the generation before stops signing alongside; null: no rotation. */
  callback_secret_previous_until: string | null;
}

export interface ApiKeySecretsTable {
  hash: string;
  key_id: string;
  created_at: string;
  expires_at: string | null;
}

export interface RecordsTable {
  seq: Generated<number>;
  id: string;
  endpoint_id: string;
  environment: string;
  data: string;
  version: number;
  created_at: string;
  updated_at: string;
}

/** Every write is a request; a request whose `status` is `queued` is an outbox entry awaiting processing. */
export interface RequestsTable {
  seq: Generated<number>;
  id: string;
  key_id: string | null;
  endpoint_id: string;
  environment: string;
  operation: string;
  record_id: string;
  record_version: number;
  source: string;
  /** The record JSON the event carries; empty for a create, whose `record_data` holds its data. */
  payload: string;
  callback: string | null;
  status: string;
  created_at: string;
  processed_at: string | null;
  /** A create's data (its record is the row's id, environment and time at version 1); else null. */
  record_data: string | null;
}

/** Requests per key, endpoint, environment, status and UTC day; flushed from memory in batches. */
export interface UsageDailyTable {
  day: string;
  key_id: string;
  endpoint: string;
  environment: string;
  status_class: string;
  /** The exact status; 0 in rows counted before statuses were (which have only their class). */
  status: number;
  count: number;
  rate_limited: number;
}

/** A write made with an Idempotency-Key, stored in the write's own transaction. */
export interface IdempotencyKeysTable {
  key_id: string;
  idempotency_key: string;
  fingerprint: string;
  request_id: string;
  record_id: string;
  status_code: number;
  response_body: string;
  created_at: string;
  expires_at: string;
}

export interface WebhookSubscriptionsTable {
  id: string;
  endpoint_id: string;
  environment: string;
  url: string;
  /** JSON array of event types. */
  events: string;
  /** Signing secrets, encrypted with the installation secret (they must be read back to sign). */
  secret: string;
  previous_secret: string | null;
  previous_secret_expires_at: string | null;
  enabled: number;
  disabled_reason: string | null;
  failing_since: string | null;
  created_at: string;
  updated_at: string;
}

export interface WebhookEventsTable {
  id: string;
  type: string;
  request_id: string;
  endpoint_id: string;
  environment: string;
  /** The exact JSON body every target receives. */
  payload: string;
  created_at: string;
}

export interface WebhookDeliveriesTable {
  seq: Generated<number>;
  id: string;
  event_id: string;
  event_type: string;
  subscription_id: string | null;
  target: string;
  url: string;
  origin: string;
  /** Per-request callback auth header, encrypted JSON {name, value}. */
  auth: string | null;
  endpoint_id: string;
  environment: string;
  request_id: string;
  record_id: string;
  status: string;
  attempts: number;
  max_attempts: number;
  interval_seconds: number;
  next_attempt_at: string;
  last_status_code: number | null;
  last_error: string | null;
  created_at: string;
  updated_at: string;
}

/**
 * How many deliveries are in each status, kept by triggers on webhook_deliveries (migration
 * 0013): the installation's figures are the sums over the rows (one on SQLite).
 */
export interface WebhookDeliveryCountsTable {
  shard: Generated<number>;
  pending: number;
  succeeded: number;
  failed: number;
  cancelled: number;
}

export interface WebhookAttemptsTable {
  seq: Generated<number>;
  delivery_id: string;
  attempted_at: string;
  duration_ms: number;
  status_code: number | null;
  response_body: string | null;
  error: string | null;
}

/** An App API: its draft routes (JSON text) and which deployed version serves `live`. */
export interface AppsTable {
  slug: string;
  name: string;
  definition: string;
  draft_revision: number;
  live_version: number | null;
  created_at: string;
  updated_at: string;
}

/** A deployed, immutable version of an app's routes. */
export interface AppVersionsTable {
  app_slug: string;
  version: number;
  name: string;
  definition: string;
  created_at: string;
}

export interface Database {
  settings: SettingsTable;
  owners: OwnersTable;
  management_tokens: ManagementTokensTable;
  endpoints: EndpointsTable;
  endpoint_versions: EndpointVersionsTable;
  api_keys: ApiKeysTable;
  api_key_secrets: ApiKeySecretsTable;
  records: RecordsTable;
  requests: RequestsTable;
  usage_daily: UsageDailyTable;
  idempotency_keys: IdempotencyKeysTable;
  webhook_subscriptions: WebhookSubscriptionsTable;
  webhook_events: WebhookEventsTable;
  webhook_deliveries: WebhookDeliveriesTable;
  webhook_delivery_counts: WebhookDeliveryCountsTable;
  webhook_attempts: WebhookAttemptsTable;
  apps: AppsTable;
  app_versions: AppVersionsTable;
  sessions: SessionsTable;
  invites: InvitesTable;
  audit_log: AuditLogTable;
  test_requests: TestRequestsTable;
}

export interface SessionsTable {
  id: string;
  token_hash: string;
  csrf_token: string;
  user_id: string;
  created_at: string;
  last_seen_at: string;
  expires_at: string;
}

export interface InvitesTable {
  id: string;
  token_hash: string;
  email: string;
  role: string;
  created_by: string;
  created_at: string;
  expires_at: string;
  accepted_at: string | null;
}

export interface AuditLogTable {
  id: string;
  at: string;
  actor_id: string | null;
  actor_email: string | null;
  action: string;
  target_type: string | null;
  target_id: string | null;
  details: string | null;
  ip: string | null;
  /** The client `ip` is counted under (limits/client-scope.ts: an IPv6 address's /64); null without an ip. */
  client: string | null;
}

export interface TestRequestsTable {
  id: string;
  user_id: string;
  key_id: string;
  method: string;
  path: string;
  request: string;
  response: string;
  status: number;
  duration_ms: number;
  created_at: string;
}
