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
