import type { UnlistedEndpoint } from './endpointTypes.js';

/**
 * Declares an endpoint the table does not list, so that it type-checks as `ScheduleOptions.endpoint`:
 * `unlisted('POST /api/v1/new-thing')`. At run time it is the string itself; the scheduler charges it the
 * conservative default (`unknownEndpointWeight`) unless the request names `weight`, and under
 * `strictEndpoints` it must name `pool` and `weight` (see UnknownEndpointError).
 */
export function unlisted(endpoint: string): UnlistedEndpoint {
  return endpoint as UnlistedEndpoint;
}
