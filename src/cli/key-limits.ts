import type { KeyLimits } from '../keys/key-input.ts';

const windows = [
  ['per_minute', 'minute'],
  ['per_day', 'day'],
  ['per_month', 'month'],
] as const;

/**
 * A key's limits for the `keys list` table: its own (`120/minute, 50000/day`), then the
 * installation defaults that fill the windows it leaves empty, marked `(default)`, when the API
 * says them (`meta.default_limits`). When it does not, a key with no limit of its own reads
 * `defaults`: whatever GATEHOUSE_DEFAULT_PER_* sets applies to it (docs/limits.md).
 */
export function limitsCell(own: KeyLimits, defaults: KeyLimits | null | undefined): string {
  const parts: string[] = [];
  for (const [field, window] of windows) {
    const mine = own[field];
    const fallback = defaults?.[field];
    if (mine !== undefined && mine !== null) parts.push(`${mine}/${window}`);
    else if (fallback !== undefined && fallback !== null) parts.push(`${fallback}/${window} (default)`);
  }
  if (parts.length > 0) return parts.join(', ');
  return defaults === undefined ? 'defaults' : 'none';
}
