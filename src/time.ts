import { invalid } from './errors.ts';

/** Timestamps are ISO 8601 UTC strings everywhere: in the database, in responses, in logs. */
export function nowIso(): string {
  const now = Date.now();
  // Made for every write: the same millisecond gives the same string.
  if (now !== lastMs) {
    lastMs = now;
    lastIso = new Date(now).toISOString();
  }
  return lastIso;
}

let lastMs = -1;
let lastIso = '';

export function isoAfter(seconds: number, from = Date.now()): string {
  return new Date(from + seconds * 1000).toISOString();
}

/**
 * A new `expires_at` in the past would cut its key or endpoint off at once, answered "saved": a
 * mistyped year. Refused (400 naming the field); deactivating is how one stops now.
 */
export function refusePastExpiry(expiresAt: string | null | undefined): void {
  if (expiresAt && Date.parse(expiresAt) <= Date.now()) throw invalid('expires_at', 'Must be in the future');
}
