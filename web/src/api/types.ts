/** JSON shapes of the management API (the services under src/, and docs/dashboard.md). */

export type Role = 'owner' | 'collaborator';
export type Environment = 'test' | 'live';

export interface User {
  id: string;
  email: string;
  role: Role;
}

export interface SessionInfo {
  user: User;
  csrf_token: string;
  expires_at: string;
}

export interface SetupInfo {
  initialized: boolean;
  init_command: string;
}

export interface RetryPolicy {
  max_retries: number;
  interval_seconds: number;
}

export interface Endpoint {
  id: string;
  slug: string;
  name: string;
  schema: Record<string, unknown>;
  max_body_bytes: number;
  active: boolean;
  expires_at: string | null;
  retry: RetryPolicy;
  draft_revision: number;
  live_version: number | null;
  created_at: string;
  updated_at: string;
}

export interface EndpointVersion {
  version: number;
  name: string;
  schema: Record<string, unknown>;
  max_body_bytes: number;
  retry: RetryPolicy;
  created_at: string;
}

export interface App {
  slug: string;
  name: string;
  routes: unknown[];
  draft_revision: number;
  live_version: number | null;
  created_at: string;
  updated_at: string;
}

export interface AppVersion {
  version: number;
  name: string;
  routes: unknown[];
  created_at: string;
}

export interface KeyLimits {
  per_minute?: number | null;
  per_day?: number | null;
  per_month?: number | null;
}

/** `expired`: active, but its `expires_at` has passed (the API says so; a deactivated or revoked key keeps that status). */
export type KeyStatus = 'active' | 'inactive' | 'revoked' | 'expired';

export interface ApiKey {
  id: string;
  name: string;
  environment: Environment;
  start: string;
  scopes: string[];
  limits: KeyLimits;
  status: KeyStatus;
  expires_at: string | null;
  last_used_at: string | null;
  created_at: string;
  /** The dashboard user who made it; null for keys made with a management token. */
  created_by: string | null;
  updated_at: string;
}

export interface CreatedKey extends ApiKey {
  key: string;
  previous_secret_expires_at?: string;
}

export interface UsageRow {
  day?: string;
  key_id?: string;
  endpoint?: string | null;
  environment?: string;
  status_class?: string;
  /** null for counts made before exact statuses were recorded. */
  status?: number | null;
  count: number;
  rate_limited: number;
}

export interface Usage {
  from: string;
  to: string;
  rows: UsageRow[];
  totals: { count: number; rate_limited: number };
}

export type EventType = 'record.created' | 'record.updated' | 'record.deleted' | 'request.failed';
export const EVENT_TYPES: EventType[] = [
  'record.created',
  'record.updated',
  'record.deleted',
  'request.failed',
];

export interface Subscription {
  id: string;
  endpoint: string;
  environment: Environment;
  url: string;
  events: EventType[];
  enabled: boolean;
  disabled_reason: string | null;
  failing_since: string | null;
  previous_secret_expires_at: string | null;
  created_at: string;
  updated_at: string;
}

export interface Attempt {
  attempted_at: string;
  duration_ms: number;
  status_code: number | null;
  response_body: string | null;
  error: string | null;
}

export type DeliveryStatus = 'pending' | 'succeeded' | 'failed' | 'cancelled';

export interface Delivery {
  id: string;
  event_id: string;
  event_type: string;
  target: 'callback' | 'subscription';
  subscription_id: string | null;
  url: string;
  endpoint: string | null;
  environment: string;
  request_id: string;
  record_id: string;
  status: DeliveryStatus;
  attempts: Attempt[];
  attempt_count: number;
  max_attempts: number;
  next_attempt_at: string | null;
  last_status_code: number | null;
  last_error: string | null;
  created_at: string;
}

export interface DataRecord {
  id: string;
  endpoint: string;
  environment: string;
  data: unknown;
  version: number;
  created_at: string;
  updated_at: string;
}

export interface TestRequest {
  id: string;
  key_id?: string;
  method: string;
  path: string;
  status: number;
  headers: Record<string, string>;
  body: unknown;
  duration_ms: number;
  curl: string;
  created_at: string;
}

export interface Invite {
  id: string;
  email: string;
  url?: string;
  expires_at: string;
  created_at?: string;
}

export interface Collaborator {
  id: string;
  email: string;
  role: Role;
  created_at: string;
  last_sign_in_at: string | null;
}

/** A key's callback signing secret, as the owner reads or rotates it. */
export interface CallbackSigningSecret {
  object: 'callback_signing_secret';
  key_id: string;
  secret: string;
  used_for: string;
  /** After a rotation, until when the secret before signs alongside; null: no rotation in progress. */
  previous_secret_expires_at: string | null;
}

export interface AuditEntry {
  id: string;
  at: string;
  actor: { id: string | null; email: string | null } | null;
  action: string;
  target_type: string | null;
  target_id: string | null;
  details: unknown;
  ip: string | null;
}

/** A management token (`gm_…`) as listed: never its secret. */
export interface ManagementToken {
  id: string;
  object: 'management_token';
  name: string;
  created_at: string;
  /** To within a few seconds; null: never used. */
  last_used_at: string | null;
  current: boolean;
}
