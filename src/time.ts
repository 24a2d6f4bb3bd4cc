/** Timestamps are ISO 8601 UTC strings everywhere: in the database, in responses, in logs. */
export function nowIso(): string {
  return new Date().toISOString();
}

export function isoAfter(seconds: number, from = Date.now()): string {
  return new Date(from + seconds * 1000).toISOString();
}
