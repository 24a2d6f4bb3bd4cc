import type { ErrorCode } from '../errors.ts';
import { CliFailure } from './output.ts';

/** What the server answers for an id or slug that names nothing, worded as it words it. */
const UNKNOWN = {
  endpoint: ['endpoint_not_found', (slug) => `Endpoint "${slug}" not found`],
  app: ['app_not_found', (slug) => `App "${slug}" not found`],
  key: ['key_not_found', (id) => `API key "${id}" not found`],
  webhook: ['not_found', (id) => `Webhook subscription "${id}" not found`],
  delivery: ['not_found', (id) => `Delivery "${id}" not found`],
  token: ['not_found', (id) => `No management token ${id} of yours`],
} as const satisfies Record<string, readonly [ErrorCode, (value: string) => string]>;

/**
 * An id or slug the user typed, as one segment of a management API path. '' would leave
 * `/admin/v1/keys/`, the list, and so would `.` (a URL drops it as a dot segment, percent-encoded
 * or not; `..` goes up a level): `keys show .` printed the key list as if it were one key. None
 * names anything, so each is the answer the server gives an unknown one, as the typed client does.
 */
export function pathSegment(value: string, kind: keyof typeof UNKNOWN): string {
  if (value === '' || value === '.' || value === '..') {
    const [code, message] = UNKNOWN[kind];
    throw new CliFailure({ success: false, error: message(value), code });
  }
  return encodeURIComponent(value);
}
