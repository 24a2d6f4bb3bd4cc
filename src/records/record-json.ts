import type { RecordsTable } from '../infra/db/schema.ts';

export type RecordRow = Pick<
  RecordsTable,
  'id' | 'data' | 'version' | 'created_at' | 'updated_at' | 'environment'
>;

/**
 * A record as JSON text. `data` is stored as the JSON text that was sent (re-serialised once),
 * so it is spliced in rather than parsed and stringified again on every read.
 */
export function recordJson(row: RecordRow, slug: string): string {
  return `{"id":"${row.id}","object":"record","endpoint":"${slug}","environment":"${row.environment}","data":${row.data},"version":${row.version},"created_at":"${row.created_at}","updated_at":"${row.updated_at}"}`;
}

/** The 202 every accepted write gets (and an Idempotency-Key's stored response). */
export const queuedBody = (recordId: string) =>
  `{"success":true,"id":"${recordId}","message":"Request queued"}`;
