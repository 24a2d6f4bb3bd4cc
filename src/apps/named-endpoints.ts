/**
 * Which data endpoints an app's steps name, read without compiling the definition (and without
 * its dependencies, so that the dashboard and the CLI can ask too).
 */

/** The endpoints the steps of `routes` (a definition's routes, as sent or stored) name. */
export function endpointsOfRoutes(routes: unknown): Set<string> {
  const named = new Set<string>();
  if (!Array.isArray(routes)) return named;
  for (const route of routes) {
    const steps = (route as { steps?: unknown } | null)?.steps;
    if (!Array.isArray(steps)) continue;
    for (const step of steps) {
      const endpoint = (step as { endpoint?: unknown } | null)?.endpoint;
      if (typeof endpoint === 'string') named.add(endpoint);
    }
  }
  return named;
}

/**
 * The data endpoints a stored definition's steps name (`{"routes":[{"steps":[{"endpoint":…}]}]}`):
 * endpoint deletion asks which apps still use an endpoint.
 */
export function endpointsNamedIn(definition: string): Set<string> {
  let parsed: unknown;
  try {
    parsed = JSON.parse(definition);
  } catch {
    return new Set();
  }
  return endpointsOfRoutes((parsed as { routes?: unknown } | null)?.routes);
}

/**
 * Of the endpoints `routes` name, those a live call could not use: never deployed, or inactive
 * (live calls whose steps reach them answer 403), sorted.
 */
export function notLiveEndpoints(
  routes: unknown,
  endpoints: ReadonlyArray<{ slug: string; live_version: number | null; active: boolean }>,
): string[] {
  const bySlug = new Map(endpoints.map((e) => [e.slug, e]));
  return [...endpointsOfRoutes(routes)]
    .filter((slug) => {
      const endpoint = bySlug.get(slug);
      return endpoint !== undefined && (endpoint.live_version === null || !endpoint.active);
    })
    .sort();
}
