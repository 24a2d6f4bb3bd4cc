/**
 * A key's effective limits in words, for `gatehouse keys list` and the dashboard's Keys page:
 * its own, then the installation defaults that fill the windows it leaves empty, marked
 * `(default)`. Shared by the CLI and the browser bundle, so it imports nothing.
 */

type Window = 'per_minute' | 'per_day' | 'per_month';

/** A key's limits, or the installation's defaults (`meta.default_limits`); null or absent: none. */
export type LimitsByWindow = Readonly<Partial<Record<Window, number | null>>>;

/** How each place writes them: `120/minute, 50000/day` in a terminal, `120/min · 50,000/day` on the page. */
const WORDING = {
  terminal: {
    units: { per_minute: 'minute', per_day: 'day', per_month: 'month' },
    separator: ', ',
    number: (n: number) => String(n),
  },
  dashboard: {
    units: { per_minute: 'min', per_day: 'day', per_month: 'month' },
    separator: ' · ',
    number: (n: number) => n.toLocaleString(),
  },
} as const;

const WINDOWS: readonly Window[] = ['per_minute', 'per_day', 'per_month'];

/**
 * `120/minute, 10000/day (default)`, or `none` when no window has a limit. `defaults` undefined:
 * the API did not say them (an older server), and a key with no limit of its own reads
 * `defaults`: whatever GATEHOUSE_DEFAULT_PER_* sets applies to it (docs/limits.md).
 */
export function limitsText(
  own: LimitsByWindow,
  defaults: LimitsByWindow | null | undefined,
  style: keyof typeof WORDING,
): string {
  const { units, separator, number } = WORDING[style];
  const parts = WINDOWS.flatMap((window) => {
    const mine = own[window];
    if (typeof mine === 'number') return [`${number(mine)}/${units[window]}`];
    const fallback = defaults?.[window];
    return typeof fallback === 'number' ? [`${number(fallback)}/${units[window]} (default)`] : [];
  });
  if (parts.length > 0) return parts.join(separator);
  return defaults === undefined ? 'defaults' : 'none';
}
