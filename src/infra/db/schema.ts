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
  payload: string;
  callback: string | null;
  status: string;
  created_at: string;
  processed_at: string | null;
}

/** Requests per key, endpoint, environment and status class and UTC day; flushed from memory in batches. */
export interface UsageDailyTable {
  day: string;
  key_id: string;
  endpoint: string;
  environment: string;
  status_class: string;
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
}
