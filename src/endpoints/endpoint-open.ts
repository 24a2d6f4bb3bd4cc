import { ApiError } from '../errors.ts';
import type { EndpointRuntime } from './endpoint-service.ts';

/**
 * Refuses traffic to an endpoint its owner has closed, in the data API's words: deactivated
 * (403 endpoint_inactive) or past its subscription's `expires_at` (403 subscription_expired).
 * The data API checks it for every call, an import for every batch (dry run too).
 */
export function refuseClosedEndpoint(endpoint: EndpointRuntime): void {
  if (!endpoint.active) throw new ApiError('endpoint_inactive');
  if (endpoint.expiresAt !== null && endpoint.expiresAt <= Date.now())
    throw new ApiError('subscription_expired');
}
