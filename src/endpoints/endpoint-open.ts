import { ApiError } from '../errors.ts';
import type { EndpointRuntime } from './endpoint-service.ts';

/** Messages naming the endpoint, for a caller that cannot see which one was called (an App step). */
export interface ClosedEndpointMessages {
  inactive(slug: string): string;
  expired(slug: string): string;
}

/**
 * Refuses traffic to an endpoint its owner has closed, in the data API's words: deactivated
 * (403 endpoint_inactive) or past its subscription's `expires_at` (403 subscription_expired).
 * The data API checks it for every call, an import for every batch (dry run too), an App for
 * every step that names an endpoint (with `messages`). An open endpoint costs no allocation.
 */
export function refuseClosedEndpoint(endpoint: EndpointRuntime, messages?: ClosedEndpointMessages): void {
  if (!endpoint.active)
    throw new ApiError('endpoint_inactive', messages && { message: messages.inactive(endpoint.slug) });
  if (endpoint.expiresAt !== null && endpoint.expiresAt <= Date.now())
    throw new ApiError('subscription_expired', messages && { message: messages.expired(endpoint.slug) });
}
